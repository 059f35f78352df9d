"""API keys: shown once and stored hashed, capped at the owner's role, refused once revoked,
once the owner is disabled or re-roled; made and revoked with audit rows. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from storage.api_keys import (
    MALFORMED,
    OWNER_DISABLED,
    REVOKED,
    ROLE_CHANGED,
    UNKNOWN,
    ApiKeyError,
    api_key_by_prefix,
    api_keys_of,
    check_api_key,
    create_api_key,
    own_api_key,
    revoke_api_key,
)
from storage.db import make_session_factory
from storage.models import ApiKey, AuditEvent, User
from storage.users import create_user


@pytest.fixture
def db(any_engine: Engine) -> Iterator[Session]:
    with make_session_factory(any_engine)() as session:
        yield session


def user(session: Session, name: str, role: str, now: datetime) -> User:
    return create_user(session, username=name, password_hash="x", role=role, now=now)


def test_a_key_is_shown_once_and_only_its_hash_is_stored(db: Session, now: datetime) -> None:
    ana = user(db, "ana", "analyst", now)
    key, token = create_api_key(db, ana, name="dashboard", now=now)
    db.commit()

    prefix, separator, secret = token[:12], token[12], token[13:]
    assert (
        prefix == key.prefix
        and separator == "_"
        and key.prefix.startswith("swk_")
        and len(key.prefix) == 12
    )
    assert len(secret) == 43  # 256 random bits
    assert key.secret_sha256 == hashlib.sha256(token.encode()).hexdigest()
    assert key.role == "analyst" and key.created_at == now and key.last_used_at is None
    # The secret is in no column of any row, nor in the audit log.
    for table in ("api_keys", "audit_events"):
        for row in db.execute(text(f"SELECT * FROM {table}")):
            assert not any(secret in str(value) for value in row), table
    (event,) = db.scalars(select(AuditEvent).where(AuditEvent.action == "api_key.created"))
    assert event.object_type == "api_key" and event.object_id == str(key.id)
    assert event.detail == {
        "prefix": key.prefix,
        "name": "dashboard",
        "role": "analyst",
        "owner": "ana",
    }


def test_two_keys_differ(db: Session, now: datetime) -> None:
    ana = user(db, "ana", "analyst", now)
    first, one = create_api_key(db, ana, name="one", now=now)
    second, two = create_api_key(db, ana, name="two", now=now)

    assert one != two and first.prefix != second.prefix
    assert [k.name for k in api_keys_of(db, ana.id)] == ["two", "one"]


def test_a_good_key_is_accepted_and_its_use_recorded(db: Session, now: datetime) -> None:
    ana = user(db, "ana", "analyst", now)
    key, token = create_api_key(db, ana, name="dashboard", now=now)
    later = now + timedelta(hours=3)

    check = check_api_key(db, token, now=later)

    assert check.accepted and check.key is key and check.key.owner is ana
    assert key.last_used_at == later


@pytest.mark.parametrize("role", ["legal", "admin", "root"])
def test_a_key_never_acts_with_another_role_than_its_owners(
    db: Session, now: datetime, role: str
) -> None:
    ana = user(db, "ana", "analyst", now)

    with pytest.raises(ApiKeyError, match="analyst"):
        create_api_key(db, ana, name="wider", role=role, now=now)
    assert db.scalars(select(ApiKey)).all() == []


def test_the_owners_role_is_the_default_and_may_be_named(db: Session, now: datetime) -> None:
    lee = user(db, "lee", "legal", now)
    assert create_api_key(db, lee, name="a", now=now)[0].role == "legal"
    assert create_api_key(db, lee, name="b", role="legal", now=now)[0].role == "legal"


def test_a_disabled_user_gets_no_key(db: Session, now: datetime) -> None:
    gone = user(db, "gone", "analyst", now)
    gone.active = False

    with pytest.raises(ApiKeyError, match="disabled"):
        create_api_key(db, gone, name="x", now=now)


@pytest.mark.parametrize("name", ["", "   ", "x" * 81, "two\nlines"])
def test_a_key_needs_a_printable_name(db: Session, now: datetime, name: str) -> None:
    ana = user(db, "ana", "analyst", now)
    with pytest.raises(ApiKeyError, match="name"):
        create_api_key(db, ana, name=name, now=now)


def test_a_name_is_taken_until_its_key_is_revoked(db: Session, now: datetime) -> None:
    ana, lee = user(db, "ana", "analyst", now), user(db, "lee", "legal", now)
    key, _token = create_api_key(db, ana, name="dashboard", now=now)
    create_api_key(db, lee, name="dashboard", now=now)  # another user's names are theirs

    with pytest.raises(ApiKeyError, match="already"):
        create_api_key(db, ana, name=" dashboard ", now=now)
    revoke_api_key(db, key, now=now)
    assert create_api_key(db, ana, name="dashboard", now=now)[0].name == "dashboard"


def test_a_revoked_key_is_refused_for_good(db: Session, now: datetime) -> None:
    ana = user(db, "ana", "analyst", now)
    key, token = create_api_key(db, ana, name="dashboard", now=now)

    revoke_api_key(db, key, now=now, actor=ana, request_id="r1")
    check = check_api_key(db, token, now=now)

    assert not check.accepted and check.reason == REVOKED and check.prefix == key.prefix
    assert key.revoked_at == now and key.last_used_at is None
    with pytest.raises(ApiKeyError, match="already"):
        revoke_api_key(db, key, now=now)
    (event,) = db.scalars(select(AuditEvent).where(AuditEvent.action == "api_key.revoked"))
    assert (event.actor, event.request_id, event.detail["prefix"]) == ("ana", "r1", key.prefix)


def test_a_disabled_owners_keys_stop_working(db: Session, now: datetime) -> None:
    ana = user(db, "ana", "analyst", now)
    _key, token = create_api_key(db, ana, name="dashboard", now=now)

    ana.active = False

    assert check_api_key(db, token, now=now).reason == OWNER_DISABLED


def test_a_re_roled_owners_keys_stop_working(db: Session, now: datetime) -> None:
    ana = user(db, "ana", "analyst", now)
    _key, token = create_api_key(db, ana, name="dashboard", now=now)

    ana.role = "admin"

    assert check_api_key(db, token, now=now).reason == ROLE_CHANGED


def test_a_wrong_secret_behind_a_real_prefix_is_unknown(db: Session, now: datetime) -> None:
    ana = user(db, "ana", "analyst", now)
    key, token = create_api_key(db, ana, name="dashboard", now=now)
    wrong = token[:-1] + ("A" if token[-1] != "A" else "B")

    check = check_api_key(db, wrong, now=now)

    assert (check.accepted, check.reason, check.prefix) == (False, UNKNOWN, key.prefix)
    assert key.last_used_at is None
    assert check_api_key(db, f"swk_0000abcd_{'x' * 43}", now=now).reason == UNKNOWN


@pytest.mark.parametrize(
    "token",
    ["", "swk_", "nonsense", "swk_ABCDEFGH_" + "x" * 43, "swk_0000abcd_" + "x" * 42, "é" * 56],
)
def test_anything_else_is_malformed(db: Session, now: datetime, token: str) -> None:
    check = check_api_key(db, token, now=now)
    assert (check.accepted, check.reason) == (False, MALFORMED)


def test_keys_are_found_by_owner_and_prefix(db: Session, now: datetime) -> None:
    ana, lee = user(db, "ana", "analyst", now), user(db, "lee", "legal", now)
    key, _token = create_api_key(db, ana, name="dashboard", now=now)

    assert own_api_key(db, ana.id, key.id) is key
    assert own_api_key(db, lee.id, key.id) is None  # another user's key is none of theirs
    assert api_key_by_prefix(db, key.prefix) is key
    assert api_key_by_prefix(db, "swk_00000000") is None
