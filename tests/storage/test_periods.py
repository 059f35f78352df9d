"""Schedules: the grammar, periods on a shared grid, crontab weekdays, and expected fire counts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from storage.errors import ScheduleError
from storage.periods import (
    SourceSchedule,
    crontab_trigger,
    fire_count,
    parse_schedule,
    period_start,
    trigger_for,
)
from tests.conftest import NOW, NOW_WEEK

# The expected times below count from NOW: Wednesday 25 November 2026 at noon, in 2026-W48.


def source(source_id: str = "shop", schedule: str = "interval:1d") -> SourceSchedule:
    return SourceSchedule(source_id, schedule)


@pytest.mark.parametrize(
    "schedule",
    ["interval:6h", "interval:2w", "cron:0 6 * * *", "cron:0 6 * * 7", "cron:0 6 * * sun"],
)
def test_valid_schedules_parse_unchanged(schedule: str) -> None:
    assert parse_schedule(schedule) == schedule


@pytest.mark.parametrize(
    ("schedule", "why"),
    [
        ("daily", "expected 'interval:"),
        ("interval:0h", "expected 'interval:"),
        ("interval:6y", "expected 'interval:"),
        ("cron:0 6 * *", "5 crontab fields>': "),
        ("cron:0 6 * * 8", "5 crontab fields>': "),
    ],
)
def test_invalid_schedules_say_what_is_expected(schedule: str, why: str) -> None:
    with pytest.raises(ScheduleError, match=why.replace("*", r"\*")):
        parse_schedule(schedule)


def test_interval_periods_lie_on_a_grid_every_process_shares() -> None:
    shop = source("shop", "interval:6h")
    period = period_start(shop, NOW)
    assert period is not None
    assert period <= NOW < period + timedelta(hours=6) and period.microsecond == 0
    assert period_start(shop, period) == period
    assert period_start(shop, period - timedelta(microseconds=1)) == period - timedelta(hours=6)
    trigger = trigger_for(shop)
    assert trigger.get_next_fire_time(None, NOW) == period + timedelta(hours=6)
    # After an off-grid run (a catch-up), the next run is back on the grid.
    assert trigger.get_next_fire_time(NOW, NOW) == period + timedelta(hours=6)
    # Each source has its own offset in the interval, so they don't all start together.
    offsets = {period_start(source(name, "interval:6h"), NOW) for name in "abcdefgh"}
    assert len(offsets) > 1


@pytest.mark.parametrize(
    ("schedule", "now", "expected"),
    [
        ("cron:0 6 * * *", NOW, datetime(2026, 11, 25, 6, 0, tzinfo=UTC)),
        ("cron:0 6 * * *", datetime(2026, 11, 25, 5, 0, tzinfo=UTC), datetime(2026, 11, 24, 6)),
        ("cron:*/15 * * * *", NOW + timedelta(minutes=7), NOW),
        ("cron:0 6 * * 1", NOW, datetime(2026, 11, 23, 6, 0, tzinfo=UTC)),  # Monday
        ("cron:0 0 * * 0", NOW, datetime(2026, 11, 22, 0, 0, tzinfo=UTC)),  # Sunday
        ("cron:0 6 * * 1-5", datetime(2026, 11, 29, 12, tzinfo=UTC), datetime(2026, 11, 27, 6)),
        ("cron:0 0 29 2 *", NOW, datetime(2024, 2, 29, 0, 0, tzinfo=UTC)),
    ],
)
def test_a_cron_period_is_its_latest_time_at_or_before_now(
    schedule: str, now: datetime, expected: datetime
) -> None:
    assert period_start(source("shop", schedule), now) == expected.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("weekdays", "expected"),
    [("1", "Mon"), ("0", "Sun"), ("7", "Sun"), ("sat", "Sat"), ("5-6", "Fri"), ("*/3", "Sat")],
)
def test_crontab_weekdays_count_from_sunday(weekdays: str, expected: str) -> None:
    fire = crontab_trigger(f"0 6 * * {weekdays}").get_next_fire_time(None, NOW)
    assert fire.strftime("%a") == expected


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        ("interval:1d", 7),
        ("interval:6h", 28),
        ("cron:0 6 * * 1-5", 5),
        ("cron:0 6 * * 7", 1),  # Sunday, as crontab counts (APScheduler alone refuses 7)
        ("cron:0 6 * * 0", 1),
        ("cron:0 6 * * 6,0", 2),
        ("cron:* * * * *", 500),  # bounded: enough to know it should have run
    ],
)
def test_fire_count_in_a_week(schedule: str, expected: int) -> None:
    assert fire_count(source("shop", schedule), *NOW_WEEK, limit=500) == expected


def test_interval_fires_are_the_grid_times_in_the_window() -> None:
    shop = source("shop", "interval:2w")
    start, end = NOW_WEEK
    fires = []
    moment = trigger_for(shop).get_next_fire_time(None, start - timedelta(weeks=4))
    while moment is not None and moment < end:
        fires.append(moment)
        moment = trigger_for(shop).get_next_fire_time(moment, moment)
    inside = sum(start <= fire < end for fire in fires)

    assert fire_count(shop, start, end, limit=500) == inside
    assert fire_count(shop, start, start + timedelta(weeks=2), limit=500) == 1
    assert fire_count(shop, end, start, limit=500) == 0


def test_fire_count_refuses_a_schedule_the_grammar_refuses() -> None:
    with pytest.raises(ScheduleError):
        fire_count(source("shop", "cron:not a cron"), *NOW_WEEK, limit=500)
