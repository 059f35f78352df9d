"""`synthwatch sources` and `users`: the legal gate as a user meets it on the command line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import make_engine, make_session_factory
from storage.models import AuditEvent
from synthwatch.cli import main
from tests.conftest import migrated_copy
from tests.factories import source_toml

SOURCE = source_toml(
    "shop",
    "https://shop.example",
    name="Invented shop",
    listing_links='["a.item"]',
    index_links=None,
    pagination=None,
    pattern=None,
)
WIDER = SOURCE.replace('["shop.example"]', '["shop.example", "other.example"]')


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path) -> Path:
    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)
    migrated_copy(migrated_template, tmp_path / "synthwatch.db")
    for user, role in (("lena", "legal"), ("abe", "analyst"), ("ada", "admin")):
        type_password(monkeypatch, f"{user}-password-1")
        assert main(["users", "add", user, "--role", role]) == 0
    (tmp_path / "sources.toml").write_text(SOURCE)
    return tmp_path


def type_password(monkeypatch: pytest.MonkeyPatch, password: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))


def approve(monkeypatch: pytest.MonkeyPatch, user: str, password: str | None = None) -> int:
    type_password(monkeypatch, password or f"{user}-password-1")
    return main(["sources", "approve", "shop", "--as", user, "--basis", "Public listings"])


def state(capsys: pytest.CaptureFixture[str]) -> str:
    capsys.readouterr()
    assert main(["sources", "list"]) == 0
    (row,) = [line for line in capsys.readouterr().out.splitlines() if "shop" in line]
    return row


def test_a_proposed_source_waits_for_a_legal_approval(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sources", "propose", str(home / "sources.toml")]) == 0
    assert "unapproved" in state(capsys)
    assert approve(monkeypatch, "lena") == 0
    row = state(capsys)
    assert "approved" in row and "unapproved" not in row and "lena" in row


@pytest.mark.parametrize("user", ["abe", "ada"])
def test_only_the_legal_role_approves(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], user: str
) -> None:
    main(["sources", "propose", str(home / "sources.toml")])
    assert approve(monkeypatch, user) == 2
    assert "legal role" in capsys.readouterr().err
    assert "unapproved" in state(capsys)


def test_a_wrong_password_approves_nothing_and_is_audited(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["sources", "propose", str(home / "sources.toml")])
    assert approve(monkeypatch, "lena", "not-her-password") == 2
    assert "unapproved" in state(capsys)
    engine = make_engine(f"sqlite:///{home / 'synthwatch.db'}")
    with make_session_factory(engine)() as session:
        actions = session.scalars(select(AuditEvent.action)).all()
    assert "auth.login_failed" in actions and "source.approved" not in actions


def test_a_widened_scope_needs_a_new_approval(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["sources", "propose", str(home / "sources.toml")])
    approve(monkeypatch, "lena")
    (home / "sources.toml").write_text(WIDER)
    main(["sources", "propose", str(home / "sources.toml")])
    assert "rescoped" in state(capsys)
    assert approve(monkeypatch, "lena") == 0
    assert "rescoped" not in state(capsys)


def test_a_suspended_source_stays_suspended_until_approved_again(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["sources", "propose", str(home / "sources.toml")])
    approve(monkeypatch, "lena")
    type_password(monkeypatch, "ada-password-1")
    assert main(["sources", "suspend", "shop", "--as", "ada", "--reason", "site changed"]) == 0
    assert "suspended" in state(capsys)


def test_approving_an_unknown_source_says_what_to_do(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert approve(monkeypatch, "lena") == 2
    assert "sources propose" in capsys.readouterr().err


def test_users_are_disabled_never_deleted(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["users", "disable", "abe"]) == 0
    assert main(["users", "set-role", "ada", "legal"]) == 0
    capsys.readouterr()
    assert main(["users", "list"]) == 0
    rows = {line.split()[1]: line for line in capsys.readouterr().out.splitlines() if "│" in line}
    assert "disabled" in rows["abe"] and "legal" in rows["ada"]
    main(["sources", "propose", str(home / "sources.toml")])
    assert approve(monkeypatch, "ada", "ada-password-1") == 0
