"""A crawl cluster for the distributed-mode tests: loopback sites that count the requests each
host has in flight, and worker and scheduler processes that never outlive the test.

Every process is started in a session of its own, asks Linux to kill it when pytest dies
(`PR_SET_PDEATHSIG`, as `run_crawl(die_with_parent=True)` does for crawls), and is killed as a
process group when the test ends; crawl children (their own sessions, dying with their worker)
are also found by the test's `SYNTHWATCH_HOME` in their environment and killed, so neither a
failed test nor a killed pytest leaves anything running.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from storage.job_queue import DISPATCHED, worker_of
from storage.models import CrawlRun, Listing, ListingVersion, ScheduleLedger
from tests.crawlers.harness import CONTACT_URL, FAKE_ANALYSER, REPO, Harness, MockServer, Route

PR_SET_PDEATHSIG = 1  # prctl(2): the signal a child gets when its parent dies
# Crawl settings of every worker's crawls: the test servers' 127.0.0.x hosts are not the
# 127.0.0.1 the spider slows down for (`SYNTHWATCH_LOOPBACK_DOWNLOAD_DELAY`), so say it here;
# one request per host at a time stays Scrapy's CONCURRENT_REQUESTS_PER_DOMAIN = 1.
CRAWL_SETTINGS = {
    "SYNTHWATCH_ANALYSER": FAKE_ANALYSER,
    "SYNTHWATCH_ROBOTS_RETRY_DELAYS": "0.2,0.4",
    "DOWNLOAD_DELAY": "0.05",
    "AUTOTHROTTLE_START_DELAY": "0.05",
}

WORKER = """
import logging, sys
from pathlib import Path
from crawlers.crawl_worker import CrawlWorker, WorkerConfig
logging.basicConfig(level=logging.INFO, format="%%(asctime)s %%(name)s %%(levelname)s %%(message)s")
url, sources, name, home = sys.argv[1:5]
env = {"SYNTHWATCH_HOME": home, "SYNTHWATCH_DATABASE_URL": url,
       "SYNTHWATCH_CONTACT_URL": %(contact)r, "PYTHONPATH": %(path)r}
CrawlWorker(WorkerConfig(
    database_url=url, sources=(Path(sources),), crawls=2, timeout=120, max_attempts=3,
    retry_wait=0, heartbeat=0.5, stalled_after=2, recover_every=0.5, poll=0.5, name=name,
    env=env, allow_loopback=True, settings=%(settings)r,
)).serve()
""" % {"contact": CONTACT_URL, "path": str(REPO), "settings": CRAWL_SETTINGS}  # noqa: UP031

# A scheduler process as `synthwatch schedule` runs it in distributed mode, with a lease of
# seconds (not 50) so that a replacement takes over quickly.
SCHEDULER = """
import logging, signal, sys, threading
from datetime import timedelta
from pathlib import Path
from crawlers.dispatch import Dispatcher, make_app
from crawlers.schedule import Scheduler
from storage.db import make_engine, make_session_factory
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
url, sources, holder, ttl = sys.argv[1:5]
stop = threading.Event()
signal.signal(signal.SIGTERM, lambda *_: stop.set())
Scheduler(
    make_session_factory(make_engine(url)), [Path(sources)], holder=holder,
    lease_ttl=timedelta(seconds=float(ttl)), dispatcher=Dispatcher(make_app(url)),
).run(stop)
"""


class HostLoad:
    """The requests each host address has in flight now, and the most it ever had."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now: dict[str, int] = {}
        self.peak: dict[str, int] = {}

    def enter(self, host: str) -> None:
        with self._lock:
            self.now[host] = self.now.get(host, 0) + 1
            self.peak[host] = max(self.peak.get(host, 0), self.now[host])

    def leave(self, host: str) -> None:
        with self._lock:
            self.now[host] -= 1


class MeteredServer(MockServer):
    """A MockServer that tells a shared HostLoad when each request starts and ends.

    A request is in flight from its route lookup (the first thing the handler does) to its log
    entry (just before the response's first byte, as `Hit.end`): a client waiting for a
    response cannot send its next request sooner, so two at once mean two clients.
    """

    def __init__(self, host: str, load: HostLoad) -> None:
        super().__init__(host)
        self.load = load

    def next_route(self, path: str) -> Route:
        self.load.enter(self.host)
        return super().next_route(path)

    def log(self, handler: Any, start: float, status: int, abandoned: bool = False) -> None:
        super().log(handler, start, status, abandoned)
        self.load.leave(self.host)


