"""``synthwatch crawl`` and ``crawl-runs``: run one source, list what runs did."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from crawlers.sources import load_all_sources
from storage import crawl_stats
from storage.crawls import recent_runs
from storage.models import CrawlRun
from synthwatch.commands.common import (
    MAX_ID,
    Subparsers,
    allow_loopback,
    err,
    open_store,
    out,
    seconds,
    source_id,
    whole_number,
)
from synthwatch.errors import UsageError
from synthwatch.progress import crawl_with_progress

# The listing counts `crawl-runs` shows, in its column's order.
LISTINGS = {
    "new": crawl_stats.LISTINGS_NEW,
    "changed": crawl_stats.LISTINGS_CHANGED,
    "unchanged": crawl_stats.LISTINGS_UNCHANGED,
    "gone": crawl_stats.LISTINGS_GONE,
}


def register(sub: Subparsers) -> None:
    crawl = sub.add_parser("crawl", help="crawl one approved source in a child process")
    crawl.add_argument("source", type=source_id, help="source id")
    crawl.add_argument("--sources", type=Path, action="append", required=True, metavar="FILE")
    crawl.add_argument("--timeout", type=seconds, default=3600.0, help="seconds (default 3600)")
    crawl.set_defaults(handler=crawl_one)

    runs = sub.add_parser("crawl-runs", help="list crawl runs with their stats")
    runs.add_argument("--source", help="only this source")
    runs.add_argument(
        "--limit", type=whole_number(1, MAX_ID), default=20, help="newest N runs (default 20)"
    )
    runs.add_argument("--json", action="store_true", help="print the runs as JSON")
    runs.set_defaults(handler=list_runs)


def crawl_one(args: argparse.Namespace) -> int:
    """Crawl one source in a child process and report how it ended."""
    # The child would fail on these too, but only in its log: check the state folder, the
    # database and the source files here, where the error (its file and line) reaches the user
    # in one line.
    store = open_store()
    known = [source.id for source in load_all_sources(args.sources)]
    if args.source not in known:
        files = ", ".join(str(path) for path in args.sources)
        raise UsageError(
            f"no source {args.source!r} in {files}; "
            f"{'they define ' + ', '.join(known) if known else 'they define no source'}"
        )
    try:
        outcome = crawl_with_progress(
            store,
            err,
            args.source,
            label=f"crawling {args.source}",
            sources=list(args.sources),
            env=None,
            timeout=args.timeout,
            allow_loopback=allow_loopback(),
        )
    except OSError as error:
        raise UsageError(f"cannot start the crawl of {args.source}: {error}") from error
    finally:
        store.engine.dispose()
    status = outcome.status or "no crawl run"
    if outcome.timed_out:
        status += f", killed after the {args.timeout:.0f} s timeout"
    err.print(
        f"crawl of {args.source}: {status}{f' ({outcome.error})' if outcome.error else ''}; "
        f"run {outcome.run_id}, {outcome.duration:.1f} s, log {outcome.log_path}",
        highlight=False,
    )
    return 0 if outcome.ok else 1


def list_runs(args: argparse.Namespace) -> int:
    """Print the newest crawl runs, one row each (or as JSON)."""
    with open_store().sessions() as session:
        runs = recent_runs(session, source_id=args.source or None, limit=args.limit)
    if args.json:
        print(json.dumps([run_data(run) for run in runs], indent=2))
        return 0
    table = Table(
        "run", "source", "status", "started (UTC)", "s", "pages",
        "listings new/changed/unchanged/gone", "flagged", "blocked", "errors", "refused",
    )  # fmt: skip
    for run in runs:
        data = run_data(run)
        status = data["status"] if not data["error"] else f"{data['status']}: {data['error']}"
        if data["capped"]:
            status += f" (capped: {data['capped']} URLs not followed)"
        table.add_row(
            str(data["id"]),
            data["source"],
            status,
            run.started_at.strftime("%Y-%m-%d %H:%M:%S"),
            f"{data['seconds']:.1f}" if data["seconds"] is not None else "",
            str(data["pages"]),
            "/".join(str(data["listings"][kind]) for kind in LISTINGS),
            str(data["flagged"]),
            str(data["blocked"]),
            str(data["errors"]),
            ", ".join(f"{reason} {count}" for reason, count in data["refused"].items()),
        )
    out.print(table)
    return 0


def run_data(run: CrawlRun) -> dict[str, Any]:
    """Return what `crawl-runs` shows of one run, as JSON-ready data."""
    stats: dict[str, Any] = run.stats or {}
    duration = stats.get(crawl_stats.DURATION_SECONDS)
    return {
        "id": run.id,
        "source": run.source_id,
        "status": run.status,
        "error": run.error,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "seconds": float(duration) if isinstance(duration, int | float) else None,
        "pages": int(stats.get(crawl_stats.PAGES_FETCHED, 0)),
        "listings": {kind: int(stats.get(key, 0)) for kind, key in LISTINGS.items()},
        "flagged": int(stats.get(crawl_stats.FLAGGED, 0)),
        "blocked": int(stats.get(crawl_stats.BLOCKED, 0)),
        "capped": int(stats.get(crawl_stats.CAPPED, 0)),
        "errors": int(stats.get(crawl_stats.ERRORS, 0)),
        "refused": {
            key.removeprefix(crawl_stats.REFUSED_PREFIX): int(value)
            for key, value in sorted(stats.items())
            if key.startswith(crawl_stats.REFUSED_PREFIX) and value
        },
    }
