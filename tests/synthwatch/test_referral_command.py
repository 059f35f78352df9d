"""`synthwatch referral build | verify | keygen | public-key` on a real approved case."""

from __future__ import annotations

import argparse
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from review.signing import load_signing_key, public_key_pem, public_key_text
from review.workflow import transition
from storage.config import StorageSettings
from storage.models import User
from synthwatch.cli import USER_ERRORS
from synthwatch.commands import referral
from synthwatch.store import Store
from tests.conftest import migrated_copy
from tests.review.evidence_testkit import add_evidence_case
from tests.review.review_testkit import NOW, PASSWORD, SIGNING_KEY, seed_database

PUBLIC = load_signing_key(SIGNING_KEY).public_key()


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="synthwatch")
    referral.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    try:
        return int(args.handler(args) or 0)
    except USER_ERRORS:
        return 2


@pytest.fixture
def approved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, migrated_template: Path
) -> Iterator[int]:
    home = tmp_path / "home"
    monkeypatch.setenv("SYNTHWATCH_HOME", str(home))
    monkeypatch.setenv("SYNTHWATCH_SIGNING_KEY", SIGNING_KEY)
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)
    migrated_copy(migrated_template, home / "synthwatch.db")
    store = Store.open(StorageSettings.from_env(), migrate=False)
    seed_database(store.session_factory)
    found = add_evidence_case(store.session_factory, home)
    steps = (("ana", "confirmed", ""), ("ana", "escalated", ""), ("lee", "approved", "basis"))
    for name, to_state, note in steps:
        with store.sessions() as session:
            actor = session.scalar(select(User).where(User.username == name))
            transition(session, found.case_id, to_state, actor=actor, now=NOW, note=note)
    yield found.case_id
    store.engine.dispose()


def build(
    case_id: int, out: Path, monkeypatch: pytest.MonkeyPatch, password: str = PASSWORD
) -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(password + "\n"))
    return run("referral", "build", str(case_id), "--as", "lee", "--out", str(out))


def test_build_then_verify(approved: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "case.zip"

    assert build(approved, package, monkeypatch) == 0

    assert run("referral", "verify", str(package)) == 0  # with our own key from the environment
    assert run("referral", "verify", str(package), "--public-key", public_key_text(PUBLIC)) == 0
    pem = tmp_path / "signer.pem"
    pem.write_text(public_key_pem(PUBLIC))
    assert run("referral", "verify", str(package), "--public-key", str(pem)) == 0


def test_a_flipped_byte_exits_1(
    approved: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    package = tmp_path / "case.zip"
    build(approved, package, monkeypatch)
    data = bytearray(package.read_bytes())
    data[len(data) // 2] ^= 0x40
    package.write_bytes(bytes(data))

    assert run("referral", "verify", str(package)) == 1
    assert "FAILED" in capsys.readouterr().out


def test_a_wrong_password_builds_nothing(
    approved: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "case.zip"

    assert build(approved, package, monkeypatch, password="not it") == 2
    assert not package.exists()


def test_keygen_and_public_key(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run("referral", "keygen") == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("SYNTHWATCH_SIGNING_KEY=")
    key = line.split("=", 1)[1]
    load_signing_key(key)

    monkeypatch.setenv("SYNTHWATCH_SIGNING_KEY", key)
    assert run("referral", "public-key") == 0
    assert capsys.readouterr().out.strip() == public_key_text(load_signing_key(key).public_key())
    monkeypatch.delenv("SYNTHWATCH_SIGNING_KEY")
    assert run("referral", "public-key") == 2
