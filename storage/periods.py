"""A source's schedule: its grammar, APScheduler triggers, period identity and expected runs.

A schedule is `interval:<n><s|m|h|d|w>` or `cron:<5 crontab fields>`; the crawler validates
sources with `parse_schedule`, the scheduler fires `trigger_for` and names `period_start`, and
the digest counts `fire_count` to tell a source that missed its runs. One grammar for all three,
so that they never disagree on what a schedule means (crontab weekdays above all).

A period is the latest scheduled time at or before a moment, to the second: a function of the
schedule and the clock only, so every scheduler process and every restart names it alike.
Interval schedules run on a fixed grid (the epoch, plus a stable per-source offset, plus
multiples of the interval), so that processes agree and a hundred daily sources don't all start
at midnight. Cron schedules are crontab lines in UTC.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from storage.errors import ScheduleError


class Scheduled(Protocol):
    """Anything with an id and a schedule string, such as a `SourceConfig`."""

    @property
    def id(self) -> str: ...
    @property
    def schedule(self) -> str: ...


@dataclass(frozen=True, slots=True)
class SourceSchedule:
    """A source's id and schedule string, for callers that hold no `SourceConfig`."""

    id: str
    schedule: str


INTERVAL = re.compile(r"^interval:([1-9][0-9]*)([smhdw])$")

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# How far back to look for a cron line's latest time; 8 years covers "0 0 29 2 *" over 2100.
CRON_LOOKBACK = (
    timedelta(minutes=1),
    timedelta(hours=1),
    timedelta(days=1),
    timedelta(days=32),
    timedelta(days=367),
    timedelta(days=8 * 366),
)
SECOND = timedelta(seconds=1)
CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
NUMERIC_WEEKDAYS = re.compile(r"^(\*|[0-9]+)(?:-([0-9]+))?(?:/([0-9]+))?$")
GRAMMAR = "expected 'interval:<n><s|m|h|d|w>' or 'cron:<5 crontab fields>'"


def parse_schedule(value: str) -> str:
    """Return a schedule string unchanged if it is valid; raise `ScheduleError` saying why not."""
    if value.startswith("interval:"):
        if not INTERVAL.match(value):
            raise ScheduleError(GRAMMAR)
    elif value.startswith("cron:"):
        try:
            crontab_trigger(value.removeprefix("cron:").strip())
        except ValueError as exc:
            raise ScheduleError(f"{GRAMMAR}: {exc}") from exc
    else:
        raise ScheduleError(GRAMMAR)
    return value


class GridIntervalTrigger(IntervalTrigger):
    """An interval trigger that stays on its grid (start_date + k x interval) after any run.

    IntervalTrigger counts from the previous fire time, so one off-grid run (a catch-up started
    at once) would shift every later run and its period.
    """

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        after = now
        if previous_fire_time is not None:
            after = max(now, previous_fire_time + timedelta(microseconds=1))
        step: timedelta = self.interval
        return self.start_date + -((self.start_date - after) // step) * step


def trigger_for(source: Scheduled) -> BaseTrigger:
    """Return the APScheduler trigger of a source's validated schedule string."""
    grid = _interval_grid(source)
    if grid is not None:
        step, anchor = grid
        return GridIntervalTrigger(
            seconds=int(step.total_seconds()), start_date=anchor, timezone=UTC
        )
    return crontab_trigger(source.schedule.removeprefix("cron:").strip())


def crontab_trigger(expr: str) -> CronTrigger:
    """Return the UTC trigger of a crontab line whose weekdays count as crontab's (0, 7 = Sun).

    APScheduler 3's `from_crontab` counts weekdays from Monday = 0 (its issue 286), so that
    `0 6 * * 1` would fire on Tuesdays; numeric weekdays are turned into names first.
    """
    fields = expr.split()
    if len(fields) == 5:
        fields[4] = _weekday_names(fields[4])
    return CronTrigger.from_crontab(" ".join(fields), timezone=UTC)


def _weekday_names(field: str) -> str:
    """Spell a crontab weekday field with names: `1-5` -> `mon,...,fri`, `*/2` -> `sun,tue,...`."""
    if field == "*":
        return field
    days: list[str] = []
    for item in field.split(","):
        found = NUMERIC_WEEKDAYS.match(item)
        if found is None:
            days.append(item)  # a name means the same day to both
            continue
        start, stop, step = found.groups()
        first = 0 if start == "*" else int(start)
        last = int(stop) if stop else (6 if start == "*" or step else first)
        if last > 7 or first > last or step == "0":
            days.append(item)  # invalid: APScheduler names the error
            continue
        days += [CRON_DAYS[day % 7] for day in range(first, last + 1, int(step or 1))]
    return ",".join(dict.fromkeys(days))


def period_start(source: Scheduled, now: datetime) -> datetime | None:
    """Return the source's latest scheduled time at or before `now`, to the second."""
    grid = _interval_grid(source)
    if grid is not None:
        step, anchor = grid
        return anchor + ((now - anchor) // step) * step
    trigger = trigger_for(source)
    for window in CRON_LOOKBACK:
        fire = trigger.get_next_fire_time(None, now - window)
        if fire is None or fire > now:
            continue
        while (later := trigger.get_next_fire_time(None, fire + SECOND)) and later <= now:
            fire = later
        return fire
    return None


def _interval_grid(source: Scheduled) -> tuple[timedelta, datetime] | None:
    """Return an interval schedule's step and grid anchor; None for a cron schedule."""
    found = INTERVAL.match(source.schedule)
    if found is None:
        return None
    seconds = int(found.group(1)) * UNIT[found.group(2)]
    digest = hashlib.sha256(source.id.encode()).digest()
    offset = int.from_bytes(digest[:8], "big") % seconds
    return timedelta(seconds=seconds), EPOCH + timedelta(seconds=offset)


def fire_count(source: Scheduled, start: datetime, end: datetime, *, limit: int) -> int:
    """Return how many times the scheduler fires the source in `[start, end)`, at most `limit`.

    The bound keeps a cron line that fires every minute cheap: callers need "ran or not", not
    an exact count. Raises `ScheduleError` for a schedule `parse_schedule` refuses.
    """
    parse_schedule(source.schedule)
    if end <= start:
        return 0
    grid = _interval_grid(source)
    if grid is not None:
        step, anchor = grid
        # Grid times anchor + k * step with start <= time < end: ceil(end) - ceil(start).
        return min(limit, (anchor - start) // step - (anchor - end) // step)
    trigger = trigger_for(source)
    fires, moment = 0, trigger.get_next_fire_time(None, start)
    while moment is not None and moment < end and fires < limit:
        fires += 1
        moment = trigger.get_next_fire_time(moment, moment + SECOND)
    return fires
