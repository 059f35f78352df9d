"""What the review tests share: a frozen time, invented listings to seed, and page helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import lxml.html
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from crawlers.items import EvidenceRef
from review.users import create_user
from storage.crawls import finish_crawl_run, start_crawl_run
from storage.db import transaction
from storage.listings import AnalysisRecord, IndicatorRecord, MentionRecord, store_listing
from storage.models import Capture
from storage.sources import upsert_source
from tests.conftest import NOW
from tests.factories import add_capture

WEEK = "2026-W48"
PASSWORD = "correct horse battery"
XSS_TITLE = "<script>alert(1)</script>"
XSS_IMG = "<img src=x onerror=alert(1)>"
XSS_URL = "javascript:alert(1)"
# A fixed Ed25519 test key (base64 of 32 bytes), in the format of SYNTHWATCH_SIGNING_KEY.
# Where the seeded listings' evidence would be; no file is written.
SEED_EVIDENCE = EvidenceRef("evidence/run.warc.gz", 1024, 2048, "ab" * 32)
SIGNING_KEY = "bWFkZS11cC10ZXN0LWtleS1vZi1zeW50aHdhdGNoISE="


class Clock:
    """A clock the tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@dataclass
class Seed:
    """Ids of what the seed put in the database."""

    users: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)
    listings: dict[str, int] = field(default_factory=dict)
    source_id: str = "demo-market"
    run_ids: list[int] = field(default_factory=list)


def mention(
    text: str, surface: str, concept: str, name: str, cls: str, control: str = ""
) -> MentionRecord:
    """Return a mention of the first occurrence of ``surface`` in ``text``."""
    start = text.index(surface)
    return MentionRecord(concept, name, cls, control, start, start + len(surface), surface, 0.95)


def indicator(
    text: str, surface: str, kind: str, value: str = "", key: str | None = None
) -> IndicatorRecord:
    """Return an indicator at the first occurrence of ``surface`` in ``text``."""
    start = text.index(surface)
    return IndicatorRecord(kind, start, start + len(surface), surface, value, key)


FENTANYL_TEXT = (
    "Buy fentanyl powder, 99% purity, 10g minimum.\n"
    "Stealth shipping worldwide. Contact wickr: chemking"
)
NITAZENE_TEXT = "Protonitazene HCl for sale, $250 per 5g. Research chemical, not for human use."
CATHINONE_TEXT = "4-MMC crystals in stock. Discreet delivery in the EU."
XSS_TEXT = f"Fresh {XSS_IMG} carfentanil {XSS_TITLE} pay in BTC"


