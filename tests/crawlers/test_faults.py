"""Acceptance: a crawl of a site that fails in every scripted way, end to end in a child process.

Two servers on 127.0.0.1 (one host, two ports): the shop, whose index links a listing for each
fault, and a second port whose robots.txt answers 503. Every listed URL must end as exactly
one stored listing or one recorded error, block or refusal with its reason; the servers' logs
must show no request to a disallowed path, no two requests to the host at once, and none
before a Retry-After expired.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from storage.db import make_engine, make_session_factory
from storage.models import Capture, CrawlRun, Listing
from storage.warc import read_capture
from tests.conftest import NOW, migrated_copy
from tests.crawlers.harness import Harness, Hit, MockServer, Route
from tests.factories import source_toml

pytestmark = pytest.mark.slow

MIB = 1024 * 1024
RETRY_AFTER = 2.0
# The server times a request's end just before it answers; a request it left hanging ends
# when it sees the connection closed, which can come a moment after the client gave up and
# went on. That moment is allowed for abandoned requests only: had the crawler not given up,
# the overlap would last until its 1 s timeout.
ABANDONED_SLACK = 0.1
CAPTCHA = '<html><body><div class="g-recaptcha"></div><p>Are you a robot?</p></body></html>'


def listing(name: str) -> str:
    return f"<html><body><h1>{name}</h1><p>A listing: {name}, $20.</p></body></html>"


# Every listing URL of the index, and how it must end: stored, or (kind, reason).
OUTCOMES: dict[str, tuple[str, str]] = {
    "/item/ok": ("stored", ""),
    "/item/etag": ("stored", ""),
    "/item/flaky": ("stored", ""),  # 503, then 200: Scrapy's retry
    "/item/busy": ("stored", ""),  # 429 with Retry-After: 2, then 200
    "/item/reset": ("error", "connection_lost"),
    "/item/hang": ("error", "timeout"),
    "/item/loop-a": ("error", "redirect_loop"),
    "/item/chain/0": ("error", "too_many_redirects"),
    "/item/bomb": ("error", "decompression_bomb"),
    "/item/huge": ("error", "too_large"),
    "/item/chunked-huge": ("error", "too_large"),  # no Content-Length: cut off as it comes
    "/item/missing": ("error", "http_404"),
    "/item/captcha": ("blocked", ""),
    "/private/item/1": ("refused", "robots"),
    "{base2}/item/elsewhere": ("refused", "robots"),  # the second port's robots.txt is 503
}


def build_site(shop: MockServer, second: MockServer) -> None:
    links = "\n".join(
        f'<a class="listing" href="{path.replace("{base2}", second.base_url)}">{path}</a>'
        for path in OUTCOMES
    )
    shop.add("/", f"<html><body>{links}</body></html>")
    # robots.txt moved elsewhere on the host: followed, through the guard.
    shop.add("/robots.txt", status=301, headers={"Location": "{base}/robots-real.txt"})
    shop.add("/robots-real.txt", "User-agent: *\nDisallow: /private/\n")
    second.add("/robots.txt", "busy", status=503)
    second.add("/item/elsewhere", listing("elsewhere"))
    slow = 0.05  # every answer takes a while: requests in flight at once would overlap
    shop.add("/item/ok", listing("ok"), delay=slow)
    shop.add("/item/etag", listing("etag"), delay=slow, headers={"ETag": '"e1"'})
    shop.add_sequence(
        "/item/flaky", Route(503, b"unavailable", delay=slow), Route(200, listing_bytes("flaky"))
    )
    shop.add_sequence(
        "/item/busy",
        Route(429, b"slow down", headers={"Retry-After": f"{RETRY_AFTER:.0f}"}, delay=slow),
        Route(200, listing_bytes("busy")),
    )
    shop.add("/item/reset", reset=True)
    shop.add("/item/hang", hang=30.0)
    shop.add("/item/loop-a", status=302, headers={"Location": "/item/loop-b"}, delay=slow)
    shop.add("/item/loop-b", status=302, headers={"Location": "/item/loop-a"}, delay=slow)
    for n in range(10):
        shop.add(f"/item/chain/{n}", status=302, headers={"Location": f"/item/chain/{n + 1}"})
    bomb = gzip.compress(b"\0" * (11 * MIB))
    shop.add("/item/bomb", bomb, headers={"Content-Encoding": "gzip"}, delay=slow)
    shop.add("/item/huge", announce=11 * MIB)
    shop.add("/item/chunked-huge", chunked=11 * MIB)
    shop.add("/item/captcha", CAPTCHA, status=403, delay=slow)


def listing_bytes(name: str) -> bytes:
    return listing(name).encode()


@pytest.fixture(scope="module")
def crawled(
    tmp_path_factory: pytest.TempPathFactory, migrated_template: Path
) -> Iterator[dict[str, Any]]:
    """One crawl of the faulty site, shared by this module's tests (it takes seconds)."""
    tmp_path = tmp_path_factory.mktemp("faults")
    engine = make_engine(migrated_copy(migrated_template, tmp_path / "synthwatch.db"))
    harness = Harness(tmp_path, str(engine.url), make_session_factory(engine), NOW)
    server, second = MockServer(), MockServer()
    server.start()
    second.start()
    try:
        yield crawl(harness, server, second)
    finally:
        server.stop()
        second.stop()
        engine.dispose()


