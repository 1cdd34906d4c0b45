"""Jinja filters and globals: times in Asia/Shanghai, money in 万元, labels for codes."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Flask, current_app

from matchmaker import enums
from matchmaker.reference import codes


def local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])).strftime(fmt)


def money(value: Decimal | None) -> str:
    if value is None:
        return "—"
    return f"{Decimal(value):,.2f} 万元"


def register(app: Flask) -> None:
    app.add_template_filter(local_time, "local_time")
    app.add_template_filter(money, "money")
    app.add_template_filter(codes.region_label, "region_label")
    app.add_template_filter(codes.category_label, "category_label")
    app.add_template_global(enums, "enums")
