"""The scheduler: the legal gate, the ledger, the lease, catch-up (periods: tests/storage)."""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.job_state import catch_up_due, describe_jobs
from crawlers.runner import CrawlOutcome
from crawlers.schedule import CrawlJob, PeriodicCommand, Scheduler
from crawlers.sources import SourceConfig, load_sources
from review.sources import approve_source, suspend_source
from storage.crawls import start_crawl_run
from storage.db import transaction
from storage.models import CrawlRun, ScheduleLedger
from storage.periods import period_start
from storage.schedule import claim_period, finish_period
from storage.sources import upsert_source
from storage.users import get_user
from tests.conftest import NOW
from tests.crawlers.harness import FAKE_ANALYSER, REPO, Harness, MockServer
from tests.factories import invented_source, invented_source_toml, source_toml

TTL = timedelta(seconds=2)


def source(source_id: str = "shop", schedule: str = "interval:1d") -> SourceConfig:
    return invented_source(source_id, schedule=schedule)


def sources_toml(*blocks: tuple[str, str]) -> str:
    """Return a file of the sources `source()` describes, each (id, schedule)."""
    return "".join(
        invented_source_toml(source_id, name=source_id, schedule=schedule)
        for source_id, schedule in blocks
    )


@dataclass
class FakeJob:
    """Record each crawl it is asked for and report it finished."""

    delay: float = 0.0
    calls: list[tuple[str, datetime]] = field(default_factory=list)

    def __call__(self, source_id: str, *, period_start: datetime, timeout: float) -> CrawlOutcome:
        self.calls.append((source_id, period_start))
        time.sleep(self.delay)
        return CrawlOutcome(source_id, 0, self.delay, Path("fake.log"), status="finished")


