"""``synthwatch schedule``: run every approved source on its schedule until stopped."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from datetime import timedelta
from pathlib import Path

from rich.table import Table

from crawlers.job_state import JobInfo, describe_jobs
from crawlers.jobs import CrawlJob
from crawlers.schedule import PeriodicCommand, Scheduler
from crawlers.sources import load_all_sources
from storage.clock import utcnow
from synthwatch.commands.common import Subparsers, allow_loopback, err, open_store, out, seconds
from synthwatch.commands.worker import PROCRASTINATE, dispatch_mode

# `digest send` decides itself which weeks are due (SYNTHWATCH_DIGEST_HOUR/TZ) and retries
# failed deliveries, so it runs often rather than once a Monday.
DIGEST_EVERY = timedelta(minutes=15)
DIGEST_TIMEOUT_S = 900.0
# A waiting scheduler takes over at most a lease plus one poll (ttl/12) after the holder died:
# 50 s keeps that within a minute.
LEASE_TTL = timedelta(seconds=50)


def register(sub: Subparsers) -> None:
    schedule = sub.add_parser(
        "schedule", help="crawl approved sources on their schedules (one active scheduler)"
    )
    schedule.add_argument("--sources", type=Path, action="append", required=True, metavar="FILE")
    schedule.add_argument(
        "--timeout", type=seconds, default=3600.0, help="seconds a crawl may take (default 3600)"
    )
    schedule.add_argument("--list", action="store_true", help="print the jobs and exit")
    schedule.set_defaults(handler=run_schedule)


def run_schedule(args: argparse.Namespace) -> int:
    """Print the jobs, then trigger crawls until SIGTERM or Ctrl-C."""
    store = open_store()
    if args.list:
        sources = load_all_sources(args.sources)
        with store.sessions() as session:
            jobs = describe_jobs(session, sources, now=utcnow())
        out.print(jobs_table(jobs))
        return 0
    digest = PeriodicCommand(
        name="digest",
        argv=(sys.executable, "-m", "synthwatch", "digest", "send"),
        every=DIGEST_EVERY,
        timeout=DIGEST_TIMEOUT_S,
    )
    # Watch rules' alerts: matched apart from the crawls' store path, then sent (review.alerts).
    alerts = PeriodicCommand(
        name="alerts",
        argv=(sys.executable, "-m", "synthwatch", "alerts", "send"),
        every=DIGEST_EVERY,
        timeout=DIGEST_TIMEOUT_S,
    )
    dispatcher = None
    if dispatch_mode() == PROCRASTINATE:
        from crawlers.dispatch import Dispatcher, make_app, require_queue

        require_queue(store.engine)
        dispatcher = Dispatcher(make_app(store.settings.database_url))
    scheduler = Scheduler(
        store.session_factory,
        args.sources,
        run_job=CrawlJob(tuple(args.sources), allow_loopback=allow_loopback()),
        crawl_timeout=args.timeout,
        commands=[digest, alerts],
        lease_ttl=LEASE_TTL,
        dispatcher=dispatcher,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    out.print(jobs_table(scheduler.describe()))
    err.print(
        f"scheduler {scheduler.holder} starting; it crawls only while it holds the scheduler "
        "lease (another scheduler may hold it). Ctrl-C stops it.",
        highlight=False,
    )
    scheduler.run(stop)
    return 0


def jobs_table(jobs: list[JobInfo]) -> Table:
    """Return one row per source: schedule, approval, next run and the last period."""
    table = Table("source", "schedule", "approval", "next run (UTC)", "last period", "status")
    for job in jobs:
        if job.approval != "approved":
            next_run = "-"
        elif job.catch_up:
            next_run = "now (catch-up)"
        else:
            next_run = job.next_run.strftime("%Y-%m-%d %H:%M:%S") if job.next_run else "-"
        last = job.last_period.strftime("%Y-%m-%d %H:%M:%S") if job.last_period else "never"
        table.add_row(
            job.source_id, job.schedule, job.approval, next_run, last, job.last_status or ""
        )
    return table
