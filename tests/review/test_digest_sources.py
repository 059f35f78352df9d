"""The digest's sources part: schedules count as the scheduler fires them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from review.digest.sources import expected_runs, missed_schedules
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
