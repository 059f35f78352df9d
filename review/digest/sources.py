"""What the digest says about sources: crawls that failed, were blocked or refused by robots.txt,
and sources that were not crawled as often as their schedule asks.

A request disallowed by robots.txt is information (the site asked us not to), not a problem; a
robots.txt that could not be read is (the host stays disallowed until it can be).
A crawl's stats are the keys of ``storage.crawl_stats``: ``synthwatch/refused/<reason>`` per
refused request, ``synthwatch/blocked`` per CAPTCHA or WAF page, ``synthwatch/errors`` per failed
request or item, ``synthwatch/robots/unreachable`` per robots.txt that could not be read (the host
is then disallowed: robots fails closed). A schedule's expected runs are counted by
``storage.periods``, the scheduler's own arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from storage import crawl_stats
from storage.crawls import captures_per_run
from storage.errors import ScheduleError
from storage.models import CrawlRun
from storage.periods import SourceSchedule, fire_count
from storage.schedule import ledger_problems
from storage.sources import approval_state, source_names, sources_not_suspended

MAX_ERROR_CHARS = 300
# A source crawled fewer than this fraction of the times its schedule asked is reported.
MIN_RUN_FRACTION = 0.5
# Enough to tell "ran" from "did not"; a cron firing every minute needs no exact count.
MAX_COUNTED_FIRES = 500
ROBOTS_KEYS = frozenset(
    {
        crawl_stats.refused_key("robots"),
        crawl_stats.refused_key("crawl_delay"),
        crawl_stats.SCRAPY_ROBOTS_FORBIDDEN,
    }
)
# The scheduler's job id of a source's crawls (crawlers.job_state.job_id) starts so.
CRAWL_JOB_PREFIX = "crawl:"
_APPROVAL_NOTES = {
    "unapproved": "not approved by a legal reviewer yet",
    "rescoped": "its widened scope waits for a legal reviewer's approval",
}


@dataclass(frozen=True, slots=True)
class SourceActivity:
    """What the crawls of one source did in the week."""

    source_id: str
    source_name: str
    runs: int
    last_status: str
    failed_runs: int
    interrupted_runs: int
    pages: int
    robots: int
    robots_unreachable: int
    blocked: int
    refused: int
    error_count: int
    errors: tuple[str, ...]

    @property
    def has_problems(self) -> bool:
        """Say whether a run failed or stopped, a robots.txt was unreadable, or a block page or
        errors got in; robots.txt disallowing pages is no problem."""
        return bool(
            self.failed_runs
            or self.interrupted_runs
            or self.robots_unreachable
            or self.blocked
            or self.error_count
        )

    @property
    def problem_notes(self) -> tuple[str, ...]:
        """Return what to look at, e.g. ("1 failed run", "3 errors")."""
        return tuple(
            note
            for count, note in (
                (self.failed_runs, _counted(self.failed_runs, "failed run")),
                (self.interrupted_runs, _counted(self.interrupted_runs, "interrupted run")),
                (
                    self.robots_unreachable,
                    f"robots.txt unreachable {_counted(self.robots_unreachable, 'time')}"
                    " (the host stays disallowed until it answers)",
                ),
                (
                    self.blocked,
                    f"{_counted(self.blocked, 'block page')} (CAPTCHA or WAF, not evaded)",
                ),
                (self.error_count, _counted(self.error_count, "error")),
            )
            if count
        )

    @property
    def information(self) -> tuple[str, ...]:
        """Return what the crawls rightly left alone: robots.txt disallows, guard refusals."""
        return tuple(
            note
            for count, note in (
                (self.robots, f"{_counted(self.robots, 'request')} disallowed by robots.txt"),
                (
                    self.refused,
                    f"{_counted(self.refused, 'request')} refused by the open-web guard"
                    " (out of scope, .onion, login pages)",
                ),
            )
            if count
        )


@dataclass(frozen=True, slots=True)
class MissedSchedule:
    """A source crawled fewer times than its schedule asked for in the week."""

    source_id: str
    source_name: str
    schedule: str
    expected: int
    runs: int
    note: str


@dataclass(frozen=True, slots=True)
class JobProblem:
    """A scheduled job's period that failed or was skipped, its job named for a reader."""

    job: str
    period_start: datetime
    status: str
    detail: str


@dataclass(frozen=True, slots=True)
class SourceReport:
    """The sources part of a digest."""

    activity: tuple[SourceActivity, ...]
    missed: tuple[MissedSchedule, ...]
    ledger: tuple[JobProblem, ...]

    @property
    def problems(self) -> int:
        """Count the sources and scheduled jobs with something to look at."""
        return sum(a.has_problems for a in self.activity) + len(self.missed) + len(self.ledger)


