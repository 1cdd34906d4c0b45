"""Working days (DESIGN section 3): properties of `WorkingCalendar` over random moments, day
counts, holiday lists and make-up weekend days (调休), a few worked examples, and the settings
that configure the calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from matchmaker import create_app
from matchmaker.claims.calendar import WorkingCalendar, calendar
from matchmaker.config import ConfigError

SHANGHAI = ZoneInfo("Asia/Shanghai")
ZONES = [UTC, SHANGHAI, ZoneInfo("America/New_York"), ZoneInfo("Europe/London")]
WINDOW = 60  # holidays and make-up days are drawn within this many days of the moment

moments = st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31),
                       timezones=st.sampled_from(ZONES), allow_imaginary=False)
day_counts = st.integers(min_value=-30, max_value=30)
offsets = st.frozensets(st.integers(min_value=-WINDOW, max_value=WINDOW), max_size=25)


@st.composite
def calendars_and_moments(draw, weekend_makeups: bool = True):
    """A moment and a calendar whose holidays and make-up weekends lie around it."""
    moment = draw(moments)
    start = moment.astimezone(SHANGHAI).date()
    holidays = {start + timedelta(days=k) for k in draw(offsets)}
    working_weekends = set()
    if weekend_makeups:
        working_weekends = {day for day in (start + timedelta(days=k) for k in draw(offsets))
                            if day.weekday() >= 5}
    return WorkingCalendar.of(holidays, working_weekends), moment


def local(moment: datetime) -> datetime:
    return moment.astimezone(SHANGHAI)


def shanghai(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


# --- properties ---------------------------------------------------------------------------------


@given(calendars_and_moments(), day_counts)
# 01:00 on the night New York leaves daylight saving happens twice: an aware datetime in such a
# fold never compares equal to one in another zone (PEP 495), so instants are compared in UTC.
@example((WorkingCalendar.of(set(), set()),
          datetime(2024, 11, 3, 1, 0, tzinfo=ZoneInfo("America/New_York"))), 0)
def test_result_is_a_working_day_at_the_same_local_time(case, days):
    cal, moment = case
    result = cal.add_working_days(moment, days)
    assert result.tzinfo is not None and result.utcoffset() == timedelta(0)
    assert local(result).time() == local(moment).time()
    if days == 0:
        assert result == moment.astimezone(UTC)
    else:
        assert cal.is_working_day(cal.local_date(result))


@given(calendars_and_moments(), day_counts, day_counts)
def test_strictly_monotone_in_days(case, a, b):
    cal, moment = case
    assume(a != b)
    a, b = sorted((a, b))
    assert cal.add_working_days(moment, a) < cal.add_working_days(moment, b)


@given(calendars_and_moments(), st.integers(min_value=1, max_value=30))
def test_forwards_is_later_and_backwards_is_earlier(case, days):
    cal, moment = case
    assert cal.add_working_days(moment, days) > moment
    assert cal.add_working_days(moment, -days) < moment


@given(calendars_and_moments(), st.integers(min_value=0, max_value=30))
def test_working_days_between_counts_back_what_was_added(case, days):
    cal, moment = case
    assert cal.working_days_between(moment, cal.add_working_days(moment, days)) == days
    # Not after the start: zero.
    assert cal.working_days_between(moment, cal.add_working_days(moment, -days)) == 0


@given(calendars_and_moments(), day_counts)
def test_round_trip_from_a_working_day(case, days):
    cal, moment = case
    assume(cal.is_working_day(cal.local_date(moment)))
    there = cal.add_working_days(moment, days)
    # Same instant (timestamps: Python never finds an ambiguous DST time equal across zones).
    assert cal.add_working_days(there, -days).timestamp() == moment.timestamp()


@given(calendars_and_moments(), day_counts)
def test_round_trip_from_a_day_off_lands_on_a_working_day(case, days):
    """From a day off, going n and back n lands on the nearest working day in the direction of
    travel's opposite (not on the day off itself)."""
    cal, moment = case
    assume(days != 0 and not cal.is_working_day(cal.local_date(moment)))
    back = cal.add_working_days(cal.add_working_days(moment, days), -days)
    assert cal.is_working_day(cal.local_date(back))
    assert local(back).time() == local(moment).time()
    assert (back > moment) == (days < 0)


@given(calendars_and_moments(weekend_makeups=False), day_counts)
def test_weekends_are_skipped(case, days):
    cal, moment = case
    assume(days != 0)
    result = cal.add_working_days(moment, days)
    assert cal.local_date(result).weekday() < 5
    assert cal.local_date(result) not in cal.holidays


@given(calendars_and_moments(), st.integers(min_value=1, max_value=30), st.data())
def test_a_holiday_in_the_span_pushes_the_deadline_by_one_working_day(case, days, data):
    cal, moment = case
    start, end = cal.local_date(moment), cal.local_date(cal.add_working_days(moment, days))
    span = [start + timedelta(days=k) for k in range(1, (end - start).days + 1)]
    working = [day for day in span if cal.is_working_day(day)]
    assert len(working) == days
    holiday = data.draw(st.sampled_from(working), label="holiday")
    more = WorkingCalendar.of(cal.holidays | {holiday}, cal.working_weekends)
    assert more.add_working_days(moment, days) == cal.add_working_days(moment, days + 1)


