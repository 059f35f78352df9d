"""`synthwatch sources` and `users`: the legal gate as a user meets it on the command line."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from storage.db import make_engine, make_session_factory
from storage.models import AuditEvent, Source
from synthwatch.cli import main
from tests.conftest import migrated_copy
from tests.factories import invented_source_toml

SOURCE = invented_source_toml(name="Invented shop")
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


def fingerprint_of(home: Path) -> str:
    engine = make_engine(f"sqlite:///{home / 'synthwatch.db'}")
    with make_session_factory(engine)() as session:
        source = session.get(Source, "shop")
        assert source is not None
        return source.scope_fingerprint


def test_approve_prints_the_scope_and_fingerprint_before_the_password(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["sources", "propose", str(home / "sources.toml")])
    capsys.readouterr()
    printed: list[str] = []

    def read_password(prompt: str) -> str:
        printed.append(capsys.readouterr().err)
        return "lena-password-1"

    monkeypatch.setattr("synthwatch.commands.sources.read_password", read_password)
    assert main(["sources", "approve", "shop", "--as", "lena", "--basis", "Public"]) == 0

    (before,) = printed
    assert "Allowed domains (scope): shop.example" in before
    assert "Start URLs (scope): https://shop.example/" in before
    assert "Sitemaps (scope): -" in before and "Site-search URLs (scope): " in before
    assert "Listing link selectors: a.item" in before
    assert "Limits: at most" in before  # the same rows as the sources page (review.sources)
    assert f"fingerprint: {fingerprint_of(home)}" in before


def test_a_scope_registered_during_the_password_prompt_is_not_approved(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["sources", "propose", str(home / "sources.toml")])
    shown = fingerprint_of(home)

    def read_password(prompt: str) -> str:
        # While the legal user types, someone registers a wider scope.
        (home / "sources.toml").write_text(WIDER)
        assert main(["sources", "propose", str(home / "sources.toml")]) == 0
        return "lena-password-1"

    monkeypatch.setattr("synthwatch.commands.sources.read_password", read_password)
    capsys.readouterr()
    assert main(["sources", "approve", "shop", "--as", "lena", "--basis", "Public"]) == 2

    assert "changed since it was shown" in capsys.readouterr().err
    assert fingerprint_of(home) != shown
    assert "unapproved" in state(capsys)


def test_a_pinned_fingerprint_approves_only_that_scope(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["sources", "propose", str(home / "sources.toml")])
    reviewed = fingerprint_of(home)
    (home / "sources.toml").write_text(WIDER)
    main(["sources", "propose", str(home / "sources.toml")])
    command = ["sources", "approve", "shop", "--as", "lena", "--basis", "Public", "--fingerprint"]

    type_password(monkeypatch, "lena-password-1")
    capsys.readouterr()
    assert main([*command, reviewed]) == 2
    assert f"not {reviewed[:12]}" in capsys.readouterr().err
    assert "unapproved" in state(capsys)

    type_password(monkeypatch, "lena-password-1")
    assert main([*command, fingerprint_of(home)]) == 0
    row = state(capsys)
    assert "approved" in row and "unapproved" not in row


def test_an_empty_sources_file_fails_check_and_propose(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "empty.toml").write_text("# nothing yet\n")
    capsys.readouterr()

    assert main(["sources", "check", str(home / "empty.toml")]) == 1
    assert "no [[source]] block" in capsys.readouterr().out
    assert main(["sources", "propose", str(home / "empty.toml")]) == 2
    assert "no [[source]] block" in capsys.readouterr().err


def test_messages_quoting_source_blocks_keep_their_brackets(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (home / "wrong.toml").write_text('[[sources]]\nid = "x"\n')
    capsys.readouterr()

    assert main(["sources", "check", str(home / "wrong.toml")]) == 1
    assert "expected [[source]] blocks" in capsys.readouterr().out
    assert main(["sources", "propose", str(home / "wrong.toml")]) == 2
    assert "expected [[source]] blocks" in capsys.readouterr().err
