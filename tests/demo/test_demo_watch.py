"""The demo's watch rule (synthwatch/demo_alerts.py) alerts once: saved before the crawls, it
matches the forum's isotonitazene thread on the first day, and the thread's second-day version
(demo/second_day.py) raises no second alert. Pages are read and analysed as the crawl does."""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crawlers.html_text import PageReader
from crawlers.pipelines import analysis_record
from demo.responses import default_site_dir
from demo.second_day import second_day_body
from nlp import Analyser
from review.users import create_user
from storage.db import transaction
from storage.models import Listing, WatchAlert
from storage.sources import upsert_source
from storage.watch import match_rules
from synthwatch.demo_alerts import DEMO_RULE, RULE_OWNER, ensure_demo_rule
from tests.factories import add_listing

DEMO = Path(__file__).resolve().parents[2] / "demo"
EXPECTED = tomllib.loads((DEMO / "expected.toml").read_text(encoding="utf-8"))
SOURCES = {
    s["id"]: s for s in tomllib.loads((DEMO / "sources.toml").read_text(encoding="utf-8"))["source"]
}
BASE = "http://127.0.0.1:8765"
THREAD = "/forum/thread/3106.html"


def register_sources(session: Session, now: datetime) -> None:
    for source_id in SOURCES:
        upsert_source(
            session,
            source_id=source_id,
            name=source_id,
            config={"seeds": [f"{BASE}/"]},
            scope_fingerprint="d" * 64,
            now=now,
        )


def store_demo(session: Session, now: datetime, *, day: int = 1) -> None:
    """Store every listing page of the demo as its source's crawl would read it that day."""
    analyser = Analyser()
    for entry in EXPECTED["offer"] + EXPECTED["benign"]:
        body = (default_site_dir() / entry["path"].lstrip("/")).read_bytes()
        if day == 2:
            body = second_day_body(entry["path"], body)
        reader = PageReader(SOURCES[entry["source"]].get("fields"))
        page = reader.read(body.replace(b"{{BASE_URL}}", BASE.encode()))
        add_listing(
            session,
            f"{BASE}{entry['path']}",
            now,
            source_id=entry["source"],
            text=page.text,
            title=page.title,
            analysis=analysis_record(analyser.analyse(page.text, page.signals)),
        )


def test_the_demo_rule_alerts_once_across_both_days(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    with transaction(session_factory) as session:
        create_user(
            session, username=RULE_OWNER, password="demo password 1234", role="analyst", now=now
        )
        register_sources(session, now)
        rule_id = ensure_demo_rule(session, now)
        assert ensure_demo_rule(session, now) == rule_id  # a second demo run keeps the one rule
    with transaction(session_factory) as session:
        store_demo(session, now + timedelta(minutes=1))
    with transaction(session_factory) as session:
        first = match_rules(session, now=now + timedelta(minutes=2)).alerts
    assert [new.rule.name for new in first] == [DEMO_RULE.name]
    with transaction(session_factory) as session:
        store_demo(session, now + timedelta(minutes=3), day=2)
        thread = session.scalar(select(Listing).where(Listing.url == f"{BASE}{THREAD}"))
        assert thread is not None and len(thread.versions) == 2  # it changed overnight
        assert match_rules(session, now=now + timedelta(minutes=4)).alerts == []
        (alert,) = session.scalars(select(WatchAlert))
        assert thread.case is not None and alert.case_id == thread.case.id
        assert alert.facts["substances"][0]["concept_id"] == "isotonitazene"
