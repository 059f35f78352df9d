from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.schedule import (
    abandon_periods,
    acquire_lease,
    claim_period,
    finish_period,
    ledger,
    release_lease,
)

TTL = timedelta(seconds=60)


@pytest.fixture(params=["sqlite", "postgresql"])
def session_factory(
    request: pytest.FixtureRequest, engine: Engine
) -> Iterator[sessionmaker[Session]]:
    """Both backends: the lease and the ledger rely on each one's INSERT ... ON CONFLICT."""
    if request.param == "sqlite":
        yield make_session_factory(engine)
        return
    pg_engine = make_engine(request.getfixturevalue("postgres_url"))
    upgrade(pg_engine)
    yield make_session_factory(pg_engine)
    pg_engine.dispose()


@pytest.fixture
def session(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    with session_factory() as session:
        yield session


def test_a_period_is_claimed_once(session: Session, now: datetime) -> None:
    first = claim_period(session, job_id="crawl:shop", period_start=now, holder="a", now=now)
    again = claim_period(session, job_id="crawl:shop", period_start=now, holder="b", now=now)
    assert first is not None and again is None
    finish_period(session, first, status="finished", now=now, detail="ok")
    assert [(row.claimed_by, row.status) for row in ledger(session, "crawl:shop")] == [
        ("a", "finished")
    ]


def test_another_period_or_job_is_claimed_separately(session: Session, now: datetime) -> None:
    assert claim_period(session, job_id="crawl:shop", period_start=now, holder="a", now=now)
    later = now + timedelta(days=1)
    assert claim_period(session, job_id="crawl:shop", period_start=later, holder="a", now=now)
    assert claim_period(session, job_id="crawl:other", period_start=now, holder="a", now=now)


def test_a_held_lease_makes_the_second_holder_wait(session: Session, now: datetime) -> None:
    assert acquire_lease(session, name="scheduler", holder="a", now=now, ttl=TTL)
    assert not acquire_lease(session, name="scheduler", holder="b", now=now + TTL / 2, ttl=TTL)
    assert acquire_lease(session, name="scheduler", holder="a", now=now + TTL / 2, ttl=TTL)


def test_an_expired_lease_is_taken_over(session: Session, now: datetime) -> None:
    assert acquire_lease(session, name="scheduler", holder="a", now=now, ttl=TTL)
    assert acquire_lease(session, name="scheduler", holder="b", now=now + 2 * TTL, ttl=TTL)
    assert not acquire_lease(session, name="scheduler", holder="a", now=now + 2 * TTL, ttl=TTL)


def test_a_released_lease_is_free(session: Session, now: datetime) -> None:
    assert acquire_lease(session, name="scheduler", holder="a", now=now, ttl=TTL)
    release_lease(session, name="scheduler", holder="a")
    assert acquire_lease(session, name="scheduler", holder="b", now=now, ttl=TTL)


def test_a_claim_rolled_back_with_its_transaction_is_gone(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    # On SQLite a savepoint that is a transaction's first write used to commit on release.
    with session_factory() as session:
        session.begin()
        assert claim_period(session, job_id="crawl:shop", period_start=now, holder="a", now=now)
        session.rollback()
    with session_factory() as session:
        assert ledger(session, "crawl:shop") == []


def test_a_new_holder_closes_periods_a_dead_scheduler_left_running(
    session: Session, now: datetime
) -> None:
    dead = claim_period(session, job_id="crawl:shop", period_start=now, holder="a", now=now)
    mine = claim_period(session, job_id="crawl:other", period_start=now, holder="b", now=now)
    assert dead is not None and mine is not None
    assert abandon_periods(session, holder="b", now=now) == [dead]
    assert (dead.status, mine.status) == ("failed", "running")
    assert dead.detail and "claimed by a" in dead.detail
