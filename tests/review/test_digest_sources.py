"""The digest's sources part: schedules count as the scheduler fires them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from review.digest.sources import SourceActivity, expected_runs, job_label, missed_schedules
from storage.db import transaction
from storage.periods import SourceSchedule
from storage.sources import upsert_source
from tests.conftest import NOW_WEEK

START, END = NOW_WEEK


def test_a_sunday_cron_source_that_never_ran_is_reported_missed(
    factory: sessionmaker[Session],
) -> None:
    # crontab's 7 is Sunday; APScheduler's from_crontab alone refuses it (weekday 0 = Monday).
    with transaction(factory) as session:
        upsert_source(
            session,
            source_id="sunday",
            name="Sunday shop",
            config={"schedule": "cron:0 6 * * 7"},
            scope_fingerprint="d" * 64,
            now=START - timedelta(days=30),
        )
    with factory() as session:
        missed = missed_schedules(session, {}, start=START, end=END)

    assert [(m.source_id, m.expected, m.runs) for m in missed] == [("sunday", 1, 0)]


@pytest.mark.parametrize("schedule", ["cron:not a cron", "weekly", "interval:0h"])
def test_an_unreadable_schedule_expects_no_runs(schedule: str) -> None:
    assert expected_runs(SourceSchedule("shop", schedule), START, END) == 0


def _activity(**counts: int) -> SourceActivity:
    numbers = {
        key: counts.get(key, 0)
        for key in (
            "failed_runs",
            "interrupted_runs",
            "robots",
            "robots_unreachable",
            "blocked",
            "refused",
            "error_count",
        )
    }
    return SourceActivity("shop", "Invented shop", 1, "finished", pages=4, errors=(), **numbers)


def test_robots_txt_disallowing_pages_is_information_not_a_problem() -> None:
    polite = _activity(robots=12, refused=2)
    assert not polite.has_problems and polite.problem_notes == ()
    assert polite.information == (
        "12 requests disallowed by robots.txt",
        "2 requests refused by the open-web guard (out of scope, .onion, login pages)",
    )
    # A robots.txt that cannot be read keeps the whole host out: that is worth a look.
    unreadable = _activity(robots_unreachable=1)
    assert unreadable.has_problems
    assert unreadable.problem_notes == (
        "robots.txt unreachable 1 time (the host stays disallowed until it answers)",
    )


def test_scheduled_jobs_are_named_by_their_source() -> None:
    names = {"shop": "Invented shop"}
    assert job_label("crawl:shop", names) == "crawl of Invented shop"
    assert job_label("crawl:gone", names) == "crawl of gone"  # a source since removed
    assert job_label("digest", names) == "digest"
