"""Group commit for the store pipeline: items stored a batch per transaction, off the reactor.

`BatchWriter` collects items until `SYNTHWATCH_STORE_BATCH_SIZE` wait or the oldest has waited
`SYNTHWATCH_STORE_BATCH_SECONDS`, then hands the batch to `write_batch` on a thread of its own
(one batch at a time, in order), so database round trips never stall the crawl. Each item's
`process_item` waits for its batch: an item counts as stored only once its batch committed,
and while items wait, Scrapy's scraper slot fills and stops new downloads (the backpressure).

`write_batch` first syncs the WARC files the batch's captures point into (one fsync per file
per batch), then records captures and listings in one transaction. If that transaction fails,
it is rolled back and each item is written alone, so one bad item costs only itself; a commit
that fails is not retried (it may have happened), and its items are reported failed. A kill
-9 loses at most the batch being written: its evidence may be in the WARC file with no row
pointing at it, and the next crawl fetches and stores those pages anew.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, cast

from scrapy.utils.defer import maybe_deferred_to_future
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from twisted.internet.defer import Deferred, maybeDeferred
from twisted.python.failure import Failure

from crawlers.errors import EvidenceError
from crawlers.evidence import publish_evidence
from crawlers.items import PageItem, UnchangedListing
from storage.crawls import CaptureRow, record_captures
from storage.errors import StorageError
from storage.evidence_store import EvidenceStore, LocalEvidenceStore
from storage.listing_store import ListingPage, ListingStored, mark_listings_seen, store_listings

if TYPE_CHECKING:
    from twisted.internet.base import DelayedCall
    from twisted.python.threadpool import ThreadPool

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
StoreItem = PageItem | UnchangedListing


@dataclass(frozen=True, slots=True)
class Seen:
    """An unchanged listing recorded as seen; ``known`` is False for one never stored."""

    known: bool


@dataclass(frozen=True, slots=True)
class Failed:
    """An item that was not stored, and why."""

    error: str


Outcome = ListingStored | Seen | Failed


def validator(value: str | None, most: int) -> str | None:
    """Return a validator to keep, or None when there is none or it is too long to store."""
    return value if value and len(value) <= most else None


def write_batch(
    factory: sessionmaker[Session],
    run_id: int,
    items: Sequence[StoreItem],
    *,
    home: Path,
    fsync: bool,
    evidence: EvidenceStore | None = None,
) -> list[Outcome]:
    """Store a batch in one transaction, its evidence synced first; one outcome per item.

    ``evidence`` is the store the batch's WARC files are published to (synced, or uploaded to
    object storage) before the commit; without it they are synced under ``home``.
    """
    if fsync or evidence is not None:
        warc_files = {i.evidence.warc_file for i in items if isinstance(i, PageItem) and i.evidence}
        try:
            publish_evidence(evidence or LocalEvidenceStore(home), warc_files, fsync=fsync)
        except EvidenceError as exc:
            # Nothing may commit that points at evidence not on disk; 304s point at none.
            failed = Failed(f"evidence not synced: {exc}")
            stored = [i for i in items if isinstance(i, UnchangedListing)]
            seen = iter(write_batch(factory, run_id, stored, home=home, fsync=False))
            return [next(seen) if isinstance(i, UnchangedListing) else failed for i in items]
    if not items:
        return []
    with factory() as session:
        try:
            session.begin()
            outcomes = _store(session, run_id, items)
            session.flush()
        except (SQLAlchemyError, StorageError) as exc:
            session.rollback()
            if len(items) == 1:
                return [Failed(str(exc))]
            why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            logger.warning("a batch of %d failed (%s): storing them one by one", len(items), why)
            return [
                write_batch(factory, run_id, [item], home=home, fsync=False)[0] for item in items
            ]
        try:
            session.commit()
        except SQLAlchemyError as exc:
            # Not retried: a commit that failed may still have happened.
            logger.error("commit of a batch of %d failed: %s", len(items), exc)
            return [Failed(f"commit failed: {exc}")] * len(items)
    return outcomes


def _store(session: Session, run_id: int, items: Sequence[StoreItem]) -> list[Outcome]:
    outcomes: dict[int, Outcome] = {}
    for group in _groups(items):
        pages = [item for n in group if isinstance(item := items[n], PageItem)]
        seen = [item for n in group if isinstance(item := items[n], UnchangedListing)]
        stored: Sequence[Outcome] = (
            _store_pages(session, run_id, pages)
            if pages
            else [
                Seen(known)
                for known in mark_listings_seen(
                    session, [(i.source_id, i.url, i.seen_at) for i in seen]
                )
            ]
        )
        outcomes.update(zip(group, stored, strict=True))
    return [outcomes[n] for n in range(len(items))]


def _groups(items: Sequence[StoreItem]) -> list[list[int]]:
    """Split a batch into groups of one kind that can be stored a group after the other.

    Pages, then 304s, unless a listing is both in the batch: then runs of one kind, in order.
    """
    pages = [n for n, item in enumerate(items) if isinstance(item, PageItem)]
    seen = [n for n, item in enumerate(items) if not isinstance(item, PageItem)]
    if {_key(items[n]) for n in pages}.isdisjoint(_key(items[n]) for n in seen):
        return [group for group in (pages, seen) if group]
    runs: list[list[int]] = []
    for n, item in enumerate(items):
        if runs and isinstance(items[runs[-1][0]], PageItem) == isinstance(item, PageItem):
            runs[-1].append(n)
        else:
            runs.append([n])
    return runs


def _key(item: StoreItem) -> tuple[str, str]:
    return item.source_id, item.url


def _store_pages(session: Session, run_id: int, items: Sequence[PageItem]) -> list[ListingStored]:
    captures, pages = [], []
    for item in items:
        evidence, analysis = item.evidence, item.analysis
        assert evidence is not None and analysis is not None  # the pipeline checked
        captures.append(
            CaptureRow(
                crawl_run_id=run_id,
                url=item.url,
                http_status=item.status,
                content_type=item.content_type[:200],
                fetched_at=item.fetched_at,
                warc_file=evidence.warc_file,
                warc_offset=evidence.offset,
                warc_length=evidence.length,
                payload_sha256=evidence.payload_sha256,
            )
        )
        pages.append((item, analysis))
    capture_ids = record_captures(session, captures)
    return store_listings(
        session,
        [
            ListingPage(
                source_id=item.source_id,
                url=item.url,
                capture_id=capture_id,
                title=item.title,
                text=item.text,
                fields=item.fields,
                analysis=analysis,
                now=item.fetched_at,
                etag=validator(item.header("ETag"), 500),
                last_modified=validator(item.header("Last-Modified"), 100),
            )
            for (item, analysis), capture_id in zip(pages, capture_ids, strict=True)
        ],
    )


async def wait_for(done: Deferred[R]) -> R:
    """Await a Deferred from a Scrapy coroutine; one that has fired is read without a reactor."""
    if not done.called:
        return await maybe_deferred_to_future(done)
    results: list[R | Failure] = []
    done.addBoth(results.append)
    (result,) = results
    if isinstance(result, Failure):
        result.raiseException()
    return result


class Clock(Protocol):
    """What the writer needs of the reactor (`twisted.internet.task.Clock` in tests)."""

    def seconds(self) -> float: ...

    def callLater(self, delay: float, callable: Callable[..., Any], /) -> DelayedCall: ...


# An item waiting for its batch: the item, its outcome to come, when it came.
Waiting = tuple[T, "Deferred[R]", float]
Runner = Callable[[Callable[[list[T]], list[R]], list[T]], "Deferred[list[R]]"]


class BatchWriter(Generic[T, R]):
    """Hand items to ``write`` in batches, one batch at a time, each on the writer thread.

    ``submit`` returns a Deferred that fires with the item's outcome once its batch is written
    (or fails with what ``write`` raised). A batch starts when ``size`` items wait, when the
    oldest has waited ``seconds``, or at ``close``. ``clock`` and ``run`` default to the
    reactor and a thread of this writer's own; tests pass a `twisted.internet.task.Clock`
    and a runner that calls ``write`` at once.
    """

    def __init__(
        self,
        write: Callable[[list[T]], list[R]],
        *,
        size: int,
        seconds: float,
        clock: Clock | None = None,
        run: Runner[T, R] | None = None,
    ) -> None:
        self.write = write
        self.size = max(1, size)
        self.seconds = max(0.0, seconds)
        self._clock = clock
        self._run = run
        self._pool: ThreadPool | None = None
        self.pending: list[Waiting[T, R]] = []
        self.busy = False
        self.closing = False
        self._timer: DelayedCall | None = None
        self._idle: list[Deferred[None]] = []

    @property
    def clock(self) -> Clock:
        if self._clock is None:
            from twisted.internet import reactor  # the installed one; never at import

            self._clock = cast("Clock", reactor)
        return self._clock

    def submit(self, item: T) -> Deferred[R]:
        """Queue an item; the Deferred fires with its outcome once its batch is written."""
        done: Deferred[R] = Deferred()
        self.pending.append((item, done, self.clock.seconds()))
        self._schedule()
        return done

    def close(self) -> Deferred[None]:
        """Write what waits, and fire once every batch is written; then stop the thread."""
        self.closing = True
        idle: Deferred[None] = Deferred()
        self._idle.append(idle)
        self._schedule()
        return idle

    def _schedule(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self.busy:
            return
        if not self.pending:
            if self.closing:
                self._stop()
            return
        wait = self.pending[0][2] + self.seconds - self.clock.seconds()
        if len(self.pending) >= self.size or self.closing or wait <= 0:
            self._start()
        else:
            self._timer = self.clock.callLater(wait, self._schedule)

    def _start(self) -> None:
        batch, self.pending = self.pending[: self.size], self.pending[self.size :]
        self.busy = True
        run = self._run or self._in_thread
        written = maybeDeferred(run, self.write, [item for item, _, _ in batch])
        written.addBoth(self._written, batch)

    def _written(
        self, result: list[R] | Failure, batch: list[tuple[T, Deferred[R], float]]
    ) -> None:
        self.busy = False
        if isinstance(result, Failure):
            for _, done, _ in batch:
                done.errback(result)
        else:
            for (_, done, _), outcome in zip(batch, result, strict=True):
                done.callback(outcome)
        self._schedule()

    def _in_thread(self, write: Callable[[list[T]], list[R]], items: list[T]) -> Deferred[list[R]]:
        from twisted.internet import reactor
        from twisted.internet.threads import deferToThreadPool
        from twisted.python.threadpool import ThreadPool

        if self._pool is None:
            # One thread: batches are written one after the other, in the order they came.
            self._pool = ThreadPool(minthreads=1, maxthreads=1, name="synthwatch-store")
            self._pool.start()
            cast("Any", reactor).addSystemEventTrigger("during", "shutdown", self._stop_pool)
        return deferToThreadPool(reactor, self._pool, write, items)

    def _stop(self) -> None:
        self._stop_pool()
        idle, self._idle = self._idle, []
        for done in idle:
            done.callback(None)

    def _stop_pool(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.stop()