def build_site(server: MockServer, tag: str, listings: int, delay: float) -> set[str]:
    """Serve an index of `listings` listing pages, each answered after `delay` seconds; return
    the listing URLs."""
    server.add("/robots.txt", "User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
    links = "".join(f'<a class="listing" href="/item/{n}">Item {n}</a>' for n in range(listings))
    server.add("/", f"<html><body>{links}</body></html>")
    for n in range(listings):
        body = f"<html><body><h1>{tag} item {n}</h1><p>Listing {n} of {tag}, $20.</p></body>"
        server.add(f"/item/{n}", body, delay=delay)
    return {f"{server.base_url}/item/{n}" for n in range(listings)}


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


def die_with_parent() -> Callable[[], None]:
    """Return a pre-exec hook asking Linux to SIGKILL the child when this process dies."""
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved before the fork
    parent = os.getpid()

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the hook ran
            os._exit(1)

    return hook


def processes_with_env(entry: str) -> list[int]:
    """Return the pids of processes whose environment holds `entry` (`NAME=value`)."""
    wanted = entry.encode()
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
        except OSError:
            continue
        if wanted in environ.split(b"\0"):
            pids.append(int(proc.name))
    return pids


@dataclass
class Cluster:
    """Worker and scheduler processes over one database, source file and home."""

    harness: Harness
    sources: Path
    servers: list[MockServer]
    load: HostLoad = field(default_factory=HostLoad)
    # Each source's listing URLs, as its site serves them.
    expected: dict[str, set[str]] = field(default_factory=dict)
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    @property
    def factory(self) -> sessionmaker[Session]:
        return self.harness.session_factory

    def _start(self, name: str, script: str, *args: str) -> subprocess.Popen[bytes]:
        # No proxy (empty values switch one off): every request goes straight to loopback.
        env = {k: "" for k in os.environ if k.lower().endswith("_proxy")}
        env = {**os.environ, **env, "PYTHONPATH": str(REPO)}
        env["SYNTHWATCH_HOME"] = str(self.harness.home)  # marks the crawl children too
        with (self.harness.tmp_path / f"{name}.log").open("ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-c", script, *args],
                cwd=REPO,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
                preexec_fn=die_with_parent(),
            )
        self.processes[name] = process
        return process

    def start_worker(self, name: str) -> subprocess.Popen[bytes]:
        home = str(self.harness.home)
        return self._start(name, WORKER, self.harness.database_url, str(self.sources), name, home)

    def start_scheduler(self, name: str, ttl: float) -> subprocess.Popen[bytes]:
        url, sources = self.harness.database_url, str(self.sources)
        return self._start(name, SCHEDULER, url, sources, name, str(ttl))

    def kill(self, name: str) -> None:
        """SIGKILL a process's group and reap it."""
        process = self.processes[name]
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop(self, name: str, timeout: float = 30) -> int:
        """SIGTERM a process and wait for it (SIGKILL when it takes too long)."""
        process = self.processes[name]
        if process.poll() is None:
            process.terminate()
            try:
                return process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill(name)
        return process.wait()

    def kill_all(self) -> None:
        """Kill every process this cluster started, and any crawl child left behind."""
        for name in self.processes:
            self.kill(name)
        for pid in processes_with_env(f"SYNTHWATCH_HOME={self.harness.home}"):
            with contextlib.suppress(ProcessLookupError):
                if os.getpgid(pid) == pid:  # a crawl child leads its own group
                    os.killpg(pid, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)

    def log(self, name: str) -> str:
        return (self.harness.tmp_path / f"{name}.log").read_text(errors="replace")

    # ------------------------------------------------------------------ what the store says

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

    def listing_counts(self) -> dict[str, int]:
        """Return how many listings each source has stored so far."""
        with self.factory() as session:
            rows = session.execute(
                select(Listing.source_id, func.count(Listing.id)).group_by(Listing.source_id)
            )
            return {source_id: count for source_id, count in rows}

    def runs(self) -> dict[str, list[CrawlRun]]:
        """Return each source's crawl runs, oldest first."""
        found: dict[str, list[CrawlRun]] = {}
        with self.factory() as session:
            for run in session.scalars(select(CrawlRun).order_by(CrawlRun.id)):
                found.setdefault(run.source_id, []).append(run)
        return found

    def crawling(self, source_ids: set[str], at_least: int) -> tuple[str, str] | None:
        """Return (worker, source) of a dispatched crawl of one of the sources that has stored
        at least `at_least` listings, if any."""
        counts = self.listing_counts()
        for row in self.ledger():
            source_id = row.job_id.removeprefix("crawl:")
            worker = worker_of(row.detail)
            busy = row.status == DISPATCHED and worker is not None
            if busy and source_id in source_ids and counts.get(source_id, 0) >= at_least:
                assert worker is not None
                return worker, source_id
        return None
