"""`synthwatch audit verify | export | checkpoint` (the lead registers the module in the CLI)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, update

from storage.audit import append_event
from storage.config import StorageSettings
from storage.models import AuditEvent
from storage.users import create_user
from synthwatch.cli import USER_ERRORS
from synthwatch.commands import audit
from synthwatch.store import Store
from tests.conftest import NOW, migrated_copy


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="synthwatch")
    audit.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS:
        return 2


@pytest.fixture
def store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path
) -> Iterator[Store]:
    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)
    migrated_copy(migrated_template, tmp_path / "home" / "synthwatch.db")
    store = Store.open(StorageSettings.from_env(), migrate=False)
    with store.sessions() as session:
        for n in range(6):
            append_event(
                session,
                action="case.viewed",
                object_type="case",
                object_id=n,
                now=NOW + timedelta(minutes=n),
            )
    yield store
    store.engine.dispose()


def test_an_intact_log_verifies(store: Store, capsys: pytest.CaptureFixture[str]) -> None:
    assert run("audit", "verify") == 0
    assert "audit log intact: 6 rows" in capsys.readouterr().err


def test_a_modified_row_is_named_and_exits_1(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    with store.sessions() as session:
        session.execute(update(AuditEvent).where(AuditEvent.id == 4).values(actor="mallory"))

    assert run("audit", "verify") == 1
    assert "BROKEN at audit row 4 (modified)" in capsys.readouterr().out


def test_a_truncated_tail_needs_the_checkpoint(
    store: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mark = tmp_path / "checkpoint.json"
    assert run("audit", "checkpoint", "--out", str(mark)) == 0
    assert json.loads(mark.read_text())["event_id"] == 6
    with store.sessions() as session:
        session.execute(delete(AuditEvent).where(AuditEvent.id >= 5))

    assert run("audit", "verify") == 0
    assert run("audit", "verify", "--checkpoint", str(mark)) == 1
    assert "BROKEN at audit row 5 (truncated)" in capsys.readouterr().out


def test_export_writes_every_row_and_its_checkpoint(store: Store, tmp_path: Path) -> None:
    lines, mark = tmp_path / "audit.jsonl", tmp_path / "mark.json"

    assert run("audit", "export", "--out", str(lines), "--checkpoint", str(mark)) == 0

    rows = [json.loads(line) for line in lines.read_text().splitlines()]
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert json.loads(mark.read_text())["hash"] == rows[-1]["hash"]
    assert run("audit", "verify", "--checkpoint", str(mark)) == 0  # the export's own row follows


def test_a_bad_checkpoint_file_is_a_usage_error(store: Store, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{}")

    assert run("audit", "verify", "--checkpoint", str(bad)) == 2
    assert run("audit", "verify", "--checkpoint", str(tmp_path / "absent.json")) == 2


def test_a_changed_actor_id_is_named_and_exits_1(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    with store.sessions() as session:
        lee = create_user(session, username="lee", password_hash="x", role="legal", now=NOW)
        append_event(
            session, action="source.approved", object_type="source", object_id="s", now=NOW,
            actor=lee,
        )  # fmt: skip
    assert run("audit", "verify") == 0
    with store.sessions() as session:
        # Who did it changes; the user name shown beside it does not.
        session.execute(update(AuditEvent).where(AuditEvent.id == 7).values(actor_id=None))

    assert run("audit", "verify") == 1
    assert "BROKEN at audit row 7 (modified)" in capsys.readouterr().out
