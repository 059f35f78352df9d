"""`synthwatch users api-key`: a key printed once, listed by prefix, revoked, each audited."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import make_engine, make_session_factory
from storage.models import ApiKey, AuditEvent
from synthwatch.cli import main
from tests.conftest import migrated_copy


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Path:
    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)
    migrated_copy(migrated_template, tmp_path / "synthwatch.db")
    for user, role in (("abe", "analyst"), ("ada", "admin")):
        monkeypatch.setattr("sys.stdin", io.StringIO(f"{user}-password-1\n"))
        assert main(["users", "add", user, "--role", role]) == 0
    return tmp_path


def stored(home: Path) -> tuple[list[ApiKey], list[AuditEvent]]:
    engine = make_engine(f"sqlite:///{home / 'synthwatch.db'}")
    with make_session_factory(engine)() as session:
        keys = list(session.scalars(select(ApiKey)))
        events = list(
            session.scalars(select(AuditEvent).where(AuditEvent.action.startswith("api_key.")))
        )
    engine.dispose()
    return keys, events


def test_a_key_is_printed_once_listed_by_prefix_and_revoked(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    assert main(["--as", "dana.ops", "users", "api-key", "create", "abe", "--name", "ci"]) == 0
    printed = capsys.readouterr()
    token = printed.out.strip()

    (key,), _events = stored(home)
    assert key.secret_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert key.prefix in printed.err and "only this once" in printed.err
    assert main(["users", "api-key", "list"]) == 0
    listed = capsys.readouterr().out
    assert key.prefix in listed and "abe" in listed and token[13:] not in listed
    assert "active" in listed

    assert main(["--as", "dana.ops", "users", "api-key", "revoke", key.prefix]) == 0
    assert main(["users", "api-key", "list", "abe"]) == 0
    assert "revoked" in capsys.readouterr().out
    (key,), events = stored(home)
    assert key.revoked_at is not None
    assert [(e.action, e.actor) for e in events] == [
        ("api_key.created", "cli:dana.ops"),
        ("api_key.revoked", "cli:dana.ops"),
    ]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["create", "abe", "--name", "x", "--role", "legal"], "analyst only"),
        (["create", "ada", "--name", "x"], "the admin role may use no API endpoint"),
        (["create", "nobody", "--name", "x"], "no user 'nobody'"),
        (["revoke", "swk_00000000"], "no API key 'swk_00000000'"),
    ],
)
def test_what_cant_be_done_is_said_in_one_line(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str], words: str
) -> None:
    capsys.readouterr()
    assert main(["users", "api-key", *args]) != 0
    error = capsys.readouterr().err
    assert words in " ".join(error.split()) and "Traceback" not in error
    assert stored(home)[0] == []
