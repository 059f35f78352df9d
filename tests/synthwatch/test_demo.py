"""End to end: `synthwatch demo --no-serve --json` against the invented marketplace.

One run of the real command (a demo server on 127.0.0.1, three `scrapy crawl` child processes, a
SQLite database in a temporary folder), then checks of its database, evidence and the demo
server's access log against `demo/expected.toml`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from demo.access_log import read_access_log
from storage.db import make_engine, make_session_factory
from storage.models import Capture, Listing
from storage.warc import read_capture

pytestmark = pytest.mark.slow

EXPECTED = tomllib.loads((Path(__file__).parents[2] / "demo" / "expected.toml").read_text())


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "SYNTHWATCH_HOME": str(home)}
    env.pop("SYNTHWATCH_DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "synthwatch", "demo", "--no-serve", "--json", "--site-port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    summary: dict[str, Any] = json.loads(result.stdout)
    summary["home"] = home
    return summary


@pytest.fixture(scope="module")
def db(demo_run: dict[str, Any]) -> Session:
    engine = make_engine(f"sqlite:///{demo_run['home'] / 'synthwatch.db'}")
    return make_session_factory(engine)()


def listing_at(db: Session, demo_run: dict[str, Any], path: str) -> Listing:
    url = demo_run["site_url"] + path
    listing = db.scalar(select(Listing).where(Listing.url == url))
    assert listing is not None, f"{path} was not stored"
    return listing


@pytest.mark.parametrize("offer", EXPECTED["offer"], ids=lambda o: o["path"])
def test_every_target_offer_is_flagged_with_its_substance(
    db: Session, demo_run: dict[str, Any], offer: dict[str, Any]
) -> None:
    listing = listing_at(db, demo_run, offer["path"])
    latest = listing.versions[-1]
    assert latest.offer, f"{offer['path']} not flagged: {latest.reasons}"
    assert listing.case is not None and listing.case.state == "new"
    assert set(offer["substances"]) <= {mention.concept_id for mention in latest.mentions}


@pytest.mark.parametrize("benign", EXPECTED["benign"], ids=lambda b: b["path"])
def test_no_benign_page_is_flagged(
    db: Session, demo_run: dict[str, Any], benign: dict[str, Any]
) -> None:
    listing = listing_at(db, demo_run, benign["path"])
    assert not listing.versions[-1].offer, f"{benign['path']} ({benign['why']}) was flagged"
    assert listing.case is None


def test_nothing_refused_was_requested(demo_run: dict[str, Any]) -> None:
    requested = {
        urlsplit(entry.path).path for entry in read_access_log(Path(demo_run["access_log"]))
    }
    assert requested, "the access log is empty"
    for refused in EXPECTED["refused"]:
        path = urlsplit(refused["url"]).path
        if refused["url"].startswith("/") and not refused.get("fetched", False):
            assert not any(p.startswith(path) for p in requested), f"{path} was requested"
    for reason in {refused["reason"] for refused in EXPECTED["refused"]}:
        assert demo_run["refused"].get(reason, 0) > 0, f"no request refused for {reason}"


def test_every_stored_listing_has_a_verified_warc_record(
    db: Session, demo_run: dict[str, Any]
) -> None:
    captures = db.scalars(select(Capture).where(Capture.listing_id.is_not(None))).all()
    assert len(captures) == len(EXPECTED["offer"]) + len(EXPECTED["benign"])
    for capture in captures:
        assert read_capture(demo_run["home"], capture).verified, (
            f"evidence of {capture.url} does not verify"
        )


def test_the_summary_reports_what_the_database_holds(db: Session, demo_run: dict[str, Any]) -> None:
    stored = db.scalars(select(Listing)).all()
    assert demo_run["listings_stored"] == len(stored)
    assert demo_run["flagged"] == len(EXPECTED["offer"])
    assert demo_run["pages_fetched"] >= len(stored)
    for offer in EXPECTED["offer"]:
        for concept in offer["substances"]:
            assert demo_run["substances"].get(concept, 0) >= 1
    assert all(run["status"] == "finished" for run in demo_run["runs"])


def test_the_digest_preview_lists_the_flagged_listings(demo_run: dict[str, Any]) -> None:
    html = Path(demo_run["digest_preview"]).read_text()
    assert "Protonitazene" in html or "protonitazene" in html
