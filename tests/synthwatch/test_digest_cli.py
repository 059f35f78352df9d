"""`synthwatch digest`: preview, subscribe, send to a real SMTP server, the outbox and retries.

The parser is built from the digest command module alone, as `synthwatch.cli` would build it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from review.users import create_user
from storage.db import make_engine, make_session_factory, transaction
from storage.models import AuditEvent, User
from synthwatch.cli import USER_ERRORS, main
from synthwatch.commands import digest
from tests.conftest import migrated_copy
from tests.review.digest_testkit import ScriptedHandler, start_server
from tests.review.review_testkit import NOW, PASSWORD


def cli(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="synthwatch")
    digest.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS as error:
        print(f"error: {error}")
        return 2


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Path:
    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path))
    for name in ("DATABASE_URL", "SMTP_USER", "SMTP_PASSWORD", "DIGEST_TZ", "DIGEST_HOUR"):
        monkeypatch.delenv(f"SYNTHWATCH_{name}", raising=False)
    migrated_copy(migrated_template, tmp_path / "synthwatch.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'synthwatch.db'}")
    with transaction(make_session_factory(engine)) as session:
        for name, role in (("ana", "analyst"), ("lee", "legal"), ("gone", "analyst")):
            create_user(session, username=name, password=PASSWORD, role=role, now=NOW)
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


def users(home: Path) -> dict[str, User]:
    engine = make_engine(f"sqlite:///{home / 'synthwatch.db'}")
    with make_session_factory(engine)() as session:
        found = {u.username: u for u in session.scalars(select(User))}
    engine.dispose()
    return found


def test_subscribe_and_unsubscribe(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["digest", "subscribe", "ana", "ana@team.example"]) == 0
    assert cli(["digest", "subscribe", "lee", "Lee <lee@team.example>"]) == 0
    assert cli(["digest", "unsubscribe", "lee"]) == 0
    capsys.readouterr()

    found = users(home)
    assert (found["ana"].email, found["ana"].digest_subscribed) == ("ana@team.example", True)
    assert (found["lee"].email, found["lee"].digest_subscribed) == ("Lee <lee@team.example>", False)
    assert cli(["digest", "recipients"]) == 0
    listing = capsys.readouterr().out
    assert "ana@team.example" in listing and "subscribed" in listing

    assert cli(["digest", "subscribe", "ana", "ana@team.example\nBcc: x@y.example"]) == 2
    assert cli(["digest", "subscribe", "nobody", "n@team.example"]) == 2
    assert "no user 'nobody'" in capsys.readouterr().out
    engine = make_engine(f"sqlite:///{home / 'synthwatch.db'}")
    with make_session_factory(engine)() as session:
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.action.like("digest.%"))
        ).all()
    engine.dispose()
    assert actions == ["digest.subscribed", "digest.subscribed", "digest.unsubscribed"]


def test_preview_as_a_user(home: Path) -> None:
    out = home / "preview.html"
    assert cli(["digest", "preview", "--week", "2026-W48", "--out", str(out), "--as", "lee"]) == 0
    html = out.read_text()
    assert "SynthWatch weekly digest · 2026-W48" in html
    assert "for lee" in html


def test_send_is_idempotent_and_the_outbox_shows_a_refusal(
    home: Path, server: ScriptedHandler, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("ana", "lee", "gone"):
        assert cli(["digest", "subscribe", name, f"{name}@team.example"]) == 0
    assert main(["users", "disable", "gone"]) == 0
    server.script["lee@team.example"] = [("rcpt", "550 5.1.1 No such user here")]
    capsys.readouterr()

    assert cli(["digest", "send"]) == 1  # a message failed for good
    first = capsys.readouterr().out
    assert "enqueued" in first and "sent #" in first and "failed #" in first
    assert [r.rcpt_tos for r in server.received] == [["ana@team.example"]]

    assert cli(["digest", "send"]) == 0
    assert "nothing due" in capsys.readouterr().out
    assert len(server.received) == 1

    assert cli(["digest", "outbox", "--status", "failed", "--json"]) == 0
    (failed,) = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert (failed["user"], failed["status"], failed["attempts"]) == ("lee", "failed", 1)
    assert failed["smtp_reply"] == "550 5.1.1 No such user here"
    assert failed["message_id"].startswith("<digest-")
    assert cli(["digest", "outbox"]) == 0
    assert "No such" in capsys.readouterr().out

    failed_id = failed["id"]
    assert cli(["digest", "retry", str(failed_id)]) == 0
    assert cli(["digest", "retry", str(failed_id)]) == 2  # pending now, not failed
    assert cli(["digest", "send"]) == 0
    assert sorted(r.rcpt_tos[0] for r in server.received) == [
        "ana@team.example",
        "lee@team.example",
    ]


def test_send_without_smtp_settings_says_what_is_missing(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SYNTHWATCH_SMTP_HOST", raising=False)
    assert cli(["digest", "send"]) == 2
    assert "SYNTHWATCH_SMTP_HOST" in capsys.readouterr().out


def test_send_refuses_a_week_that_has_not_ended(
    home: Path, server: ScriptedHandler, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(["digest", "send", "--week", "2999-W01"]) == 2
    assert "has not ended" in capsys.readouterr().out
