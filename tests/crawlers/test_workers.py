"""Distributed crawls on PostgreSQL: a scheduler process queues crawl jobs, workers run them.

The acceptance test of issue 14: three worker processes (two crawls each) and a scheduler
process crawl 30 sources on 30 loopback addresses (127.0.0.2 to 127.0.0.31), plus a 31st source
sharing 127.0.0.2 on a second port (so two sources' jobs contend for one domain lock). Every
period runs exactly once; no host ever has two requests in flight (each server counts its
host's requests in flight); a worker killed with SIGKILL mid-crawl has its jobs finished by the
others with every listing once; the scheduler killed with SIGKILL while or after it queues, and
started again, doubles no period. Timings are shortened (heartbeat 0.5 s, stalled after 2 s,
a lease of 2 s) and the fake analyser stands in for spaCy's pipeline.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from crawlers.dispatch import Dispatcher, apply_queue_schema, make_app, require_queue
from crawlers.errors import CrawlerError
from storage.clock import utcnow
from storage.db import make_engine, make_session_factory
from storage.job_queue import DISPATCHED
from storage.migrate import upgrade
from storage.models import Lease, ScheduleLedger
from tests.crawlers.cluster import (
    Cluster,
    HostLoad,
    MeteredServer,
    build_site,
    overlapping,
    wait_for,
)
from tests.crawlers.harness import Harness
from tests.factories import source_toml

ADDRESSES = tuple(f"127.0.0.{n}" for n in range(2, 32))
SHARED = "site-30"  # on ADDRESSES[0], beside site-0
# The slow sources crawl long enough (12 pages of 0.25 s) to be caught mid-way and killed.
SLOW_SOURCES = {"site-0", "site-1", "site-2", SHARED}
SLOW, FAST = (12, 0.25), (5, 0.02)  # (listings, seconds per listing page)
# Once a year (1 January, UTC): no source reaches a new period while the test runs, so each
# source has exactly one period, the one caught up at start.
YEARLY = "cron:0 0 1 1 *"
LEASE_TTL = 2.0


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, now: object) -> Iterator[Cluster]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    assert apply_queue_schema(engine)
    assert not apply_queue_schema(engine)  # a second --init finds the tables
    harness = Harness(tmp_path, postgres_url, make_session_factory(engine), now)  # type: ignore[arg-type]
    load = HostLoad()
    servers: list[MeteredServer] = []
    expected: dict[str, set[str]] = {}
    text = ""
    # site-30 is served on site-0's address (another port): their jobs share one domain lock.
    placed = [("site-0", ADDRESSES[0]), (SHARED, ADDRESSES[0])]
    placed += [(f"site-{n}", address) for n, address in enumerate(ADDRESSES) if n > 0]
    for source_id, address in placed:
        server = MeteredServer(address, load)
        listings, delay = SLOW if source_id in SLOW_SOURCES else FAST
        expected[source_id] = build_site(server, source_id, listings, delay)
        server.start()
        servers.append(server)
        text += source_toml(
            source_id, server.base_url, index_links="[]", pagination=None, schedule=YEARLY
        )
    sources = harness.write_sources(text)
    harness.register_file(sources)
    running = Cluster(harness, sources, list(servers), load, expected)
    try:
        yield running
    finally:
        running.kill_all()
        for server in servers:
            server.stop()
        engine.dispose()


@pytest.mark.slow
def test_workers_crawl_every_period_once_politely_and_survive_kills(cluster: Cluster) -> None:
    expected, load = cluster.expected, cluster.load
    for name in ("w1", "w2", "w3"):
        cluster.start_worker(name)
    cluster.start_scheduler("sched-1", LEASE_TTL)
    # The first scheduler dies (SIGKILL) as soon as it has queued a period, holding its lease;
    # the second one waits the lease out, catches up what was never claimed, claims nothing twice.
    wait_for(cluster.ledger, 120, "the first period queued")
    cluster.kill("sched-1")
    queued_by_first = len(cluster.ledger())
    cluster.start_scheduler("sched-2", LEASE_TTL)

    # Kill the worker of a slow crawl that is mid-way (its other crawl dies with it).
    wait_for(lambda: cluster.crawling(SLOW_SOURCES, 2), 180, "a slow crawl mid-way")
    found = cluster.crawling(SLOW_SOURCES, 2)
    assert found is not None
    victim, killed_source = found
    killed_at = utcnow()
    cluster.kill(victim)

    def done() -> bool:
        ledger = cluster.ledger()
        return len(ledger) == len(expected) and all(r.status != DISPATCHED for r in ledger)

    wait_for(done, 600, "every period recorded")
    with cluster.factory() as session:
        lease = session.get(Lease, "scheduler")
        assert lease is not None and lease.holder == "sched-2"
    assert cluster.stop("sched-2") == 0
    for name in ("w1", "w2", "w3"):
        if name != victim:
            assert cluster.stop(name) == 0, cluster.log(name)

    ledger = cluster.ledger()
    # Each period exactly once, every one finished, claimed by the two schedulers only.
    assert sorted(r.job_id for r in ledger) == sorted(f"crawl:{s}" for s in expected)
    assert all(r.status == "finished" for r in ledger), [(r.job_id, r.detail) for r in ledger]
    claimed = {r.claimed_by for r in ledger}
    assert claimed <= {"sched-1", "sched-2"} and "sched-1" in claimed
    assert sum(r.claimed_by == "sched-1" for r in ledger) >= queued_by_first
    # No listing lost or doubled: each source's listings are its site's, each with one version.
    for source_id, urls in expected.items():
        found_listings = cluster.listings(source_id)
        assert set(found_listings) == urls, source_id
        assert set(found_listings.values()) == {1}, source_id
    # No period crawled twice: one finished run per source; a killed crawl left one interrupted
    # run, and its retry, on another worker, started after the kill.
    runs = cluster.runs()
    for source_id in expected:
        statuses = [run.status for run in runs[source_id]]
        assert statuses.count("finished") == 1, (source_id, statuses)
        assert set(statuses) <= {"finished", "interrupted"}, (source_id, statuses)
    assert [run.status for run in runs[killed_source]][-2:] == ["interrupted", "finished"]
    assert runs[killed_source][-1].started_at > killed_at
    by_id = {r.job_id: r for r in ledger}
    assert by_id[f"crawl:{killed_source}"].crawl_run_id == runs[killed_source][-1].id
    # Politeness across workers: never two requests at once on one host address.
    assert set(load.peak) == set(ADDRESSES)
    assert max(load.peak.values()) == 1, {h: n for h, n in load.peak.items() if n > 1}
    assert overlapping(cluster.servers) == []
    survivors = [name for name in ("w1", "w2", "w3") if name != victim]
    assert any("stopped sending heartbeats" in cluster.log(name) for name in survivors)


def test_distributed_mode_refuses_sqlite(engine: object) -> None:
    with pytest.raises(CrawlerError, match="needs the store on PostgreSQL"):
        require_queue(engine)  # type: ignore[arg-type]


def test_the_cli_says_distributed_mode_needs_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from synthwatch.cli import main

    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)
    assert main(["db", "upgrade"]) == 0
    assert main(["jobs"]) == 2
    message = capsys.readouterr().err
    assert "needs the store on PostgreSQL" in message and "Traceback" not in message


def test_a_job_failing_every_attempt_is_a_failed_period_in_the_digest(
    tmp_path: Path, postgres_url: str, now: object
) -> None:
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from crawlers.crawl_worker import CrawlAttemptFailed, CrawlWorker, WorkerConfig
    from crawlers.dispatch import TASK_NAME
    from crawlers.runner import CrawlOutcome
    from storage.db import transaction
    from storage.job_queue import queued_jobs
    from storage.schedule import claim_period, ledger_problems

    engine = make_engine(postgres_url)
    upgrade(engine)
    apply_queue_schema(engine)
    factory = make_session_factory(engine)
    harness = Harness(tmp_path, postgres_url, factory, now)  # type: ignore[arg-type]
    sources = harness.write_sources(source_toml("down", "http://127.0.0.2:9"))
    harness.register_file(sources)
    period = datetime(2026, 11, 25, tzinfo=UTC)
    with transaction(factory) as session:
        row = claim_period(
            session, job_id="crawl:down", period_start=period, holder="s", now=period
        )
        assert row is not None
        job = Dispatcher(make_app(postgres_url)).defer(
            session, source_id="down", period_start=period, ledger_id=row.id
        )
        again = Dispatcher(make_app(postgres_url)).defer(
            session, source_id="down", period_start=period, ledger_id=row.id
        )
        row.status, ledger_id = DISPATCHED, row.id
    assert job is not None and again is None  # one waiting job per source
    with factory() as session:
        [queued] = queued_jobs(session, task_name=TASK_NAME, stalled_after=30)
    assert (queued.id, queued.state, queued.source_id) == (job, "queued", "down")

    def failing(source_id: str, *, period_start: datetime, timeout: float) -> CrawlOutcome:
        return CrawlOutcome(source_id, 1, 0.1, tmp_path / "down.log", status="failed")

    config = WorkerConfig(database_url=postgres_url, sources=(sources,), max_attempts=2)
    worker = CrawlWorker(config, run_job=failing)
    try:
        for attempts in (0, 1):
            context = SimpleNamespace(job=SimpleNamespace(attempts=attempts))
            with pytest.raises(CrawlAttemptFailed):
                worker.crawl(context, "down", period.isoformat(), ledger_id)  # type: ignore[arg-type]
            with factory() as session:
                status = session.get(ScheduleLedger, ledger_id).status  # type: ignore[union-attr]
            assert status == (DISPATCHED if attempts == 0 else "failed")
    finally:
        worker.dispose()
    with factory() as session:
        [problem] = ledger_problems(session, start=period, end=period + timedelta(days=1))
    assert problem.status == "failed" and problem.detail.startswith("failed 2 times; last:")
    engine.dispose()
