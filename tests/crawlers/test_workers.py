"""Distributed crawls on PostgreSQL: a scheduler queues crawl jobs, worker processes run them.

Five sources on four loopback addresses (two sources share 127.0.0.2, on two ports), two worker
processes running two crawls each: every period runs once, no host ever has two requests in
flight, a worker killed with SIGKILL mid-crawl loses nothing, and a scheduler that dies and is
replaced doubles no period. (The issue's 30 sources and three workers would take minutes on
the 2-core CI machine; five sources on two workers exercise the same paths.)
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.dispatch import Dispatcher, apply_queue_schema, make_app, require_queue
from crawlers.errors import CrawlerError
from crawlers.schedule import Scheduler
from storage.db import make_engine, make_session_factory
from storage.job_queue import DISPATCHED, worker_of
from storage.migrate import upgrade
from storage.models import Listing, ListingVersion, ScheduleLedger
from tests.crawlers.harness import CONTACT_URL, FAKE_ANALYSER, REPO, Harness, MockServer
from tests.factories import source_toml

LISTINGS = 12
SLOW = 0.08  # seconds per listing page: a crawl lasts long enough to be killed mid-way
HOSTS = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
TTL = timedelta(seconds=2)

WORKER = """
import sys
from pathlib import Path
from crawlers.crawl_worker import CrawlWorker, WorkerConfig
url, sources, name, home = sys.argv[1:5]
env = {"SYNTHWATCH_HOME": home, "SYNTHWATCH_DATABASE_URL": url,
       "SYNTHWATCH_CONTACT_URL": %(contact)r, "PYTHONPATH": %(path)r}
settings = {"SYNTHWATCH_ANALYSER": %(analyser)r, "SYNTHWATCH_ROBOTS_RETRY_DELAYS": "0.2,0.4"}
CrawlWorker(WorkerConfig(
    database_url=url, sources=(Path(sources),), crawls=2, timeout=120, max_attempts=3,
    retry_wait=0, heartbeat=0.5, stalled_after=2, recover_every=0.5, poll=0.5, name=name,
    env=env, allow_loopback=True, settings=settings,
)).serve()
""" % {"contact": CONTACT_URL, "path": str(REPO), "analyser": FAKE_ANALYSER}  # noqa: UP031


def build_site(server: MockServer, tag: str) -> None:
    server.add("/robots.txt", "User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
    links = "".join(f'<a class="listing" href="/item/{n}">Item {n}</a>' for n in range(LISTINGS))
    server.add("/", f"<html><body>{links}</body></html>")
    for n in range(LISTINGS):
        body = f"<html><body><h1>{tag} item {n}</h1><p>Listing {n} of {tag}, $20.</p></body>"
        server.add(f"/item/{n}", body, delay=SLOW)


def overlapping(servers: list[MockServer]) -> list[tuple[str, str]]:
    """Return pairs of requests to one host address that were in flight at the same time."""
    found: list[tuple[str, str]] = []
    for host in {s.host for s in servers}:
        hits = sorted(
            (hit for s in servers if s.host == host for hit in s.hits), key=lambda h: h.start
        )
        for before, after in itertools.pairwise(hits):
            if after.start < before.end:
                found.append((f"{host}{before.path}", f"{host}{after.path}"))
    return found


def wait_for(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@dataclass
class Cluster:
    harness: Harness
    sources: Path
    servers: list[MockServer]
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.harness.session_factory

    def start_worker(self, name: str) -> None:
        env = {k: "" for k in os.environ if k.lower().endswith("_proxy")}
        env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
        args = [self.harness.database_url, str(self.sources), name, str(self.harness.home)]
        with (self.harness.tmp_path / f"{name}.log").open("wb") as log:
            self.workers[name] = subprocess.Popen(
                [sys.executable, "-c", WORKER, *args], cwd=REPO, env=env, stdout=log, stderr=log
            )

    def ledger(self) -> list[ScheduleLedger]:
        with self.factory() as session:
            return list(session.scalars(select(ScheduleLedger).order_by(ScheduleLedger.id)))

    def listings(self, source_id: str) -> dict[str, int]:
        """Return each listing's URL with its number of versions."""
        with self.factory() as session:
            rows = session.execute(
                select(Listing.url, func.count(ListingVersion.id))
                .join(ListingVersion, ListingVersion.listing_id == Listing.id)
                .where(Listing.source_id == source_id)
                .group_by(Listing.url)
            )
            return {url: count for url, count in rows}

    def scheduler(self, holder: str) -> Scheduler:
        app = make_app(self.harness.database_url)
        return Scheduler(
            self.factory,
            [self.sources],
            holder=holder,
            lease_ttl=TTL,
            dispatcher=Dispatcher(app),
        )