def crawl(harness: Harness, server: MockServer, second: MockServer) -> dict[str, Any]:
    build_site(server, second)
    sources = harness.write_sources(source_toml("faults", server.base_url))
    harness.register_file(sources)
    outcome = harness.crawl(
        "faults",
        sources,
        settings={"DOWNLOAD_TIMEOUT": "1", "RETRY_TIMES": "1", "DOWNLOAD_DELAY": "0.05"},
    )
    assert outcome.ok, outcome.log_path.read_text()
    with harness.session_factory() as session:
        run = session.get(CrawlRun, outcome.run_id)
        assert run is not None
        stored = {listing.url for listing in session.scalars(select(Listing))}
        for capture in session.scalars(select(Capture)):
            check = read_capture(harness.home, capture)
            assert check.verified, check.message
        stats = dict(run.stats)
    hits = sorted(server.hits + second.hits, key=lambda hit: hit.start)
    return {"stats": stats, "stored": stored, "hits": hits, "shop": server, "second": second}


def absolute(path: str, crawled: dict[str, Any]) -> str:
    if path.startswith("{base2}"):
        return path.replace("{base2}", crawled["second"].base_url)
    return crawled["shop"].base_url + path


def test_every_listed_url_ends_exactly_once_with_its_reason(crawled: dict[str, Any]) -> None:
    stats = crawled["stats"]
    errors = Counter((e["url"], e["reason"]) for e in stats["synthwatch/error_urls"])
    ends: dict[str, list[tuple[str, str]]] = {}
    for url in crawled["stored"]:
        ends.setdefault(url, []).append(("stored", ""))
    for (url, reason), count in errors.items():
        ends.setdefault(url, []).extend([("error", reason)] * count)
    for url in stats.get("synthwatch/blocked_urls", []):
        ends.setdefault(url, []).append(("blocked", ""))
    for key, urls in stats.items():
        if key.startswith("synthwatch/refused_urls/"):
            for url in urls:
                ends.setdefault(url, []).append(("refused", key.rsplit("/", 1)[1]))

    expected = {absolute(path, crawled): [end] for path, end in OUTCOMES.items()}
    seed = crawled["shop"].base_url + "/"
    assert {url: end for url, end in ends.items() if url != seed} == expected

    assert stats["synthwatch/listings_stored"] == stats["synthwatch/listings_new"] == 4
    assert stats["synthwatch/errors"] == 8
    # Every error but the 404, the block, and the unreachable robots.txt of the second port.
    assert stats["synthwatch/incomplete"] == 7 + 1 + 1
    assert stats["synthwatch/robots/unreachable"] == 1
    assert stats["synthwatch/retry_after/paused"] == 1
    # Not complete: this run gave no listing a miss.
    assert stats["synthwatch/listings_missed"] == 0


def test_no_disallowed_path_was_requested(crawled: dict[str, Any]) -> None:
    shop_paths = [hit.path for hit in crawled["shop"].hits]
    second_paths = [hit.path for hit in crawled["second"].hits]

    assert not [path for path in shop_paths if path.startswith("/private/")]
    assert second_paths == ["/robots.txt"] * 3  # asked after each back-off, nothing else
    assert shop_paths[:2] == ["/robots.txt", "/robots-real.txt"]
    assert shop_paths.count("/item/loop-a") == 1
    assert shop_paths.count("/item/hang") == 2 and shop_paths.count("/item/reset") == 2
    assert "/item/chain/5" in shop_paths and "/item/chain/6" not in shop_paths


def test_never_two_requests_to_the_host_at_once(crawled: dict[str, Any]) -> None:
    hits: list[Hit] = crawled["hits"]

    overlaps = [
        (before.path, after.path)
        for before, after in pairwise(hits)
        if after.start < before.end - (ABANDONED_SLACK if before.abandoned else 0.0)
    ]

    assert len(hits) > 20
    assert overlaps == []


def test_nothing_was_requested_before_the_retry_after_expired(crawled: dict[str, Any]) -> None:
    hits: list[Hit] = crawled["hits"]
    (busy,) = [hit for hit in hits if hit.path == "/item/busy" and hit.status == 429]

    later = [hit for hit in hits if hit.start > busy.end]

    assert later, "the crawl went on after the 429"
    assert min(hit.start for hit in later) >= busy.end + RETRY_AFTER
    assert any(hit.path == "/item/busy" and hit.status == 200 for hit in later)
