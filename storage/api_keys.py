"""Keys of the read-only JSON API: made, checked, listed and revoked, each change audited.

A key is ``swk_`` + 8 hex digits (its prefix, which lists and audit rows show) + ``_`` + 43
characters of ``secrets.token_urlsafe(32)`` (256 random bits). It is shown once, when it is made;
the database keeps the prefix and the SHA-256 of the whole key. A fast hash is enough for a
random secret of that length (there is no dictionary to try), and the comparison takes the same
time whatever the first differing character.

A key acts with a role, at most its owner's: roles are not ranks (an analyst may do what a legal
reviewer may not, and the other way round), so "at most" means the owner's own role. A key
stops working when it is revoked, when its owner is disabled, and when its owner's role is no
longer the key's; repository functions flush, the caller commits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from storage.audit import append_event
from storage.errors import StorageError
from storage.models import ROLES, ApiKey, User

KEY_SCHEME = "swk"
PREFIX_PATTERN = re.compile(r"swk_[0-9a-f]{8}")
# What a key presented to the API must look like: the prefix, "_", the urlsafe secret.
KEY_PATTERN = re.compile(r"(swk_[0-9a-f]{8})_([A-Za-z0-9_-]{43})")
SECRET_BYTES = 32
MAX_NAME_CHARS = 80
# Drawing a prefix that is taken is a one-in-four-billion event per key; a few tries suffice.
PREFIX_TRIES = 5

# Why a presented key is refused (ApiKeyCheck.reason).
MALFORMED, UNKNOWN, REVOKED, OWNER_DISABLED, ROLE_CHANGED = (
    "malformed key",
    "unknown key",
    "revoked key",
    "owner disabled",
    "owner's role changed",
)


class ApiKeyError(StorageError):
    """A key that can't be made or revoked as asked (a role above its owner's, a name taken)."""


@dataclass(frozen=True, slots=True)
class ApiKeyCheck:
    """What checking a presented key found: the key and its owner, or why it was refused."""

    key: ApiKey | None
    reason: str = ""
    prefix: str = ""  # the prefix the presented key named, even when it was refused

    @property
    def accepted(self) -> bool:
        """Say whether the key may be used."""
        return self.key is not None and not self.reason


def key_digest(token: str) -> str:
    """Return the SHA-256 (hex) of a whole key as it is stored."""
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _check_name(session: Session, owner: User, name: str) -> str:
    name = name.strip()
    if not 1 <= len(name) <= MAX_NAME_CHARS:
        raise ApiKeyError(f"an API key's name has 1 to {MAX_NAME_CHARS} characters")
    if not name.isprintable():
        raise ApiKeyError("an API key's name can't hold line breaks or control characters")
    taken = session.scalar(
        select(ApiKey.id).where(
            ApiKey.user_id == owner.id, ApiKey.name == name, ApiKey.revoked_at.is_(None)
        )
    )
    if taken is not None:
        raise ApiKeyError(f"{owner.username} has a key named {name!r} already; pick another name")
    return name


def _new_prefix(session: Session) -> str:
    for _ in range(PREFIX_TRIES):
        prefix = f"{KEY_SCHEME}_{secrets.token_hex(4)}"
        if session.scalar(select(ApiKey.id).where(ApiKey.prefix == prefix)) is None:
            return prefix
    raise ApiKeyError("could not draw an unused key prefix; try again")


def create_api_key(
    session: Session,
    owner: User,
    *,
    name: str,
    now: datetime,
    role: str | None = None,
    actor: User | None = None,
    request_id: str | None = None,
) -> tuple[ApiKey, str]:
    """Make a key for ``owner`` acting with ``role`` (default: the owner's); return it and the
    whole key, which exists nowhere else from now on. Audited as ``api_key.created``."""
    role = owner.role if role is None else role
    if role not in ROLES:
        raise ApiKeyError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if role != owner.role:
        raise ApiKeyError(
            f"a key of {owner.username} can act as {owner.role} only, their own role, not {role}"
        )
    if not owner.active:
        raise ApiKeyError(f"user {owner.username} is disabled and gets no API key")
    name = _check_name(session, owner, name)
    prefix = _new_prefix(session)
    token = f"{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    key = ApiKey(
        user_id=owner.id,
        name=name,
        prefix=prefix,
        secret_sha256=key_digest(token),
        role=role,
        created_at=now,
    )
    session.add(key)
    session.flush()
    _audit(session, key, owner, "api_key.created", now=now, actor=actor, request_id=request_id)
    return key, token


def revoke_api_key(
    session: Session,
    key: ApiKey,
    *,
    now: datetime,
    actor: User | None = None,
    request_id: str | None = None,
) -> None:
    """Revoke a key for good; audited as ``api_key.revoked``."""
    if key.revoked_at is not None:
        raise ApiKeyError(f"key {key.prefix} was revoked already")
    key.revoked_at = now
    session.flush()
    owner = session.get_one(User, key.user_id)
    _audit(session, key, owner, "api_key.revoked", now=now, actor=actor, request_id=request_id)


def _audit(
    session: Session,
    key: ApiKey,
    owner: User,
    action: str,
    *,
    now: datetime,
    actor: User | None,
    request_id: str | None,
) -> None:
    append_event(
        session,
        action=action,
        object_type="api_key",
        object_id=key.id,
        actor=actor,
        now=now,
        request_id=request_id,
        detail={"prefix": key.prefix, "name": key.name, "role": key.role, "owner": owner.username},
    )


def check_api_key(session: Session, token: str, *, now: datetime) -> ApiKeyCheck:
    """Return the key a presented key is, with its owner loaded, or why it is refused.

    An accepted key's ``last_used_at`` becomes ``now`` (the caller commits).
    """
    found = KEY_PATTERN.fullmatch(token)
    if found is None:
        prefix = token[:12] if PREFIX_PATTERN.fullmatch(token[:12]) else ""
        return ApiKeyCheck(None, MALFORMED, prefix)
    prefix = found.group(1)
    key = session.scalar(
        select(ApiKey).where(ApiKey.prefix == prefix).options(joinedload(ApiKey.owner))
    )
    # Compared in constant time, and hashed whether or not the prefix names a key.
    digest = key_digest(token)
    if key is None or not hmac.compare_digest(digest, key.secret_sha256):
        return ApiKeyCheck(None, UNKNOWN, prefix)
    if key.revoked_at is not None:
        return ApiKeyCheck(key, REVOKED, prefix)
    if not key.owner.active:
        return ApiKeyCheck(key, OWNER_DISABLED, prefix)
    if key.owner.role != key.role:
        return ApiKeyCheck(key, ROLE_CHANGED, prefix)
    key.last_used_at = now
    return ApiKeyCheck(key, "", prefix)


def api_keys_of(session: Session, user_id: int) -> list[ApiKey]:
    """Return a user's keys, revoked ones too, newest first."""
    query = select(ApiKey).where(ApiKey.user_id == user_id).order_by(ApiKey.id.desc())
    return list(session.scalars(query))


def all_api_keys(session: Session) -> list[ApiKey]:
    """Return every key with its owner, by owner and newest first."""
    query = (
        select(ApiKey)
        .join(User, ApiKey.user_id == User.id)
        .options(joinedload(ApiKey.owner))
        .order_by(User.username, ApiKey.id.desc())
    )
    return list(session.scalars(query))


def own_api_key(session: Session, user_id: int, key_id: int) -> ApiKey | None:
    """Return one of a user's keys by id; another user's is None, as a missing one."""
    return session.scalar(select(ApiKey).where(ApiKey.id == key_id, ApiKey.user_id == user_id))


def api_key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    """Return the key with this prefix (``swk_1a2b3c4d``), or None."""
    return session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
