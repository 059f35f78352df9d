"""Hostile pages crawled end to end on 127.0.0.1: each is stored, with its WARC capture and a
recorded reason for whatever was read differently."""

from __future__ import annotations

import codecs

import pytest
from sqlalchemy import select

from crawlers.html_text import EXTRACTION_FIELD, MAX_TEXT_CHARS
from storage.models import CrawlRun, Listing
from storage.warc import read_capture
from tests.crawlers.fakes import FailingAnalyser
from tests.crawlers.harness import Harness, MockServer
from tests.factories import source_toml

pytestmark = pytest.mark.slow

OFFER = "<p>Fentanyl powder, $120 a gram</p>"
HOSTILE = {
    # A byte order mark, no charset: Scrapy says utf-16-le, which lxml did not know.
    "/item/utf16": codecs.BOM_UTF16_LE
    + f"<html><body><h1>UTF-16</h1>{OFFER}</body></html>".encode("utf-16-le"),
    "/item/deep": (
        "<html><body><h1>Deep</h1>" + "<div>" * 3000 + OFFER + "</div>" * 3000 + "</body></html>"
    ).encode(),
    "/item/json-ld": (
        '<html><body><script type="application/ld+json">'
        + "[" * 100_000
        + "]" * 100_000
        + f"</script><h1>JSON-LD</h1>{OFFER}</body></html>"
    ).encode(),
    "/item/huge": (
        "<html><body><h1>Huge</h1><p>" + "Fentanyl $120 " * 380_000 + "</p></body></html>"
    ).encode(),
    "/item/fail": f"<html><body><h1>Fail</h1>{OFFER}<p>{FailingAnalyser.FAIL_WORD}</p>".encode(),
}
NOTES = {
    "/item/utf16": None,
    "/item/deep": "markup_too_deep",
    "/item/json-ld": "json_ld_too_deep",
    "/item/huge": "text_truncated",
    "/item/fail": "analysis_failed",
}


def test_hostile_pages_are_stored_with_their_evidence_and_a_reason(
    harness: Harness, server: MockServer
) -> None:
    server.add("/robots.txt", "User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
    links = "".join(f'<a class="listing" href="{path}">{path}</a>' for path in HOSTILE)
    server.add("/", f"<html><body>{links}</body></html>")
    for path, body in HOSTILE.items():
        server.add(path, body, headers={"Content-Type": "text/html"})
    sources = harness.write_sources(source_toml("hostile", server.base_url, index_links=None))
    harness.register_file(sources)

    outcome = harness.crawl(
        "hostile",
        sources,
        settings={"SYNTHWATCH_ANALYSER": "tests.crawlers.fakes.FailingAnalyser"},
    )

    assert outcome.ok, outcome.log_path.read_text()
    with harness.session_factory() as session:
        listings = {
            listing.url.removeprefix(server.base_url): listing
            for listing in session.scalars(select(Listing))
        }
        assert set(listings) == set(HOSTILE)
        for path, note in NOTES.items():
            version = listings[path].versions[-1]
            assert read_capture(harness.home, version.capture).verified, path
            assert "Fentanyl powder" in version.text or path == "/item/huge", path
            notes = version.fields.get(EXTRACTION_FIELD, {})
            assert (note in notes) if note else not notes, (path, notes)
            if path != "/item/fail":
                assert version.offer, (path, version.reasons)
        huge = listings["/item/huge"].versions[-1]
        assert len(huge.text) == MAX_TEXT_CHARS
        run = session.get(CrawlRun, outcome.run_id)
        assert run is not None
        stats = run.stats
    assert stats["synthwatch/listings_stored"] == len(HOSTILE)
    for note in filter(None, NOTES.values()):
        assert stats[f"synthwatch/extraction_notes/{note}"] == 1, note
    assert stats["synthwatch/errors/analysis"] == 1
    assert {"url": f"{server.base_url}/item/fail", "reason": "analysis"} in stats[
        "synthwatch/error_urls"
    ]
