"""Who may do what: passwords, users, the login session and the role policy of every endpoint.

Deny by default: each view declares ``@allow(role, ...)`` or ``@public``, and ``enforce_policy``
(a ``before_request`` hook) refuses any endpoint that declares neither.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from review.context import db, now, review_context
from review.errors import UserError
from storage import repository
from storage.audit import append_event
from storage.models import ROLES, User

log = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., Any])

POLICY_ATTRIBUTE = "__synthwatch_policy__"
MIN_PASSWORD_LENGTH = 8
# argon2 hashes whatever it is given; a bound keeps one request from costing seconds.
MAX_PASSWORD_LENGTH = 1024
SESSION_USER_KEYS = ("user_id", "login_at", "credential")
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")

_hasher = PasswordHasher()


# ---------------------------------------------------------------- passwords


def hash_password(password: str) -> str:
    """Return the argon2id hash of a password."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Say whether a password matches its hash; a malformed hash never matches."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash("no user has this password")


# ---------------------------------------------------------------- users


def create_user(
    session: Session, *, username: str, password: str, role: str, now: datetime
) -> User:
    """Add a user with a hashed password and audit it; the caller commits."""
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not USERNAME_PATTERN.fullmatch(username):
        raise UserError(
            f"username {username!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    _check_password(username, password)
    if repository.get_user(session, username) is not None:
        raise UserError(f"user {username!r} exists already")
    user = repository.create_user(
        session, username=username, password_hash=hash_password(password), role=role, now=now
    )
    append_event(
        session,
        action="user.created",
        object_type="user",
        object_id=user.id,
        now=now,
        detail={"username": username, "role": role},
    )
    return user


def set_password(user: User, password: str) -> None:
    """Give a user a new password; sessions started with the old one end."""
    _check_password(user.username, password)
    user.password_hash = hash_password(password)


def _check_password(username: str, password: str) -> None:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise UserError(
            f"password of {username!r} must be {MIN_PASSWORD_LENGTH} to "
            f"{MAX_PASSWORD_LENGTH} characters long"
        )


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    now: datetime,
    request_id: str | None = None,
) -> User | None:
    """Return the active user with these credentials, or None; audit the attempt either way.

    The caller commits, so that failed attempts are kept too.
    """
    user = repository.get_user(session, username) if len(username) <= 64 else None
    if user is None:
        verify_password(_dummy_hash(), password)  # as slow as a real check: no user probing
        reason = "unknown user"
    elif not verify_password(user.password_hash, password):
        reason = "wrong password"
    elif not user.active:
        reason = "user disabled"
    else:
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        append_event(
            session,
            action="auth.login",
            object_type="user",
            object_id=user.id,
            actor=user,
            now=now,
            request_id=request_id,
        )
        return user
    append_event(
        session,
        action="auth.login_failed",
        object_type="user",
        object_id=user.id if user else username[:64],
        now=now,
        detail={"username": username[:64], "reason": reason},
        request_id=request_id,
    )
    return None


# ---------------------------------------------------------------- the login session


def login_user(user: User) -> None:
    """Start a fresh session for a user who just authenticated."""
    session.clear()  # nothing from before the login survives it, the CSRF token included
    session.permanent = True
    session["user_id"] = user.id
    session["login_at"] = now().timestamp()
    session["credential"] = _credential_binding(user)


def _credential_binding(user: User) -> str:
    # Ties the session to the password it was opened with: a new password ends old sessions.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def logout_user() -> None:
    """End the session."""
    session.clear()


def current_user() -> User | None:
    """Return the signed-in, active user of this request, or None.

    A session whose user was disabled or deleted, or that is older than the session lifetime,
    is ended here.
    """
    if "user" in g:
        return cast(User | None, g.user)
    user: User | None = None
    user_id, login_at = session.get("user_id"), session.get("login_at")
    credential = session.get("credential")
    if isinstance(user_id, int) and isinstance(login_at, float) and isinstance(credential, str):
        lifetime = review_context().settings.session_lifetime.total_seconds()
        candidate = db().get(User, user_id)
        if (
            candidate is not None
            and candidate.active
            and now().timestamp() - login_at < lifetime
            and hmac.compare_digest(credential, _credential_binding(candidate))
        ):
            user = candidate
    if user is None and session:
        # Keep an anonymous visitor's CSRF token; drop everything that claimed a user.
        for key in SESSION_USER_KEYS:
            session.pop(key, None)
    g.user = user
    return user


def safe_next(target: str | None) -> str | None:
    """Return ``target`` when it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or any(ord(c) < 0x21 or c == "\\" for c in target):
        return None
    return target


# ---------------------------------------------------------------- the role policy


@dataclass(frozen=True, slots=True)
class Policy:
    """Who may call an endpoint: anyone (``public``) or signed-in users with one of ``roles``."""

    roles: frozenset[str]
    public: bool = False


def allow(*roles: str) -> Callable[[View], View]:
    """Let signed-in users with one of these roles call the decorated view."""
    unknown = sorted(set(roles) - set(ROLES))
    if not roles or unknown:
        raise ValueError(f"allow() needs roles among {ROLES}, not {unknown or 'none'}")

    def mark(view: View) -> View:
        setattr(view, POLICY_ATTRIBUTE, Policy(frozenset(roles)))
        return view

    return mark


def public(view: View) -> View:
    """Let anyone, signed in or not, call the decorated view."""
    setattr(view, POLICY_ATTRIBUTE, Policy(frozenset(), public=True))
    return view


def policy_of(view: Callable[..., Any] | None) -> Policy | None:
    """Return the policy a view declared, or None."""
    policy = getattr(view, POLICY_ATTRIBUTE, None)
    return policy if isinstance(policy, Policy) else None


def endpoints_without_policy(app: Flask) -> list[str]:
    """Return the endpoints of an app whose view declares no policy."""
    return sorted(
        endpoint for endpoint, view in app.view_functions.items() if policy_of(view) is None
    )


def enforce_policy() -> Response | None:
    """Refuse the request unless its endpoint's policy lets the current user in."""
    if request.routing_exception is not None or request.endpoint is None:
        return None  # Flask answers 404/405 next; no view runs
    policy = policy_of(current_app.view_functions.get(request.endpoint))
    if policy is None:
        log.error("endpoint %r declares no role policy: denied", request.endpoint)
        abort(403)
    if policy.public:
        return None
    user = current_user()
    if user is None:
        target = request.full_path if request.method == "GET" else None
        return redirect(url_for("login.login", next=safe_next(target and target.rstrip("?"))))
    if user.role not in policy.roles:
        abort(403)
    return None
