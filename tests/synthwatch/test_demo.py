"""End to end: `synthwatch demo --json` against the invented marketplace, serving the review app.

One run of the real command (a demo server on 127.0.0.1, four `scrapy crawl` child processes,
a mail sink, a SQLite database in a temporary folder), with the review app's port already taken
by another listener, as port 8000 may be. Then checks of its database, evidence, mail, the
served app and the demo server's access log against `demo/expected.toml`.
"""

from __future__ import annotations

import http.cookiejar
import io
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from demo.access_log import read_access_log
from demo.second_day import changed_paths
from review.signing import load_signing_key, public_key_text
from review.workflow import transition
from storage.db import make_engine, make_session_factory, transaction
from storage.listings import shared_identifier_listings
from storage.models import Capture, DigestMessage, Listing, User
from storage.warc import read_capture
from synthwatch.cli import main

pytestmark = pytest.mark.slow

EXPECTED = tomllib.loads((Path(__file__).parents[2] / "demo" / "expected.toml").read_text())
READY = re.compile(r"review app: (http://127\.0\.0\.1:(\d+)/)")
PASSWORD = re.compile(r"user (demo-[a-z]+) \(([a-z]+)\), password (\S+)")
STARTUP_TIMEOUT_S = 600


class Output:
    """Collect a pipe's text in a thread, so the child never blocks on a full pipe."""

    def __init__(self, pipe: io.TextIOBase) -> None:
        self.parts: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.thread.start()

    def _read(self, pipe: io.TextIOBase) -> None:
        for line in pipe:
            self.parts.append(line)

    @property
    def text(self) -> str:
        return "".join(self.parts)


@pytest.fixture(scope="module")
def taken_port() -> Iterator[int]:
    """A port of 127.0.0.1 another program listens on, as port 8000 may be."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory, taken_port: int) -> Iterator[dict[str, Any]]:
    home = tmp_path_factory.mktemp("home")
    env = {**os.environ, "SYNTHWATCH_HOME": str(home)}
    for name in ("SYNTHWATCH_DATABASE_URL", "SYNTHWATCH_SIGNING_KEY", "SYNTHWATCH_BASE_URL"):
        env.pop(name, None)
    command = [sys.executable, "-m", "synthwatch", "demo", "--json", "--site-port", "0"]
    process = subprocess.Popen(
        [*command, "--port", str(taken_port)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stderr is not None
    out, err = Output(process.stdout), Output(process.stderr)  # type: ignore[arg-type]
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while not READY.search(err.text):
        assert process.poll() is None, f"the demo ended ({process.returncode}): {err.text[-4000:]}"
        assert time.monotonic() < deadline, f"the demo did not serve in time: {err.text[-4000:]}"
        time.sleep(0.2)
    try:
        summary: dict[str, Any] = json.loads(out.text.splitlines()[0])
        ready = READY.search(err.text)
        assert ready is not None
        summary |= {
            "home": home,
            "stderr": " ".join(err.text.split()),
            "app_url": ready[1],
            "app_port": int(ready[2]),
            "passwords": {user: password for user, _, password in PASSWORD.findall(err.text)},
        }
        yield summary
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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
    listings = {entry["path"] for kind in ("offer", "benign") for entry in EXPECTED[kind]}
    # One capture per listing, and one more of each listing the second day changed.
    assert len(captures) == len(listings) + len(changed_paths() & listings)
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
    assert [run["source"] for run in demo_run["runs"]][-1] == "demo-forum"


def test_the_digest_preview_lists_the_flagged_listings(demo_run: dict[str, Any]) -> None:
    html = Path(demo_run["digest_preview"]).read_text()
    assert "Protonitazene" in html or "protonitazene" in html


# ---------------------------------------------------------------- every feature on show


def test_the_demo_has_an_analyst_a_legal_reviewer_and_an_admin(
    db: Session, demo_run: dict[str, Any]
) -> None:
    users = {user.username: user for user in db.scalars(select(User))}
    expected = {"demo-analyst": "analyst", "demo-legal": "legal", "demo-admin": "admin"}
    assert {name: users[name].role for name in expected} == expected
    assert all(users[name].active and users[name].digest_subscribed for name in expected)
    assert demo_run["users"] == expected
    assert set(demo_run["passwords"]) == set(expected), "each password is printed"


def test_a_taken_port_moves_the_review_app_to_a_free_one(
    demo_run: dict[str, Any], taken_port: int
) -> None:
    assert demo_run["app_port"] != taken_port
    assert f"port {taken_port} is taken" in demo_run["stderr"]
    assert f"uses port {demo_run['app_port']} instead" in demo_run["stderr"]
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with direct.open(demo_run["app_url"] + "login", timeout=10) as response:
        assert response.status == 200


def signed_in(demo_run: dict[str, Any], username: str) -> urllib.request.OpenerDirector:
    """Return an opener with the session of ``username``, signed in through the login form."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(jar)
    )
    with opener.open(demo_run["app_url"] + "login", timeout=10) as response:
        page = lxml.html.fromstring(response.read())
    (token,) = set(page.xpath("//input[@name='csrf_token']/@value"))
    form = {"csrf_token": token, "username": username, "password": demo_run["passwords"][username]}
    with opener.open(
        demo_run["app_url"] + "login", data=urllib.parse.urlencode(form).encode(), timeout=10
    ) as response:
        assert urlsplit(response.url).path != "/login", f"{username} could not sign in"
    return opener


