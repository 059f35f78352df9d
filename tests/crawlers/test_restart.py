"""A crawl killed with SIGKILL mid-way and started again ends with the listings of one
undisturbed crawl of the same site: none lost, none doubled, the killed run interrupted; also
when the kill comes mid-batch, with evidence written that no committed row points at yet."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select
from warcio.archiveiterator import ArchiveIterator

from crawlers.runner import CrawlOutcome
from storage.db import make_engine, make_session_factory
from storage.models import Capture, CrawlRun, Listing, ListingVersion
from storage.warc import read_capture
from tests.conftest import migrated_copy
from tests.crawlers.harness import Harness, MockServer
from tests.factories import source_toml

pytestmark = pytest.mark.slow

LISTINGS = 30
PER_PAGE = 10
SLOW = 0.05  # seconds per listing page: the crawl is mid-way when it is killed
KILL_AFTER = 8  # listings stored
# Batches of 4 that wait 5 s for their fourth: a kill finds items written to the WARC file whose
# batch has not committed.
SMALL_BATCHES = {"SYNTHWATCH_STORE_BATCH_SIZE": "4", "SYNTHWATCH_STORE_BATCH_SECONDS": "5"}


def build_site(server: MockServer) -> None:
    server.add("/robots.txt", "User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
    for page in range(LISTINGS // PER_PAGE):
        links = "".join(
            f'<a class="listing" href="/item/{n}">Item {n}</a>'
            for n in range(page * PER_PAGE, (page + 1) * PER_PAGE)
        )
        following = f'<a rel="next" href="/?page={page + 1}">next</a>'
        more = following if page + 1 < LISTINGS // PER_PAGE else ""
        server.add("/" if page == 0 else f"/?page={page}", f"<html><body>{links}{more}</body>")
    for n in range(LISTINGS):
        # Half the listings carry an ETag: seen again they answer 304, the rest a full page.
        headers = {"ETag": f'"item-{n}"'} if n % 2 else {}
        body = f"<html><body><h1>Item {n}</h1><p>Listing number {n}, $20.</p></body></html>"
        server.add(f"/item/{n}", body, delay=SLOW, headers=headers)


def fresh_harness(tmp_path: Path, now: datetime, template: Path) -> Iterator[Harness]:
    tmp_path.mkdir()
    engine = make_engine(migrated_copy(template, tmp_path / "synthwatch.db"))
    try:
        yield Harness(tmp_path, str(engine.url), make_session_factory(engine), now)
    finally:
        engine.dispose()


@pytest.fixture
def undisturbed(tmp_path: Path, now: datetime, migrated_template: Path) -> Iterator[Harness]:
    yield from fresh_harness(tmp_path / "undisturbed", now, migrated_template)


@pytest.fixture
def restarted(tmp_path: Path, now: datetime, migrated_template: Path) -> Iterator[Harness]:
    yield from fresh_harness(tmp_path / "restarted", now, migrated_template)


def listings(harness: Harness) -> dict[str, list[str]]:
    """Return each listing's URL path with the text hashes of its versions."""
    with harness.session_factory() as session:
        rows = session.scalars(select(Listing).order_by(Listing.id)).all()
        found = {row.url.split("/", 3)[3]: [v.text_sha256 for v in row.versions] for row in rows}
        assert len(found) == len(rows)
        for capture in session.scalars(select(Capture)):
            check = read_capture(harness.home, capture)
            assert check.verified, check.message
        return found


def stored_count(harness: Harness) -> int:
    with harness.session_factory() as session:
        return session.scalar(select(func.count(Listing.id))) or 0


def response_records(harness: Harness) -> int:
    """Count the response records in the evidence files so far (the last may be half written)."""
    count = 0
    for path in (harness.home / "evidence").glob("*/*.warc.gz"):
        with path.open("rb") as stream, contextlib.suppress(Exception):
            # A record still being appended ends the count.
            for record in ArchiveIterator(stream):
                count += record.rec_type == "response"
    return count


def captured(harness: Harness) -> int:
    with harness.session_factory() as session:
        return session.scalar(select(func.count(Capture.id))) or 0


def kill_mid_crawl(
    harness: Harness, sources: Path, settings: dict[str, str], *, mid_batch: bool
) -> CrawlOutcome:
    """Start a crawl and SIGKILL its process group once some listings are stored (and, with
    ``mid_batch``, while evidence is written that no committed capture points at)."""
    result: list[CrawlOutcome] = []
    thread = threading.Thread(
        target=lambda: result.append(harness.crawl("site", sources, timeout=120, settings=settings))
    )
    thread.start()
    deadline = time.monotonic() + 60
    # One or two items waiting for a batch of four: the next to come cannot commit it.
    while stored_count(harness) < KILL_AFTER or (
        mid_batch and not 0 < response_records(harness) - captured(harness) < 3
    ):
        assert thread.is_alive() and time.monotonic() < deadline, "the crawl ended too soon"
        time.sleep(0.02)
    (run_file,) = (harness.home / "logs").glob("site-*.json")
    pid = json.loads(run_file.read_text())["pid"]
    os.killpg(pid, signal.SIGKILL)
    thread.join(30)
    assert result, "run_crawl did not return"
    return result[0]


@pytest.mark.parametrize("batches", [{}, SMALL_BATCHES], ids=["default", "mid-batch"])
def test_a_crawl_killed_and_restarted_ends_like_an_undisturbed_one(
    undisturbed: Harness, restarted: Harness, server: MockServer, batches: dict[str, str]
) -> None:
    build_site(server)
    text = source_toml("site", server.base_url, index_links="[]")

    sources = undisturbed.write_sources(text)
    undisturbed.register_file(sources)
    assert undisturbed.crawl("site", sources).ok
    expected = listings(undisturbed)

    sources = restarted.write_sources(text)
    restarted.register_file(sources)
    killed = kill_mid_crawl(restarted, sources, batches, mid_batch=bool(batches))
    assert killed.exit_code == -signal.SIGKILL and killed.run_id is not None
    partial = stored_count(restarted)
    if batches:  # evidence on disk that no committed row points at: a batch died unwritten
        assert response_records(restarted) > captured(restarted)
    assert KILL_AFTER <= partial < LISTINGS
    again = restarted.crawl("site", sources, settings=batches)

    assert again.ok, again.log_path.read_text()
    assert len(expected) == LISTINGS
    assert listings(restarted) == expected  # same URLs, same versions: none lost or doubled
    with restarted.session_factory() as session:
        old = session.get(CrawlRun, killed.run_id)
        assert old is not None and old.status == "interrupted"
        new = session.get(CrawlRun, again.run_id)
        assert new is not None and new.status == "finished"
        assert new.stats["synthwatch/interrupted_runs"] == 1
        # Listings the killed run stored were seen again, not stored anew.
        assert new.stats["synthwatch/listings_new"] == LISTINGS - partial
        seen = new.stats["synthwatch/listings_unchanged"]
        assert seen == partial and new.stats["synthwatch/listings_changed"] == 0
        assert session.scalar(select(func.count(ListingVersion.id))) == LISTINGS
    conditional = [hit for hit in server.hits if "If-None-Match" in hit.headers]
    assert conditional and all(hit.status == 304 for hit in conditional)