def source_report(
    session: Session,
    runs: list[CrawlRun],
    *,
    start: datetime,
    end: datetime,
    now: datetime,
    exclude_job: str | None = None,
) -> SourceReport:
    """Summarise the week's crawl runs, missed schedules and failed scheduled jobs."""
    activity = source_activity(session, runs)
    counts = {a.source_id: a.runs for a in activity}
    names = dict(source_names(session))
    return SourceReport(
        activity=activity,
        missed=missed_schedules(session, counts, start=start, end=min(end, now)),
        ledger=tuple(
            JobProblem(job_label(p.job_id, names), p.period_start, p.status, p.detail)
            for p in ledger_problems(session, start=start, end=end, exclude_job=exclude_job)
        ),
    )


def job_label(job_id: str, source_names: dict[str, str]) -> str:
    """Return a scheduled job as a reader knows it: ``crawl:shop`` is "crawl of <shop's name>"."""
    if job_id.startswith(CRAWL_JOB_PREFIX):
        source_id = job_id.removeprefix(CRAWL_JOB_PREFIX)
        return f"crawl of {source_names.get(source_id, source_id)}"
    return job_id


def source_activity(session: Session, runs: list[CrawlRun]) -> tuple[SourceActivity, ...]:
    """Summarise crawl runs per source; sources with problems first."""
    pages = captures_per_run(session, [run.id for run in runs])
    by_source: dict[str, list[CrawlRun]] = {}
    for run in runs:
        by_source.setdefault(run.source_id, []).append(run)
    activity = []
    for source_id, source_runs in by_source.items():
        stats = [run.stats or {} for run in source_runs]
        activity.append(
            SourceActivity(
                source_id=source_id,
                source_name=source_runs[0].source.name,
                runs=len(source_runs),
                last_status=source_runs[-1].status,
                failed_runs=sum(r.status == "failed" for r in source_runs),
                interrupted_runs=sum(r.status == "interrupted" for r in source_runs),
                pages=sum(pages.get(r.id, 0) for r in source_runs),
                robots=sum(_count(s, lambda k: k in ROBOTS_KEYS) for s in stats),
                robots_unreachable=sum(
                    _count(s, crawl_stats.ROBOTS_UNREACHABLE.__eq__) for s in stats
                ),
                blocked=sum(_count(s, crawl_stats.BLOCKED.__eq__) for s in stats),
                refused=sum(_count(s, _other_refusal) for s in stats),
                error_count=sum(_count(s, crawl_stats.ERRORS.__eq__) for s in stats),
                errors=tuple(
                    f"run {r.id}: {r.error[:MAX_ERROR_CHARS]}"
                    for r in source_runs
                    if r.error is not None
                ),
            )
        )
    return tuple(sorted(activity, key=lambda a: (not a.has_problems, a.source_name, a.source_id)))


def missed_schedules(
    session: Session, runs: dict[str, int], *, start: datetime, end: datetime
) -> tuple[MissedSchedule, ...]:
    """Return the sources crawled less than their schedule asked for in ``[start, end)``.

    Suspended sources are meant not to run and are left out; a source registered during the
    week is judged from its registration on.
    """
    missed = []
    for source in sources_not_suspended(session):
        schedule = source.config.get("schedule")
        window_start = max(start, source.created_at)
        if not isinstance(schedule, str) or window_start >= end:
            continue
        expected = expected_runs(SourceSchedule(source.id, schedule), window_start, end)
        done = runs.get(source.id, 0)
        if expected == 0 or (done and done >= expected * MIN_RUN_FRACTION):
            continue
        state = approval_state(session, source.id, source.scope_fingerprint)
        missed.append(
            MissedSchedule(
                source.id, source.name, schedule, expected, done, _APPROVAL_NOTES.get(state, "")
            )
        )
    return tuple(missed)


def expected_runs(source: SourceSchedule, start: datetime, end: datetime) -> int:
    """Return how many times a source's schedule fires in ``[start, end)``; 0 when unreadable."""
    try:
        return fire_count(source, start, end, limit=MAX_COUNTED_FIRES)
    except ScheduleError:
        return 0


def _other_refusal(key: str) -> bool:
    return crawl_stats.is_refusal_key(key) and key not in ROBOTS_KEYS


def _count(stats: dict[str, Any], wanted: Callable[[str], bool]) -> int:
    return sum(
        value
        for key, value in stats.items()
        if wanted(key) and isinstance(value, int) and not isinstance(value, bool)
    )


def _counted(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"
