"""Scraped text never becomes active content: each payload of tests/fixtures/xss_payloads.txt
(one per line, ours) goes into every scraped field of a listing and into its captured page, and
every page that shows them is parsed and checked for scripts, event handlers and script URLs."""

from __future__ import annotations

from pathlib import Path

import lxml.html
import pytest
from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from crawlers.evidence import WarcEvidenceWriter
from crawlers.items import PageItem
from review.views import queue as queue_view
from storage.crawls import start_crawl_run
from storage.db import transaction
from storage.listings import AnalysisRecord, IndicatorRecord, MentionRecord, store_listing
from storage.sources import upsert_source
from tests.factories import add_capture
from tests.review.review_testkit import NOW, assert_inert, post, signed_in

PAYLOADS = [
    line
    for line in (Path(__file__).parents[1] / "fixtures" / "xss_payloads.txt")
    .read_text(encoding="utf-8")
    .splitlines()
    if line
]


def test_the_corpus_is_large_and_varied() -> None:
    assert len(PAYLOADS) >= 200
    assert len(set(PAYLOADS)) == len(PAYLOADS)
    for needle in ("<script", "onerror", "javascript:", "<svg", "srcdoc", "data:text/html"):
        assert any(needle in p.lower() for p in PAYLOADS), needle


def payload_mention(payload: str, start: int) -> MentionRecord:
    """Return a mention whose every field (concept, name, class, control, text) is the payload."""
    return MentionRecord(
        concept_id=payload[:100],
        name=payload[:200],
        substance_class=payload[:40],
        control=payload[:100],
        start=start,
        end=start + len(payload),
        text=payload,
        confidence=0.5,
    )


def seed_payloads(factory: sessionmaker[Session], home: Path) -> dict[int, str]:
    """Store one listing per payload, the payload in every field; return case id -> payload."""
    cases: dict[int, str] = {}
    with transaction(factory) as session:
        upsert_source(
            session,
            source_id="xss-market",
            name="XSS market",
            config={},
            scope_fingerprint="e" * 64,
            now=NOW,
        )
        run = start_crawl_run(session, source_id="xss-market", now=NOW)
        writer = WarcEvidenceWriter(home, f"evidence/xss/{run.id}.warc.gz", fsync=False)
        for number, payload in enumerate(PAYLOADS):
            url = payload  # the listing's URL is scraped too
            html = f"<html><head><title>{payload}</title></head><body><h1>{payload}</h1>"
            html += f"<p>{payload}</p><a href='{payload}'>{payload}</a></body></html>"
            ref = writer.write(
                PageItem(
                    source_id="xss-market",
                    url=f"http://127.0.0.1:8421/xss/{number}",
                    status=200,
                    headers=[("Content-Type", "text/html; charset=utf-8")],
                    body=html.encode(),
                    request_headers=[],
                    fetched_at=NOW,
                )
            )
            capture = add_capture(
                session, run.id, url, NOW, evidence=ref, content_type="text/html; charset=utf-8"
            )
            text = f"Fentanyl 99% {payload} wickr: {payload}"
            start = text.index(payload)
            stored = store_listing(
                session,
                source_id="xss-market",
                url=url,
                capture=capture,
                title=payload,
                text=text,
                fields={
                    "seller": payload,
                    "price": payload,
                    "jsonld": {"@type": "Product", "name": payload, "offers": {"price": payload}},
                    payload[:40]: payload,
                },
                analysis=AnalysisRecord(
                    score=5.0,
                    offer=True,
                    mentions=[
                        MentionRecord("fentanyl", "Fentanyl", "fentanyl", "", 0, 8, "Fentanyl", 1),
                        payload_mention(payload, start),
                    ],
                    indicators=[
                        IndicatorRecord("contact", start, len(text), payload, payload),
                        IndicatorRecord(payload[:40], start, start + 3, payload[:3], payload),
                    ],
                    reasons=[{"text": payload, "weight": payload}, payload],
                    context=[payload],
                ),
                now=NOW,
            )
            assert stored.case is not None
            cases[stored.case.id] = payload
        writer.close()
    return cases


def handlers_and_scripts(page: lxml.html.HtmlElement, payload: str) -> None:
    try:
        assert_inert(page)
    except AssertionError as error:
        raise AssertionError(f"payload {payload!r}: {error}") from error


def test_every_payload_in_every_field_renders_inert(
    app: Flask,
    factory: sessionmaker[Session],
    home: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cases = seed_payloads(factory, home)
    monkeypatch.setattr(queue_view, "PAGE_SIZE", 1000)
    analyst = signed_in(app, "ana")
    # A payload as an analyst's note too: decisions, the audit trail and the audit log show it.
    noted = list(cases.items())[:20]
    for case_id, payload in noted:
        data = {"to": "dismissed", "note": payload}
        response = post(analyst, f"/cases/{case_id}/transition", data)
        assert response.status_code == 302

    for path in ("/?state=all&source=xss-market", "/?state=dismissed", "/sources"):
        response = analyst.get(path)
        assert response.status_code == 200
        handlers_and_scripts(lxml.html.fromstring(response.get_data(as_text=True)), path)
    queue_text = lxml.html.fromstring(analyst.get("/?state=all").get_data(as_text=True))
    assert PAYLOADS[0] in queue_text.text_content()  # shown as text, not dropped

    for case_id, payload in cases.items():
        page = analyst.get(f"/cases/{case_id}")
        assert page.status_code == 200
        parsed = lxml.html.fromstring(page.get_data(as_text=True))
        handlers_and_scripts(parsed, payload)
        assert payload in parsed.xpath("string(//h1)")
        (frame,) = parsed.xpath("//iframe")
        assert frame.get("sandbox") == ""
        captured = analyst.get(frame.get("src"))
        assert "sandbox" in captured.headers["Content-Security-Policy"]
        shown = lxml.html.fromstring(captured.get_data(as_text=True))
        handlers_and_scripts(shown, payload)
        # Nothing in a captured page points anywhere: no link, image, frame or form target.
        assert shown.xpath("//*[@href or @src or @action or @formaction or @srcdoc]") == []

    admin = signed_in(app, "adm")
    audit = admin.get("/audit?action=case.dismissed")
    audit_page = lxml.html.fromstring(audit.get_data(as_text=True))
    handlers_and_scripts(audit_page, "audit log")
    assert len(audit_page.xpath("//table[@class='audit-rows']/tbody/tr")) == len(noted)
