"""Working days: Monday to Friday, less the configured holidays, plus make-up weekend days (调休).

Deadlines are counted in local dates (Asia/Shanghai) and keep the local time of day: picked on
Friday 15:00 with 5 working days to make contact, the bank has until the next Friday 15:00. A
moment on a non-working day counts from that day, so Saturday 10:00 + 1 is Monday 10:00.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import current_app

# No real calendar has this many non-working days in a row; a bound keeps a bad list from looping.
MAX_DAYS_OFF_IN_A_ROW = 60


@dataclass(frozen=True)
class WorkingCalendar:
    holidays: frozenset[date] = frozenset()
    working_weekends: frozenset[date] = frozenset()
    timezone: str = "Asia/Shanghai"

    @classmethod
    def of(cls, holidays: Iterable[date] = (), working_weekends: Iterable[date] = (),
           timezone: str = "Asia/Shanghai") -> WorkingCalendar:
        return cls(frozenset(holidays), frozenset(working_weekends), timezone)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_working_day(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day.weekday() < 5 or day in self.working_weekends

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.zone).date()

    def add_working_days(self, moment: datetime, days: int) -> datetime:
        """`moment` moved by `days` working days (backwards when negative), same local time."""
        if moment.tzinfo is None:
            raise ValueError("naive datetime given; use timezone-aware UTC")
        local = moment.astimezone(self.zone)
        day, step, left = local.date(), (1 if days >= 0 else -1), abs(days)
        off_in_a_row = 0
        while left:
            day += timedelta(days=step)
            if self.is_working_day(day):
                left -= 1
                off_in_a_row = 0
            else:
                off_in_a_row += 1
                if off_in_a_row > MAX_DAYS_OFF_IN_A_ROW:
                    raise ValueError("the holiday list leaves no working day in two months")
        return datetime.combine(day, local.timetz().replace(tzinfo=None),
                                tzinfo=self.zone).astimezone(UTC)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """Working days after `start`'s local date up to and including `end`'s (0 if not after)."""
        first, last = self.local_date(start), self.local_date(end)
        count, day = 0, first
        while day < last:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count


def calendar() -> WorkingCalendar:
    """The calendar configured for this app (HOLIDAYS, WORKING_WEEKENDS, DISPLAY_TIMEZONE)."""
    config = current_app.config
    key = (config["HOLIDAYS"], config.get("WORKING_WEEKENDS", ()), config["DISPLAY_TIMEZONE"])
    cached = current_app.extensions.get("working_calendar")
    if cached is None or cached[0] != key:
        cached = (key, WorkingCalendar.of(*key))
        current_app.extensions["working_calendar"] = cached
    return cached[1]
