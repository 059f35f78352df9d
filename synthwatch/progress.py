"""Crawl one source in a child process while a status line counts the pages it captured.

The count is read from the database (the evidence captures of the source's running crawl run)
by a thread in this process, twice a second: the child crawls exactly as it would unwatched.
The crawl itself stays in the calling thread, so Ctrl-C still stops the child process group.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from rich.console import Console
from sqlalchemy.exc import SQLAlchemyError

from crawlers.runner import CrawlOutcome, run_crawl
from storage.clock import utcnow
from storage.crawls import captures_per_run, running_crawl
from synthwatch.store import Store

POLL_SECONDS = 0.5
# A run's start time is stamped by the child; a clock a little behind ours must still match.
CLOCK_SLACK = timedelta(seconds=5)


def crawl_with_progress(
    store: Store,
    console: Console,
    source_id: str,
    *,
    label: str,
    sources: list[Path],
    env: Mapping[str, str] | None,
    timeout: float,
    allow_loopback: bool,
) -> CrawlOutcome:
    """Run ``run_crawl`` for one source, showing pages captured and seconds so far."""
    since = utcnow() - CLOCK_SLACK
    started = time.monotonic()
    done = threading.Event()
    with console.status(f"{label}: starting") as status:

        def show(pages: int | None) -> None:
            seconds = time.monotonic() - started
            counted = "starting" if pages is None else f"{pages} page{'s' * (pages != 1)} captured"
            status.update(f"{label}: {counted}, {seconds:.0f} s")

        watcher = threading.Thread(
            target=_watch,
            args=(store, source_id, since, done, show),
            name=f"progress-{source_id}",
            daemon=True,
        )
        watcher.start()
        try:
            return run_crawl(
                source_id,
                sources=sources,
                env=env,
                timeout=timeout,
                allow_loopback=allow_loopback,
            )
        finally:
            done.set()
            watcher.join(timeout=5)


def captured_so_far(store: Store, source_id: str, since: datetime) -> int | None:
    """Return how many pages the source's running crawl run captured; None before it opens."""
    with store.session_factory() as session:
        run_id = running_crawl(session, source_id=source_id, since=since)
        if run_id is None:
            return None
        return captures_per_run(session, [run_id]).get(run_id, 0)


def _watch(
    store: Store,
    source_id: str,
    since: datetime,
    done: threading.Event,
    show: Callable[[int | None], None],
) -> None:
    pages: int | None = None
    while not done.wait(POLL_SECONDS):
        # A busy database only delays the count; the crawl goes on regardless.
        with contextlib.suppress(SQLAlchemyError):
            pages = captured_so_far(store, source_id, since)
        show(pages)