def _listings(seed: Seed) -> list[dict[str, Any]]:
    return [
        {
            "key": "fentanyl",
            "title": "Fentanyl powder 99%",
            "text": FENTANYL_TEXT,
            "fields": {"price": "$120/g", "seller": "chemking", "posted": "2026-11-20"},
            "analysis": AnalysisRecord(
                score=9.1,
                offer=True,
                mentions=[
                    mention(FENTANYL_TEXT, "fentanyl", "fentanyl", "Fentanyl", "opioid", "CII")
                ],
                indicators=[
                    indicator(FENTANYL_TEXT, "99% purity", "purity", "99%"),
                    indicator(FENTANYL_TEXT, "10g minimum", "bulk", "10 g"),
                    indicator(FENTANYL_TEXT, "Stealth shipping", "shipping"),
                    indicator(
                        FENTANYL_TEXT, "wickr: chemking", "contact", "wickr", "wickr:chemking"
                    ),
                ],
                reasons=[
                    {"text": "names fentanyl (fentanyl class, US Schedule II)", "weight": 2.5},
                    {"text": "states prices: USD 120", "weight": 1.2},
                    {"text": "news report", "weight": -0.75},
                ],
            ),
        },
        {
            "key": "nitazene",
            "title": "Protonitazene HCl",
            "text": NITAZENE_TEXT,
            "fields": {"price": "$250", "quantity": "5g"},
            "analysis": AnalysisRecord(
                score=7.5,
                offer=True,
                mentions=[
                    mention(
                        NITAZENE_TEXT,
                        "Protonitazene",
                        "protonitazene",
                        "Protonitazene",
                        "nitazene",
                        "CI",
                    ),
                ],
                # Overlaps the mention partially: "nitazene HCl" crosses its end.
                indicators=[
                    indicator(NITAZENE_TEXT, "nitazene HCl", "analogue"),
                    indicator(NITAZENE_TEXT, "$250 per 5g", "price", "250 USD"),
                    indicator(NITAZENE_TEXT, "Research chemical", "disclaimer"),
                ],
                reasons=[{"text": "names protonitazene", "weight": 6}],
            ),
        },
        {
            "key": "cathinone",
            "title": "4-MMC crystals",
            "text": CATHINONE_TEXT,
            "fields": {},
            "analysis": AnalysisRecord(
                score=4.2,
                offer=True,
                mentions=[
                    mention(CATHINONE_TEXT, "4-MMC", "mephedrone", "Mephedrone", "cathinone")
                ],
                indicators=[indicator(CATHINONE_TEXT, "Discreet delivery", "shipping")],
            ),
        },
        {
            "key": "xss",
            "title": XSS_TITLE,
            "text": XSS_TEXT,
            "url": XSS_URL,
            "fields": {"seller": XSS_IMG, "price": XSS_TITLE, "posted": '"><svg onload=alert(3)>'},
            "analysis": AnalysisRecord(
                score=5.0,
                offer=True,
                mentions=[
                    mention(
                        XSS_TEXT,
                        "carfentanil",
                        'x" onmouseover="alert(1)',
                        XSS_IMG,
                        '"><script>alert(4)</script>',
                    ),
                    mention(XSS_TEXT, XSS_IMG, "img", XSS_TITLE, "opioid"),
                ],
                indicators=[indicator(XSS_TEXT, "BTC", '"><b onclick=alert(5)>', XSS_IMG)],
                reasons=[{"text": XSS_TITLE, "weight": XSS_IMG}],
                context=[XSS_IMG],
            ),
        },
        {
            "key": "news",
            "title": "Police warn about nitazenes",
            "text": "News: police warn about nitazenes in the city.",
            "fields": {},
            "analysis": AnalysisRecord(score=0.5, offer=False),
        },
    ]


def seed_database(factory: sessionmaker[Session]) -> Seed:
    """Fill a migrated database with users, a source, crawl runs and listings."""
    seed = Seed()
    with transaction(factory) as session:
        for username, role in (("ana", "analyst"), ("lee", "legal"), ("adm", "admin")):
            user = create_user(session, username=username, password=PASSWORD, role=role, now=NOW)
            seed.users[username] = user.id
        old = create_user(session, username="old", password=PASSWORD, role="analyst", now=NOW)
        old.active = False
        seed.users["old"] = old.id

        upsert_source(
            session,
            source_id=seed.source_id,
            name="Demo Market <b>",
            config={"seeds": ["http://127.0.0.1:8421/"]},
            scope_fingerprint="f" * 64,
            now=NOW - timedelta(days=30),
        )
        # An older case, from the week before.
        last_week = NOW - timedelta(days=7)
        old_run = start_crawl_run(session, source_id=seed.source_id, now=last_week)
        old_capture = _capture(session, old_run.id, "http://127.0.0.1:8421/item/old", last_week)
        text = "Etizolam blotters, 100 pieces, ships from NL."
        stored = store_listing(
            session,
            source_id=seed.source_id,
            url="http://127.0.0.1:8421/item/old",
            capture=old_capture,
            title="Etizolam blotters",
            text=text,
            fields={},
            analysis=AnalysisRecord(
                score=6.0,
                offer=True,
                mentions=[
                    mention(text, "Etizolam", "etizolam", "Etizolam", "designer benzodiazepine")
                ],
            ),
            now=last_week,
        )
        assert stored.case is not None
        seed.cases["old"] = stored.case.id
        finish_crawl_run(session, old_run, now=last_week, status="finished", stats={})

        run = start_crawl_run(
            session, source_id=seed.source_id, now=NOW - timedelta(hours=2), warc_file="run.warc.gz"
        )
        seed.run_ids.append(run.id)
        for number, item in enumerate(_listings(seed)):
            url = item.get("url", f"http://127.0.0.1:8421/item/{number}")
            capture = _capture(session, run.id, url, NOW - timedelta(hours=1))
            stored = store_listing(
                session,
                source_id=seed.source_id,
                url=url,
                capture=capture,
                title=item["title"],
                text=item["text"],
                fields=item["fields"],
                analysis=item["analysis"],
                now=NOW - timedelta(hours=1),
            )
            seed.listings[item["key"]] = stored.listing.id
            if stored.case is not None:
                seed.cases[item["key"]] = stored.case.id
        # The fentanyl listing changed later the same day: a second version.
        changed = FENTANYL_TEXT + "\nNow also in 50g."
        fentanyl = _listings(seed)[0]
        store_listing(
            session,
            source_id=seed.source_id,
            url="http://127.0.0.1:8421/item/0",
            capture=_capture(session, run.id, "http://127.0.0.1:8421/item/0", NOW),
            title="Fentanyl powder 99% (50g)",
            text=changed,
            fields=fentanyl["fields"],
            analysis=fentanyl["analysis"],
            now=NOW - timedelta(minutes=30),
        )
        finish_crawl_run(
            session,
            run,
            now=NOW - timedelta(minutes=20),
            status="finished",
            stats={
                "synthwatch/guard/refused": 3,
                "synthwatch/guard/refused/onion": 3,
                "robotstxt/forbidden": 1,
                "synthwatch/pages/blocked": 2,
                "response_received_count": 12,
            },
        )
        failed = start_crawl_run(session, source_id=seed.source_id, now=NOW - timedelta(hours=1))
        seed.run_ids.append(failed.id)
        finish_crawl_run(
            session,
            failed,
            now=NOW - timedelta(minutes=50),
            status="failed",
            stats={},
            error="robots.txt timed out: <b>host disallowed</b>",
        )
    return seed