def test_the_admin_sees_the_digest_sent_in_the_outbox_and_the_audit_log(
    db: Session, demo_run: dict[str, Any]
) -> None:
    admin = signed_in(demo_run, "demo-admin")
    with admin.open(demo_run["app_url"] + "outbox", timeout=10) as response:
        page = lxml.html.fromstring(response.read())
    text = " ".join(page.text_content().split())
    rows = db.scalars(select(DigestMessage)).all()
    assert rows, "no digest was enqueued"
    for row in rows:
        assert row.status == "sent", row.smtp_reply
        assert row.email in text
    assert "sent" in text and "kept in the demo mail sink" in text
    with admin.open(demo_run["app_url"] + "audit", timeout=10) as response:
        assert b"digest.subscribed" in response.read()


def test_the_digest_reached_the_mail_sink_over_smtp(db: Session, demo_run: dict[str, Any]) -> None:
    folder = Path(demo_run["digest"]["folder"])
    assert folder == demo_run["home"] / "demo-mail"
    received = [message_from_bytes(path.read_bytes()) for path in sorted(folder.glob("*.eml"))]
    rows = db.scalars(select(DigestMessage)).all()
    assert demo_run["digest"]["sent"] == len(rows) == len(received) == 3
    by_id = {message["Message-ID"]: message for message in received}
    for row in rows:
        message = by_id[row.message_id]
        assert message.get_all("X-Sink-Rcpt-To") == [row.email]
        assert message["Subject"] == row.subject


@pytest.mark.parametrize("shared", EXPECTED["shared"], ids=lambda s: s["key"])
def test_a_seller_on_two_sites_is_linked_by_a_shared_identifier(
    db: Session, demo_run: dict[str, Any], shared: dict[str, Any]
) -> None:
    first, *others = (listing_at(db, demo_run, path) for path in shared["paths"])
    linked = {other.listing_id: other for other in shared_identifier_listings(db, first.id)}
    for other in others:
        assert other.id in linked, f"{other.url} is not linked to {first.url}"
        assert shared["key"] in linked[other.id].identifiers
        assert other.source_id != first.source_id


def test_the_listing_that_changed_overnight_has_two_versions(
    db: Session, demo_run: dict[str, Any]
) -> None:
    changed = listing_at(db, demo_run, "/forum/thread/3106.html")
    first, second = changed.versions
    assert "best price" in first.title and "prices cut" in second.title
    assert "US$ 150" in first.text and "US$ 120" in second.text
    assert first.offer and second.offer
    assert second.capture.crawl_run_id == demo_run["second_day_run"]
    unchanged = listing_at(db, demo_run, "/forum/thread/3105.html")
    assert len(unchanged.versions) == 1, "an unchanged page costs a conditional GET, no version"


def copy_home(home: Path, to: Path) -> Path:
    """Copy the demo's state folder, the database through SQLite's backup (the app is live)."""
    shutil.copytree(home, to, ignore=shutil.ignore_patterns("synthwatch.db*"))
    with (
        sqlite3.connect(home / "synthwatch.db") as source,
        sqlite3.connect(to / "synthwatch.db") as target,
    ):
        source.backup(target)
    return to


def test_a_referral_package_is_signed_with_the_demo_key(
    demo_run: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = copy_home(demo_run["home"], tmp_path / "home")
    key_file = Path(demo_run["signing_key_file"])
    assert key_file == demo_run["home"] / "demo-signing-key"
    assert key_file.stat().st_mode & 0o077 == 0, "the key is readable by its owner only"
    key = key_file.read_text().strip()
    factory = make_session_factory(make_engine(f"sqlite:///{home / 'synthwatch.db'}"))
    url = demo_run["site_url"] + "/classifieds/ad/20409.html"
    now = datetime.now(UTC)
    with transaction(factory) as session:
        listing = session.scalar(select(Listing).where(Listing.url == url))
        assert listing is not None and listing.case is not None
        case_id = listing.case.id
        analyst = session.scalar(select(User).where(User.username == "demo-analyst"))
        legal = session.scalar(select(User).where(User.username == "demo-legal"))
        assert analyst is not None and legal is not None
        transition(session, case_id, "confirmed", actor=analyst, now=now)
        transition(session, case_id, "escalated", actor=analyst, now=now)
        transition(session, case_id, "approved", actor=legal, now=now, note="Invented demo case")
    monkeypatch.setenv("SYNTHWATCH_HOME", str(home))
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("SYNTHWATCH_SIGNING_KEY", key)
    monkeypatch.setattr("sys.stdin", io.StringIO(demo_run["passwords"]["demo-legal"] + "\n"))
    package = tmp_path / "case.zip"

    assert (
        main(["referral", "build", str(case_id), "--as", "demo-legal", "--out", str(package)]) == 0
    )

    public = public_key_text(load_signing_key(key).public_key())
    monkeypatch.delenv("SYNTHWATCH_SIGNING_KEY")
    assert main(["referral", "verify", str(package), "--public-key", public]) == 0
    assert "intact" in capsys.readouterr().err