@pytest.fixture
def cluster(tmp_path: Path, postgres_url: str, now: object) -> Iterator[Cluster]:
    engine = make_engine(postgres_url)
    upgrade(engine)
    assert apply_queue_schema(engine)
    assert not apply_queue_schema(engine)  # a second --init finds the tables
    harness = Harness(tmp_path, postgres_url, make_session_factory(engine), now)  # type: ignore[arg-type]
    servers: list[MockServer] = []
    text = ""
    for n, host in enumerate((*HOSTS, HOSTS[0])):
        server = MockServer(host)
        build_site(server, f"site{n}")
        server.start()
        servers.append(server)
        text += source_toml(f"site-{n}", server.base_url, index_links="[]", pagination=None)
    sources = harness.write_sources(text)
    harness.register_file(sources)
    running = Cluster(harness, sources, servers)
    yield running
    for child in running.workers.values():
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    for server in servers:
        server.stop()
    engine.dispose()


@pytest.mark.slow
def test_workers_crawl_every_period_once_politely_and_survive_a_kill(cluster: Cluster) -> None:
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    first = cluster.scheduler("sched-1")
    first.start()
    wait_for(lambda: len(cluster.ledger()) == 5, 30, "five periods queued")
    # The first scheduler dies holding its lease; the next one waits it out, claims nothing.
    first._scheduler.shutdown(wait=False)
    second = cluster.scheduler("sched-2")
    second.start()
    try:
        # Kill the worker of a crawl that is mid-way.
        def crawling() -> tuple[str, ScheduleLedger] | None:
            for row in cluster.ledger():
                source_id = row.job_id.removeprefix("crawl:")
                worker = worker_of(row.detail)
                if row.status == DISPATCHED and worker and len(cluster.listings(source_id)) >= 2:
                    return worker, row
            return None

        wait_for(crawling, 90, "a crawl mid-way")
        found = crawling()
        assert found is not None
        victim, row = found
        cluster.workers[victim].send_signal(signal.SIGKILL)
        cluster.workers[victim].wait(10)
        killed_source = row.job_id.removeprefix("crawl:")

        wait_for(lambda: all(r.status != DISPATCHED for r in cluster.ledger()), 150, "every crawl")
        wait_for(lambda: second.holds_lease, 10, "the second scheduler to take the lease")
        time.sleep(1)  # the second scheduler has synced its jobs: it must claim nothing
    finally:
        second.shutdown()

    ledger = cluster.ledger()
    assert len(ledger) == 5 and len({r.job_id for r in ledger}) == 5  # each period once
    assert all(r.status == "finished" for r in ledger), [(r.job_id, r.detail) for r in ledger]
    assert {r.claimed_by for r in ledger} == {"sched-1"}
    for n in range(5):
        found_listings = cluster.listings(f"site-{n}")
        # None lost, none doubled: every listing once, with one version.
        assert len(found_listings) == LISTINGS, (n, sorted(found_listings))
        assert set(found_listings.values()) == {1}
    assert overlapping(cluster.servers) == []
    survivor = next(name for name in cluster.workers if name != victim)
    redone = next(r for r in ledger if r.job_id == f"crawl:{killed_source}")
    assert redone.crawl_run_id is not None
    log = (cluster.harness.tmp_path / f"{survivor}.log").read_text(errors="replace")
    assert "stopped sending heartbeats" in log


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