def _capture(session: Session, run_id: int, url: str, when: datetime) -> Capture:
    return add_capture(session, run_id, url, when, evidence=SEED_EVIDENCE)


def parse(response: TestResponse) -> lxml.html.HtmlElement:
    """Parse a response's HTML."""
    return lxml.html.fromstring(response.get_data(as_text=True))


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """Return the CSRF token of the forms on a page (all of a session's forms share it)."""
    page = parse(client.get(path))
    tokens = set(page.xpath("//input[@name='csrf_token']/@value"))
    assert len(tokens) == 1, f"{path} has {len(tokens)} different CSRF tokens"
    return str(tokens.pop())


def session_token(client: FlaskClient) -> str:
    """Return the CSRF token of a signed-in client (read from the sources page, open to all)."""
    return csrf_token(client, "/sources")


def post(client: FlaskClient, path: str, data: dict[str, Any] | None = None) -> TestResponse:
    """Post a form with the client's CSRF token."""
    return client.post(path, data={"csrf_token": session_token(client), **(data or {})})


def signed_in(app: Flask, username: str, password: str = PASSWORD) -> FlaskClient:
    """Return a new client of the app, signed in as ``username``."""
    client = app.test_client()
    response = login(client, username, password)
    assert response.status_code == 302, f"{username} could not sign in"
    return client


def login(client: FlaskClient, username: str, password: str) -> TestResponse:
    """Post the login form with its CSRF token."""
    token = csrf_token(client)
    return client.post(
        "/login", data={"csrf_token": token, "username": username, "password": password}
    )


# The one script the app serves: keyboard triage, from its own origin.
OWN_SCRIPTS = ("/static/triage.js", "/static/kept_form.js", "/static/clusters.js")


def assert_inert(page: lxml.html.HtmlElement) -> None:
    """Fail when a page has a script of its own making, an event handler or a script URL."""
    scripts = [s.get("src") for s in page.iter("script")]
    assert all(src in OWN_SCRIPTS for src in scripts), scripts
    handlers = [
        (element.tag, name)
        for element in page.iter()
        if isinstance(element.tag, str)
        for name in element.attrib
        if name.lower().startswith("on")
    ]
    assert handlers == []
    for element in page.xpath("//*[@href or @src or @action or @formaction or @data]"):
        for name in ("href", "src", "action", "formaction", "data"):
            value = "".join((element.get(name) or "").split()).lower()
            assert not value.startswith(("javascript:", "data:", "vbscript:")), (name, value)
