"""Rows the command line writes name the person at it (`--as NAME` or the OS user), not "system"."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.audit import SYSTEM_ACTOR, acting_as, append_event
from storage.db import make_engine, make_session_factory
from storage.models import AuditEvent
from synthwatch.cli import main
from synthwatch.commands.common import UNATTENDED, command_actor
from tests.conftest import NOW, migrated_copy


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Path:
    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)
    monkeypatch.setattr("synthwatch.commands.common.getpass.getuser", lambda: "opsuser")
    migrated_copy(migrated_template, tmp_path / "synthwatch.db")
    return tmp_path


def actors(home: Path, action: str) -> list[str]:
    engine = make_engine(f"sqlite:///{home / 'synthwatch.db'}")
    with make_session_factory(engine)() as session:
        found = session.scalars(select(AuditEvent.actor).where(AuditEvent.action == action))
        return list(found)


def add_user(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-long-password-1\n"))
    return main([*args, "users", "add", "abe", "--role", "analyst"])


def test_a_command_records_the_os_user(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert add_user(monkeypatch) == 0

    assert actors(home, "user.created") == ["cli:opsuser"]


def test_as_names_who_runs_the_command(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add_user(monkeypatch)

    assert main(["--as", "dana.ops", "users", "disable", "abe"]) == 0

    assert actors(home, "user.disabled") == ["cli:dana.ops"]


def test_as_refuses_a_name_that_is_no_name(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        add_user(monkeypatch, "--as", "two words")

    assert stopped.value.code == 2
    assert "is not a name" in capsys.readouterr().err


def test_servers_and_crawls_keep_writing_as_the_system() -> None:
    assert {"serve", "schedule", "demo", "crawl"} <= UNATTENDED
    assert command_actor("x") == "cli:x"


def test_acting_as_names_rows_without_a_user_inside_the_block_only(
    tmp_path: Path, migrated_template: Path
) -> None:
    engine = make_engine(migrated_copy(migrated_template, tmp_path / "a.db"))
    with make_session_factory(engine)() as session:
        with acting_as("cli:kim"):
            inside = append_event(session, action="t", object_type="t", object_id=1, now=NOW)
        outside = append_event(session, action="t", object_type="t", object_id=2, now=NOW)

    assert (inside.actor, outside.actor) == ("cli:kim", SYSTEM_ACTOR)
