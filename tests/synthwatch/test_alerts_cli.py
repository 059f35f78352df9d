"""`synthwatch alerts`: send (raise new matches' alerts, deliver to a real SMTP server), the
outbox, a retry, and a broken channel setting as a one-line error.

The parser is built from the alerts command module alone, as `synthwatch.cli` would build it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from review.users import create_user
from storage.db import make_engine, make_session_factory, transaction
from storage.listings import AnalysisRecord, MentionRecord
from storage.models import AuditEvent
from storage.sources import upsert_source
from storage.watch import RuleSpec, create_rule
from synthwatch.cli import USER_ERRORS
from synthwatch.commands import alerts
from tests.conftest import migrated_copy
from tests.factories import add_listing
from tests.review.digest_testkit import ScriptedHandler, start_server
from tests.review.review_testkit import PASSWORD


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="synthwatch")
    alerts.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        print(f"error: {error}")
        return 2


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Path:
    """A database with ana's rule on nitazenes, made before a new nitazene offer."""
    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path))
    for name in ("DATABASE_URL", "SMTP_USER", "SMTP_PASSWORD", "ALERT_CHANNELS", "BASE_URL"):
        monkeypatch.delenv(f"SYNTHWATCH_{name}", raising=False)
    migrated_copy(migrated_template, tmp_path / "synthwatch.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'synthwatch.db'}")
    # The rule is saved an hour ago, the offer stored after it: a match new to the rule.
    saved = datetime.now(UTC) - timedelta(hours=1)
    with transaction(make_session_factory(engine)) as session:
        ana = create_user(session, username="ana", password=PASSWORD, role="analyst", now=saved)
        ana.email = "ana@synthwatch.example"
        upsert_source(
            session,
            source_id="shop",
            name="Invented shop",
            config={},
            scope_fingerprint="f" * 64,
            now=saved,
        )
        spec = RuleSpec("nitazenes", substance_class="nitazene", channels=("email",))
        create_rule(session, ana, spec, now=saved)
        mention = MentionRecord(
            "metonitazene", "Metonitazene", "nitazene", "", 0, 12, "Metonitazene", 1.0
        )
        add_listing(
            session,
            "https://shop.example/meto",
            saved + timedelta(minutes=5),
            text="Metonitazene 1g",
            title="Metonitazene",
            analysis=AnalysisRecord(score=0.9, offer=True, mentions=[mention]),
        )
    engine.dispose()
    return tmp_path


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedHandler]:
    handler = ScriptedHandler()
    controller = start_server(handler)
    monkeypatch.setenv("SYNTHWATCH_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SYNTHWATCH_SMTP_PORT", str(controller.port))
    monkeypatch.setenv("SYNTHWATCH_SMTP_STARTTLS", "0")
    monkeypatch.setenv("SYNTHWATCH_SMTP_FROM", "SynthWatch <digest@synthwatch.example>")
    yield handler
    controller.stop()


def test_send_raises_the_alert_and_mails_it_once(
    home: Path, server: ScriptedHandler, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["alerts", "send"]) == 0
    out = capsys.readouterr().out
    assert "alert 1: rule 1 matched case 1" in out
    assert "sent #1 (email): 250 2.0.0 queued as test" in out
    (received,) = server.received
    assert "http://127.0.0.1:8000/cases/1" in received.message.get_content()
    assert cli(["alerts", "send"]) == 0
    assert "nothing new (1 active rule(s))" in capsys.readouterr().out
    assert len(server.received) == 1
    assert cli(["alerts", "outbox", "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    row = json.loads(line)
    assert (row["status"], row["channel"], row["case_id"], row["rule"]) == (
        "sent",
        "email",
        1,
        "nitazenes",
    )


def test_a_refused_message_fails_and_is_retried_by_hand(
    home: Path, server: ScriptedHandler, capsys: pytest.CaptureFixture[str]
) -> None:
    server.always["ana@synthwatch.example"] = ("rcpt", "550 5.1.1 no such mailbox")
    assert cli(["alerts", "send"]) == 1
    assert "failed #1 (email): 550 5.1.1 no such mailbox" in capsys.readouterr().out
    assert cli(["alerts", "outbox", "--status", "failed"]) == 0
    assert "mailbox" in capsys.readouterr().out  # the table wraps the reply
    assert cli(["alerts", "retry", "1"]) == 0
    assert "#1 (email) is queued again" in capsys.readouterr().out
    assert cli(["alerts", "retry", "1"]) == 2
    assert "alert outbox row 1 is pending, not failed" in capsys.readouterr().out
    del server.always["ana@synthwatch.example"]
    assert cli(["alerts", "send"]) == 0
    assert len(server.received) == 1
    engine = make_engine(f"sqlite:///{home / 'synthwatch.db'}")
    with make_session_factory(engine)() as session:
        retried = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "alert.retried")
        ).all()
    engine.dispose()
    assert [d["reply"] for d in retried] == ["550 5.1.1 no such mailbox"]


def test_a_broken_channel_setting_is_one_line(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SYNTHWATCH_ALERT_CHANNELS", "ok=json://127.0.0.1:9/a Bad=json://x/y")
    assert cli(["alerts", "send"]) == 2
    assert "SYNTHWATCH_ALERT_CHANNELS: entry 2 must be NAME=URL" in capsys.readouterr().out
    monkeypatch.setenv("SYNTHWATCH_ALERT_CHANNELS", "hook=nosuchscheme://secret-token-123")
    assert cli(["alerts", "send"]) == 2
    said = capsys.readouterr().out
    assert "channel 'hook' has a URL Apprise can't read" in said
    assert "secret-token-123" not in said
