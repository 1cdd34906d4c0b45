"""Jinja filters and globals: times in Asia/Shanghai, money in 万元, labels for codes, and
deadlines counted in working days."""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Flask, current_app, url_for

from matchmaker import enums
from matchmaker.accounts.services import can_deactivate
from matchmaker.claims.calendar import calendar
from matchmaker.database import utcnow
from matchmaker.reference import codes


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(_zone(current_app.config["DISPLAY_TIMEZONE"])).strftime(fmt)


@functools.lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def money(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):,.2f} 万元"


def short_local(value: datetime, now: datetime | None = None) -> str:
    """11月27日 14:00 (with the year when it is not this year's)."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])
    local = value.astimezone(zone)
    this_year = (now or utcnow()).astimezone(zone).year
    year = "" if local.year == this_year else f"{local.year}年"
    return f"{year}{local.month}月{local.day}日 {local:%H:%M}"


def countdown(deadline: datetime | None, now: datetime | None = None) -> str:
    """What is left before `deadline` (an aware datetime): "剩余 3 个工作日（截止 11月27日 14:00）"
    on the working calendar, "剩余 5 小时（截止 …）" within a day, or "已超时"."""
    if deadline is None:
        return ""
    now = now or utcnow()
    if deadline <= now:
        return "已超时"
    until = f"（截止 {short_local(deadline, now)}）"
    left = deadline - now
    if left < timedelta(days=1):
        hours = left.total_seconds() / 3600
        if hours < 1:
            return f"剩余 {max(1, math.ceil(left.total_seconds() / 60))} 分钟{until}"
        return f"剩余 {math.floor(hours)} 小时{until}"
    days = calendar().working_days_between(now, deadline)
    if days < 1:  # more than a day away, all of it off work
        return f"剩余 {math.floor(left.total_seconds() / 3600)} 小时{until}"
    return f"剩余 {days} 个工作日{until}"


def working_days_since(start: datetime | None, now: datetime | None = None) -> int:
    """Whole working days after `start`'s local date up to today (0 on the same day)."""
    if start is None:
        return 0
    return calendar().working_days_between(start, now or utcnow())


class UrlPattern:
    """`url_for(endpoint, **{arg: value})` for many values of one integer argument (a table's
    row links), built once: url_for costs tens of microseconds a call, the pattern a format."""

    SENTINEL = 2**62 + 12345  # not an id: it only marks where the value goes

    def __init__(self, endpoint: str, arg: str, **values):
        url = url_for(endpoint, **values, **{arg: self.SENTINEL})
        self.head, found, self.tail = url.partition(str(self.SENTINEL))
        if not found:
            raise ValueError(f"{endpoint}: {arg} does not appear in its URL")

    def __call__(self, value: int) -> str:
        return f"{self.head}{int(value)}{self.tail}"


def register(app: Flask) -> None:
    app.add_template_global(UrlPattern, "url_pattern")
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(money, "money")
    app.add_template_filter(codes.region_label, "region_label")
    app.add_template_filter(codes.category_label, "category_label")
    app.add_template_filter(countdown, "countdown")
    app.add_template_global(countdown, "countdown")
    app.add_template_filter(working_days_since, "working_days_since")
    app.add_template_global(enums, "enums")
    # Whether the logged-in user may 停用/启用 an account: the pages show the switch only then.
    app.add_template_global(can_deactivate, "can_deactivate")
