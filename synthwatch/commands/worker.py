"""``synthwatch worker`` and ``synthwatch jobs``: crawl jobs on many machines (docs/scale.md)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.table import Table

from synthwatch.commands.common import (
    Subparsers,
    allow_loopback,
    err,
    open_store,
    out,
    seconds,
    whole_number,
)
from synthwatch.errors import UsageError
from synthwatch.store import Store

DISPATCH_VARIABLE = "SYNTHWATCH_DISPATCH"
PROCRASTINATE = "procrastinate"
# Defaults of a worker (seconds): a killed worker's job runs again within 30 + 10 + 5.
HEARTBEAT_S, STALLED_S, RECOVER_S, POLL_S = 10.0, 30.0, 10.0, 5.0


def dispatch_mode(environ: Mapping[str, str] = os.environ) -> str:
    """Return SYNTHWATCH_DISPATCH: `local` (default) or `procrastinate`."""
    from crawlers.dispatch import DISPATCH_MODES, LOCAL

    mode = environ.get(DISPATCH_VARIABLE, "").strip().lower() or LOCAL
    if mode not in DISPATCH_MODES:
        raise UsageError(f"{DISPATCH_VARIABLE}={mode!r} is not one of {', '.join(DISPATCH_MODES)}")
    return mode


def register(sub: Subparsers) -> None:
    worker = sub.add_parser(
        "worker", help="run crawl jobs the scheduler queued (distributed mode, PostgreSQL)"
    )
    worker.add_argument("--sources", type=Path, action="append", metavar="FILE")
    worker.add_argument(
        "--crawls", type=whole_number(1, 64), default=2, metavar="K",
        help="crawls run at once (default 2)",
    )  # fmt: skip
    worker.add_argument(
        "--timeout", type=seconds, default=3600.0, help="seconds a crawl may take (default 3600)"
    )
    worker.add_argument(
        "--attempts", type=whole_number(1, 20), default=3,
        help="attempts of a job, stalls included, before its period is failed (default 3)",
    )  # fmt: skip
    worker.add_argument("--heartbeat", type=seconds, default=HEARTBEAT_S, help=argparse.SUPPRESS)
    worker.add_argument("--stalled-after", type=seconds, default=STALLED_S, help=argparse.SUPPRESS)
    worker.add_argument("--recover-every", type=seconds, default=RECOVER_S, help=argparse.SUPPRESS)
    worker.add_argument("--poll", type=seconds, default=POLL_S, help=argparse.SUPPRESS)
    worker.add_argument(
        "--retry-wait", type=whole_number(0, 86400), default=30, help=argparse.SUPPRESS
    )
    worker.add_argument(
        "--init", action="store_true", help="create the job queue's tables if absent, and exit"
    )
    worker.set_defaults(handler=run_worker)

    jobs = sub.add_parser("jobs", help="list crawl jobs: queued, running, stalled, failed")
    jobs.add_argument("--json", action="store_true", help="print JSON")
    jobs.set_defaults(handler=list_jobs)


def queue_store() -> Store:
    """Open the store and insist that it is PostgreSQL with the queue's tables."""
    from crawlers.dispatch import require_queue

    store = open_store()
    require_queue(store.engine)
    return store


def run_worker(args: argparse.Namespace) -> int:
    """Apply the queue's tables (`--init`), or run crawl jobs until SIGTERM or Ctrl-C."""
    from crawlers.crawl_worker import CrawlWorker, WorkerConfig, stalled_detection
    from crawlers.dispatch import apply_queue_schema

    if args.init:
        store = open_store()
        made = apply_queue_schema(store.engine)
        err.print("job queue tables " + ("created" if made else "already present"))
        return 0
    if not args.sources:
        raise UsageError("synthwatch worker needs --sources FILE (the scheduler's source files)")
    store = queue_store()
    config = WorkerConfig(
        database_url=store.settings.database_url,
        sources=tuple(args.sources),
        crawls=args.crawls,
        timeout=args.timeout,
        max_attempts=args.attempts,
        retry_wait=args.retry_wait,
        heartbeat=args.heartbeat,
        stalled_after=args.stalled_after,
        recover_every=args.recover_every,
        poll=args.poll,
        allow_loopback=allow_loopback(),
        evidence=store.settings.evidence_store(),
    )
    store.engine.dispose()
    worker = CrawlWorker(config)
    err.print(
        f"worker {config.name} runs up to {config.crawls} crawls at once; a job of a killed "
        f"worker runs again within {stalled_detection(config).total_seconds():.0f} s. "
        "Ctrl-C stops it after its running crawls.",
        highlight=False,
    )
    worker.serve()
    return 0


def list_jobs(args: argparse.Namespace) -> int:
    """Print the crawl jobs queued, running, stalled or failed."""
    from crawlers.dispatch import TASK_NAME
    from storage.job_queue import queued_jobs

    store = queue_store()
    with store.sessions() as session:
        jobs = queued_jobs(session, task_name=TASK_NAME, stalled_after=STALLED_S)
    if args.json:
        out.print_json(json.dumps([job.to_dict() for job in jobs]))
        return 0
    table = Table("job", "state", "source", "period", "attempts", "worker", "detail")
    for job in jobs:
        worker: Any = job.worker or (f"#{job.worker_id}" if job.worker_id else "")
        table.add_row(
            str(job.id), job.state, job.source_id, job.period_start, str(job.attempts),
            worker, job.detail,
        )  # fmt: skip
    out.print(table)
    if not jobs:
        err.print("no crawl jobs queued, running, stalled or failed")
    return 0