@given(calendars_and_moments(), st.integers(min_value=1, max_value=30), st.data())
def test_a_working_weekend_in_the_span_counts(case, days, data):
    cal, moment = case
    deadline = cal.add_working_days(moment, days)
    start, end = cal.local_date(moment), cal.local_date(deadline)
    weekends = [start + timedelta(days=k) for k in range(1, (end - start).days)
                if (start + timedelta(days=k)).weekday() >= 5
                and not cal.is_working_day(start + timedelta(days=k))]
    assume(weekends)
    makeup = data.draw(st.sampled_from(weekends), label="make-up day")
    more = WorkingCalendar.of(cal.holidays - {makeup}, cal.working_weekends | {makeup})
    earlier = more.add_working_days(moment, days)
    assert earlier < deadline
    assert more.working_days_between(moment, deadline) == days + 1
    # The n-th working day is now the later of the make-up day and the old (n-1)-th.
    previous = cal.local_date(cal.add_working_days(moment, days - 1))
    assert more.local_date(earlier) == max(previous, makeup)


@given(moments, day_counts)
def test_naive_datetimes_are_refused(moment, days):
    with pytest.raises(ValueError, match="naive"):
        WorkingCalendar().add_working_days(moment.replace(tzinfo=None), days)


# --- examples -----------------------------------------------------------------------------------


def test_friday_afternoon_plus_five_is_next_friday_afternoon():
    cal = WorkingCalendar()
    result = cal.add_working_days(shanghai(2026, 9, 4, 15, 0), 5)
    assert local(result) == shanghai(2026, 9, 11, 15, 0)
    assert result.tzinfo == UTC and result.hour == 7


def test_saturday_plus_one_is_monday():
    cal = WorkingCalendar()
    assert local(cal.add_working_days(shanghai(2026, 9, 5, 10, 0), 1)) == shanghai(2026, 9, 7, 10)
    # Going back from a weekend lands on Friday.
    assert local(cal.add_working_days(shanghai(2026, 9, 5, 10, 0), -1)) == shanghai(2026, 9, 4, 10)


def test_national_day_week_is_skipped():
    holidays = [date(2026, 10, d) for d in range(1, 8)]
    cal = WorkingCalendar.of(holidays)
    assert local(cal.add_working_days(shanghai(2026, 9, 30, 9, 30), 1)) == \
        shanghai(2026, 10, 8, 9, 30)
    assert local(cal.add_working_days(shanghai(2026, 10, 8, 9, 30), -1)) == \
        shanghai(2026, 9, 30, 9, 30)
    # With 调休 on Saturday 10-10, Thursday + 2 is that Saturday.
    makeup = WorkingCalendar.of(holidays, [date(2026, 10, 10)])
    assert local(makeup.add_working_days(shanghai(2026, 10, 8, 9, 30), 2)) == \
        shanghai(2026, 10, 10, 9, 30)
    assert makeup.working_days_between(shanghai(2026, 9, 30, 18), shanghai(2026, 10, 12, 8)) == 4


def test_a_holiday_listed_on_a_make_up_day_is_a_holiday():
    day = date(2026, 10, 10)
    assert not WorkingCalendar.of([day], [day]).is_working_day(day)


def test_utc_moment_counts_in_local_dates():
    """Friday 20:00 UTC is already Saturday 04:00 in Shanghai: + 1 is Monday 04:00 local."""
    moment = datetime(2026, 9, 4, 20, 0, tzinfo=UTC)
    result = WorkingCalendar().add_working_days(moment, 1)
    assert local(result) == shanghai(2026, 9, 7, 4, 0)


def test_a_holiday_list_without_working_days_is_refused():
    start = date(2026, 1, 1)
    cal = WorkingCalendar.of(start + timedelta(days=k) for k in range(1, 200))
    with pytest.raises(ValueError, match="no working day"):
        cal.add_working_days(shanghai(2026, 1, 1, 9), 1)


def test_working_days_between_is_zero_when_not_after():
    cal = WorkingCalendar()
    moment = shanghai(2026, 9, 7, 9)
    assert cal.working_days_between(moment, moment) == 0
    assert cal.working_days_between(moment, moment - timedelta(days=10)) == 0
    assert cal.working_days_between(moment, datetime.combine(date(2026, 9, 7), time(23),
                                                             tzinfo=SHANGHAI)) == 0


# --- settings -----------------------------------------------------------------------------------


def test_working_weekends_setting(tmp_path, monkeypatch):
    monkeypatch.setenv("HOLIDAYS", "2026-10-01,2026-10-02")
    monkeypatch.setenv("WORKING_WEEKENDS", " 2026-10-10 ; 2026-09-27, ")
    app = create_app({"INSTANCE_PATH": str(tmp_path)})
    assert [d.isoformat() for d in app.config["WORKING_WEEKENDS"]] == ["2026-09-27",
                                                                      "2026-10-10"]
    with app.app_context():
        cal = calendar()
        assert cal.working_weekends == {date(2026, 9, 27), date(2026, 10, 10)}
        assert cal.holidays == {date(2026, 10, 1), date(2026, 10, 2)}
        assert cal.timezone == "Asia/Shanghai"
        assert calendar() is cal  # cached while the settings stay the same
        app.config["WORKING_WEEKENDS"] = ()
        assert calendar().working_weekends == frozenset()

    monkeypatch.delenv("WORKING_WEEKENDS")
    assert create_app({"INSTANCE_PATH": str(tmp_path)}).config["WORKING_WEEKENDS"] == ()
    monkeypatch.setenv("WORKING_WEEKENDS", "2026-10-32")
    with pytest.raises(ConfigError, match="WORKING_WEEKENDS"):
        create_app({"INSTANCE_PATH": str(tmp_path)})