def wait_for(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def rows(factory: sessionmaker[Session], source_id: str = "shop") -> list[ScheduleLedger]:
    with factory() as session:
        query = select(ScheduleLedger).where(ScheduleLedger.job_id == f"crawl:{source_id}")
        return list(session.scalars(query.order_by(ScheduleLedger.period_start)))


@pytest.fixture
def started() -> Iterator[list[Scheduler]]:
    """Schedulers a test starts; each is shut down afterwards."""
    schedulers: list[Scheduler] = []
    yield schedulers
    for scheduler in schedulers:
        scheduler.shutdown()


# ---------------------------------------------------------------- the legal gate


def test_only_approved_sources_get_jobs(
    harness: Harness, session_factory: sessionmaker[Session], started: list[Scheduler]
) -> None:
    files = harness.write_sources(
        sources_toml(*((name, "interval:1d") for name in ("ok", "new", "paused", "wider", "lost")))
    )
    states = {"ok": "approved", "new": "unapproved", "paused": "suspended", "wider": "rescoped"}
    for config in load_sources(files):
        if config.id in states:
            harness.register(config, state=states[config.id])
    job = FakeJob()
    scheduler = Scheduler(session_factory, [files], run_job=job, lease_ttl=TTL)
    started.append(scheduler)

    scheduler.start()

    assert set(scheduler.next_runs()) == {"ok"}
    described = {info.source_id: info for info in scheduler.describe()}
    assert {k: v.approval for k, v in described.items()} == {**states, "lost": "unknown"}
    assert [k for k, v in described.items() if v.next_run is not None] == ["ok"]
    wait_for(lambda: rows(session_factory, "ok"))  # never ran, so it catches up at once
    scheduler.shutdown()
    assert {source_id for source_id, _ in job.calls} == {"ok"}
    assert all(not rows(session_factory, name) for name in states if name != "ok")


@pytest.mark.parametrize("state", ["suspended", "rescoped"])
def test_a_source_that_loses_its_approval_after_scheduling_is_skipped(
    harness: Harness, session_factory: sessionmaker[Session], started: list[Scheduler], state: str
) -> None:
    files = harness.write_sources(sources_toml(("shop", "interval:1s")))
    harness.register_file(files)
    job = FakeJob()
    # No reload for an hour: the job stays scheduled, and only its own check can stop it.
    scheduler = Scheduler(session_factory, [files], run_job=job, lease_ttl=TTL, reload_every=3600)
    started.append(scheduler)
    scheduler.start()
    wait_for(lambda: job.calls)

    with transaction(session_factory) as session:
        legal = get_user(session, "lee")
        assert legal is not None
        if state == "suspended":
            suspend_source(session, source_id="shop", actor=legal, reason="t", now=harness.now)
        else:  # a legal user approved a wider scope than the file the scheduler holds
            upsert_source(
                session,
                source_id="shop",
                name="wider",
                config={},
                scope_fingerprint="wider",
                now=harness.now,
            )
            approve_source(
                session,
                source_id="shop",
                approver=legal,
                legal_basis="t",
                fingerprint="wider",
                now=harness.now,
            )
    wait_for(lambda: len([r for r in rows(session_factory) if r.status == "skipped"]) >= 2)
    scheduler.shutdown()

    skipped = [r for r in rows(session_factory) if r.status == "skipped"]
    assert {r.detail for r in skipped} == {f"source 'shop' is {state}"}
    assert all(period < skipped[0].period_start for _, period in job.calls)


def test_jobs_follow_the_source_files_and_the_approvals(
    harness: Harness, session_factory: sessionmaker[Session], started: list[Scheduler]
) -> None:
    files = harness.write_sources(sources_toml(("shop", "interval:1d")))
    harness.register_file(files)
    harness.register(source("mall"))  # approved, but in no file yet
    scheduler = Scheduler(
        session_factory, [files], run_job=FakeJob(), lease_ttl=TTL, reload_every=0.1
    )
    started.append(scheduler)
    scheduler.start()
    assert set(scheduler.next_runs()) == {"shop"}

    files.write_text(sources_toml(("shop", "interval:1d"), ("mall", "interval:1d")))
    wait_for(lambda: set(scheduler.next_runs()) == {"shop", "mall"})

    with transaction(session_factory) as session:
        legal = get_user(session, "lee")
        assert legal is not None
        suspend_source(session, source_id="shop", actor=legal, reason="t", now=harness.now)
    wait_for(lambda: set(scheduler.next_runs()) == {"mall"})

    files.write_text(sources_toml(("mall", "cron:0 6 * * *")))
    wait_for(lambda: f"{scheduler.next_runs().get('mall') or NOW:%H:%M:%S}" == "06:00:00")


# ---------------------------------------------------------------- the ledger and catch-up


def test_a_claimed_period_is_not_run_again_after_a_restart(
    harness: Harness, session_factory: sessionmaker[Session]
) -> None:
    files = harness.write_sources(sources_toml(("shop", "interval:1d")))
    harness.register_file(files)
    start = period_start(source(), NOW)
    assert start is not None
    job = FakeJob()
    first = Scheduler(
        session_factory,
        [files],
        run_job=job,
        clock=lambda: start + timedelta(hours=1),
        holder="first",
        lease_ttl=TTL,
    )
    assert first.run_period("shop") == "finished"

    # The first process dies holding the lease; a second starts in the same period.
    second_now = start + timedelta(hours=1, seconds=1)
    second = Scheduler(
        session_factory,
        [files],
        run_job=job,
        clock=lambda: second_now,
        holder="second",
        lease_ttl=TTL,
    )
    assert second.run_period("shop") == "not-holder"
    second_now += TTL
    assert second.run_period("shop") == "claimed"

    assert job.calls == [("shop", start)]
    assert [(r.claimed_by, r.status) for r in rows(session_factory)] == [("first", "finished")]
    with session_factory() as session:
        assert not catch_up_due(session, source(), second_now)
        assert catch_up_due(session, source(), start + timedelta(days=1))
        [info] = describe_jobs(session, [source()], now=second_now)
    assert info.next_run == start + timedelta(days=1) and not info.catch_up
    assert (info.last_period, info.last_status) == (start, "finished")


def test_a_catch_up_after_an_outage_runs_once(
    harness: Harness, session_factory: sessionmaker[Session], started: list[Scheduler]
) -> None:
    files = harness.write_sources(sources_toml(("shop", "interval:1d")))
    harness.register_file(files)
    now = datetime.now(UTC)
    latest = period_start(source(), now)
    assert latest is not None
    last_before_outage = latest - timedelta(days=3)  # three periods missed since
    with transaction(session_factory) as session:
        row = claim_period(
            session, job_id="crawl:shop", period_start=last_before_outage, holder="gone", now=now
        )
        assert row is not None
        finish_period(session, row, status="finished", now=now)
    job = FakeJob()
    scheduler = Scheduler(session_factory, [files], run_job=job, lease_ttl=TTL)
    started.append(scheduler)

    scheduler.start()
    wait_for(lambda: len(rows(session_factory)) == 2 and rows(session_factory)[1].finished_at)
    time.sleep(0.5)
    scheduler.shutdown()

    assert job.calls == [("shop", latest)]
    assert [r.period_start for r in rows(session_factory)] == [last_before_outage, latest]


def test_a_period_that_fell_due_during_a_long_crawl_runs_when_it_ends(
    harness: Harness, session_factory: sessionmaker[Session], started: list[Scheduler]
) -> None:
    files = harness.write_sources(sources_toml(("shop", "interval:1s")))
    harness.register_file(files)
    spans: list[tuple[float, float]] = []

    def overrunning(source_id: str, *, period_start: datetime, timeout: float) -> CrawlOutcome:
        begun = time.monotonic()
        # End 0.2 s past the next whole second, after the firing of the next period.
        wall = time.time()
        time.sleep(math.floor(wall) + 1.2 - wall)
        spans.append((begun, time.monotonic()))
        return CrawlOutcome(source_id, 0, 1.0, Path("fake.log"), status="finished")

    scheduler = Scheduler(session_factory, [files], run_job=overrunning, lease_ttl=TTL)
    started.append(scheduler)
    scheduler.start()
    wait_for(lambda: len(spans) >= 3)
    scheduler.shutdown()

    # Without a run right at its end, the next would wait for the next firing (0.8 s).
    gaps = [later[0] - earlier[1] for earlier, later in itertools.pairwise(spans)]
    assert max(gaps) < 0.4, gaps
    periods = [r.period_start for r in rows(session_factory)]
    assert periods == sorted(set(periods))


# ---------------------------------------------------------------- two scheduler processes

CHILD = """
import json, signal, sys, threading, time
from datetime import timedelta
from pathlib import Path
from crawlers.runner import CrawlOutcome
from crawlers.schedule import Scheduler
from storage.db import make_engine, make_session_factory

url, sources, runs, holder = sys.argv[1:5]

def job(source_id, *, period_start, timeout):
    with open(runs, "a", encoding="utf-8") as out:
        out.write(json.dumps([source_id, period_start.isoformat(), holder]) + "\\n")
    time.sleep(0.3)
    return CrawlOutcome(source_id, 0, 0.3, Path("fake.log"), status="finished")

stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
factory = make_session_factory(make_engine(url))
Scheduler(
    factory, [sources], run_job=job, holder=holder, lease_ttl=timedelta(seconds=2)
).run(stop)
"""


@dataclass
class Processes:
    """Scheduler processes sharing one database and one log of the crawls they ran."""

    tmp_path: Path
    database_url: str
    sources: Path
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def runs_file(self) -> Path:
        return self.tmp_path / "runs.jsonl"

    def start(self, holder: str) -> None:
        args = [self.database_url, str(self.sources), str(self.runs_file), holder]
        with (self.tmp_path / f"{holder}.log").open("wb") as log:
            self.children[holder] = subprocess.Popen(
                [sys.executable, "-c", CHILD, *args], cwd=REPO, stdout=log, stderr=log
            )

    def stop(self, holder: str, sig: int = signal.SIGTERM) -> None:
        child = self.children[holder]
        os.kill(child.pid, sig)
        child.wait(timeout=20)

    def runs(self) -> list[tuple[str, str, str]]:
        if not self.runs_file.exists():
            return []
        lines = self.runs_file.read_text(encoding="utf-8").splitlines()
        return [tuple(json.loads(line)) for line in lines]


@pytest.fixture
def processes(
    harness: Harness, sqlite_url: str, session_factory: sessionmaker[Session]
) -> Iterator[Processes]:
    files = harness.write_sources(sources_toml(("a", "interval:1s"), ("b", "interval:1s")))
    harness.register_file(files)
    running = Processes(harness.tmp_path, sqlite_url, files)
    yield running
    for child in running.children.values():
        if child.poll() is None:
            child.kill()
            child.wait()


def ledger_runs(factory: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with factory() as session:
        return [
            (r.job_id.removeprefix("crawl:"), r.period_start.isoformat(), r.claimed_by)
            for r in session.scalars(select(ScheduleLedger))
        ]


@pytest.mark.slow
def test_two_scheduler_processes_run_each_period_once(
    processes: Processes, session_factory: sessionmaker[Session]
) -> None:
    processes.start("one")
    processes.start("two")
    wait_for(lambda: len(processes.runs()) >= 6, timeout=20)
    processes.stop("one")
    processes.stop("two")

    runs = processes.runs()
    assert len(set(runs)) == len(runs)
    assert sorted(runs) == sorted(ledger_runs(session_factory))
    assert len({holder for _, _, holder in runs}) == 1  # the other one waited for the lease
    assert {source_id for source_id, _, _ in runs} == {"a", "b"}
    assert all(child.returncode == 0 for child in processes.children.values())


@pytest.mark.slow
def test_the_waiting_scheduler_takes_over_within_the_lease_ttl(
    processes: Processes, session_factory: sessionmaker[Session]
) -> None:
    processes.start("one")
    wait_for(lambda: processes.runs(), timeout=20)
    processes.start("two")
    time.sleep(1.5)  # long enough for "two" to start and find the lease taken
    assert {holder for _, _, holder in processes.runs()} == {"one"}

    processes.stop("one", signal.SIGKILL)  # dies holding the lease
    killed = time.monotonic()
    wait_for(lambda: any(holder == "two" for _, _, holder in processes.runs()), timeout=20)
    took_over = time.monotonic() - killed
    processes.stop("two")

    assert took_over < 2 * TTL.total_seconds()
    runs = processes.runs()
    assert len(set(runs)) == len(runs)
    assert sorted(runs) == sorted(ledger_runs(session_factory))


# ---------------------------------------------------------------- a real crawl


@pytest.mark.slow
def test_a_scheduled_period_crawls_in_a_child_process(
    harness: Harness,
    server: MockServer,
    session_factory: sessionmaker[Session],
    started: list[Scheduler],
) -> None:
    server.add("/robots.txt", "User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
    server.add("/", '<html><body><a class="listing" href="/item/1">One</a></body></html>')
    server.add("/item/1", "<html><body><h1>Fentanyl powder</h1><p>$120 a gram</p></body></html>")
    files = harness.write_sources(source_toml("shop", server.base_url))
    harness.register_file(files)
    env = {name: "" for name in os.environ if name.lower().endswith("_proxy")}
    env |= {
        "SYNTHWATCH_HOME": str(harness.home),
        "SYNTHWATCH_DATABASE_URL": harness.database_url,
        "SYNTHWATCH_CONTACT_URL": "http://127.0.0.1/contact",
        "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
    }
    job = CrawlJob(
        (files,), env=env, allow_loopback=True, settings={"SYNTHWATCH_ANALYSER": FAKE_ANALYSER}
    )
    scheduler = Scheduler(session_factory, [files], run_job=job, lease_ttl=TTL, crawl_timeout=60)
    started.append(scheduler)

    scheduler.start()
    wait_for(lambda: rows(session_factory) and rows(session_factory)[0].finished_at, timeout=90)

    [row] = rows(session_factory)
    assert row.status == "finished", row.detail
    with session_factory() as session:
        run = session.get(CrawlRun, row.crawl_run_id)
        assert run is not None and run.status == "finished" and run.source_id == "shop"
    assert "/item/1" in server.paths()


@pytest.mark.slow
def test_periodic_commands_run_only_while_the_lease_is_held(
    harness: Harness,
    session_factory: sessionmaker[Session],
    started: list[Scheduler],
    tmp_path: Path,
) -> None:
    files = harness.write_sources(sources_toml(("ok", "interval:1d")))
    marks = tmp_path / "digest-runs.txt"
    touch = PeriodicCommand(
        name="digest",
        argv=(sys.executable, "-c", f"open({str(marks)!r}, 'a').write('run\\n')"),
        every=timedelta(seconds=1),
        timeout=30,
    )
    holder = Scheduler(session_factory, [files], run_job=FakeJob(), lease_ttl=TTL)
    waiting = Scheduler(
        session_factory, [files], run_job=FakeJob(), lease_ttl=TTL, commands=[touch]
    )
    started.extend([holder, waiting])
    holder.start()
    waiting.start()
    time.sleep(1.5)
    assert not marks.exists(), "a scheduler without the lease ran its command"

    holder.shutdown()  # releases the lease: the waiting scheduler takes it and runs the command
    wait_for(lambda: marks.exists() and marks.read_text().count("run") >= 2, timeout=30)
    assert waiting.holds_lease


def test_a_crawl_left_running_by_a_dead_scheduler_is_not_doubled(
    harness: Harness, session_factory: sessionmaker[Session]
) -> None:
    files = harness.write_sources(sources_toml(("shop", "interval:1d")))
    harness.register_file(files)
    with transaction(session_factory) as session:
        orphan = start_crawl_run(session, source_id="shop", now=datetime.now(UTC)).id
    job = FakeJob()
    scheduler = Scheduler(session_factory, [files], run_job=job, lease_ttl=TTL)

    assert scheduler.run_period("shop") == "skipped"

    assert job.calls == []
    (row,) = rows(session_factory)
    assert row.detail == f"crawl run {orphan} of 'shop' is still running"
