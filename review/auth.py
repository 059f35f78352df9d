"""Who may do what: passwords, logins, the login session and the role policy of every endpoint.

Deny by default: each view declares ``@allow(role, ...)`` or ``@public``, and ``enforce_policy``
(a ``before_request`` hook) refuses any endpoint that declares neither.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import Flask, abort, current_app, g, redirect, request, session, url_for
from sqlalchemy.orm import Session
from werkzeug.exceptions import Unauthorized
from werkzeug.wrappers import Response

from review.context import db, now, request_id, review_context
from review.errors import UserError
from storage import users
from storage.audit import append_event, has_event
from storage.models import ROLES, User

log = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., Any])

POLICY_ATTRIBUTE = "__synthwatch_policy__"
MIN_PASSWORD_LENGTH = 8
# argon2 hashes whatever it is given; a bound keeps one request from costing seconds.
MAX_PASSWORD_LENGTH = 1024
SESSION_USER_KEYS = ("user_id", "login_at", "seen_at", "sid", "credential")
# Login throttling: after this many failures in a row, an account takes no password (not even
# the right one) until LOCKOUT has passed since the last failure.
MAX_FAILED_LOGINS = 5
LOCKOUT = timedelta(minutes=15)
LOGOUT_ACTION = "auth.logout"

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


def set_password(user: User, password: str) -> None:
    """Give a user a new password; sessions started with the old one end."""
    check_password(user.username, password)
    user.password_hash = hash_password(password)


def check_password(username: str, password: str) -> None:
    """Refuse a password too short to resist guessing or too long to hash cheaply."""
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise UserError(
            f"password of {username!r} must be {MIN_PASSWORD_LENGTH} to "
            f"{MAX_PASSWORD_LENGTH} characters long"
        )


# ---------------------------------------------------------------- logins


def authenticate(
    session: Session,
    *,
    username: str,
    password: str,
    now: datetime,
    request_id: str | None = None,
    purpose: str | None = None,
) -> User | None:
    """Return the active user with these credentials, or None; audit the attempt either way.

    After ``MAX_FAILED_LOGINS`` failures in a row an account is locked for ``LOCKOUT``. The
    caller commits, so that failed attempts (and their count) are kept too. A ``purpose``
    ("source approval") makes it a confirmation of a signed-in user, audited as
    ``auth.confirmed`` rather than a login; its failures count against the same lockout.
    """
    user = users.get_user(session, username) if len(username) <= 64 else None
    if user is None:
        verify_password(_dummy_hash(), password)  # as slow as a real check: no user probing
        reason = "unknown user"
    elif locked_out(user, now):
        verify_password(_dummy_hash(), password)
        reason = "throttled"
    elif not verify_password(user.password_hash, password):
        user.failed_logins = (user.failed_logins or 0) + 1
        user.last_failed_login_at = now
        reason = "wrong password"
    elif not user.active:
        reason = "user disabled"
    else:
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
        user.failed_logins, user.last_failed_login_at = 0, None
        append_event(
            session,
            action="auth.login" if purpose is None else "auth.confirmed",
            object_type="user",
            object_id=user.id,
            actor=user,
            now=now,
            request_id=request_id,
            detail=None if purpose is None else {"purpose": purpose},
        )
        return user
    detail: dict[str, object] = {"username": username[:64], "reason": reason}
    if purpose is not None:
        detail["purpose"] = purpose
    if user is not None and user.failed_logins:
        detail["failures_in_a_row"] = user.failed_logins
    append_event(
        session,
        action="auth.login_failed",
        object_type="user",
        object_id=user.id if user else username[:64],
        now=now,
        detail=detail,
        request_id=request_id,
    )
    return None


def locked_out(user: User, now: datetime) -> bool:
    """Say whether too many failed logins in a row keep the account locked at ``now``."""
    last = user.last_failed_login_at
    return (
        (user.failed_logins or 0) >= MAX_FAILED_LOGINS and last is not None and now - last < LOCKOUT
    )


# ---------------------------------------------------------------- the login session


def login_user(user: User) -> None:
    """Start a fresh session, with a new session id, for a user who just authenticated."""
    session.clear()  # nothing from before the login survives it, the CSRF token included
    session.permanent = True
    moment = now().timestamp()
    session["user_id"] = user.id
    session["login_at"] = session["seen_at"] = moment
    session["sid"] = secrets.token_urlsafe(24)
    session["credential"] = _credential_binding(user)


def session_digest() -> str | None:
    """Return the digest of this session's id, as audit rows name the session (or None)."""
    sid = session.get("sid")
    return hashlib.sha256(sid.encode()).hexdigest()[:32] if isinstance(sid, str) else None


def _credential_binding(user: User) -> str:
    # Ties the session to the password it was opened with: a new password ends old sessions.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def logout_user(user: User | None) -> None:
    """End the session here and for any copy of its cookie; the caller commits."""
    digest = session_digest()
    if digest is not None and user is not None:
        # The cookie is signed, not stored: this row is what refuses a copy of it from now on.
        append_event(
            db(),
            action=LOGOUT_ACTION,
            object_type="session",
            object_id=digest,
            actor=user,
            now=now(),
            request_id=request_id(),
        )
    session.clear()


def _revoked(digest: str) -> bool:
    return has_event(db(), action=LOGOUT_ACTION, object_type="session", object_id=digest)


def current_user() -> User | None:
    """Return the signed-in, active user of this request, or None.

    A session is ended here when its user was disabled or deleted or changed password, when it
    is older than the session lifetime, unused for longer than the idle timeout, or logged out.
    """
    if "user" in g:
        return cast(User | None, g.user)
    user: User | None = None
    user_id, login_at = session.get("user_id"), session.get("login_at")
    seen_at, credential = session.get("seen_at"), session.get("credential")
    digest = session_digest()
    if (
        isinstance(user_id, int)
        and isinstance(login_at, float)
        and isinstance(seen_at, float)
        and isinstance(credential, str)
        and digest is not None
    ):
        settings = review_context().settings
        moment = now().timestamp()
        candidate = db().get(User, user_id)
        if (
            candidate is not None
            and candidate.active
            and moment - login_at < settings.session_lifetime.total_seconds()
            and moment - seen_at < settings.session_idle.total_seconds()
            and hmac.compare_digest(credential, _credential_binding(candidate))
            and not _revoked(digest)
        ):
            user = candidate
            session["seen_at"] = moment
    if user is None and isinstance(user_id, int):
        g.ended_user_id = user_id  # whose typed input a form posted now may give back
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


class SessionEnded(Unauthorized):
    """A form posted without a signed-in session: sign in again and get the form back."""

    description = "Your session ended; sign in to continue."


@dataclass(frozen=True, slots=True)
class Policy:
    """Who may call an endpoint: anyone (``public``) or signed-in users with one of ``roles``."""

    roles: frozenset[str]
    public: bool = False
    # The API's policy (``allow_bearer``): a check of the request's bearer key, run instead of
    # the session's; it answers the refusal itself, or None to let the request in.
    bearer: Callable[[frozenset[str]], Response | None] | None = None


def allow(*roles: str) -> Callable[[View], View]:
    """Let signed-in users with one of these roles call the decorated view."""
    unknown = sorted(set(roles) - set(ROLES))
    if not roles or unknown:
        raise ValueError(f"allow() needs roles among {ROLES}, not {unknown or 'none'}")

    def mark(view: View) -> View:
        setattr(view, POLICY_ATTRIBUTE, Policy(frozenset(roles)))
        return view

    return mark


def allow_bearer(
    check: Callable[[frozenset[str]], Response | None], *roles: str
) -> Callable[[View], View]:
    """Let requests whose bearer key ``check`` accepts for one of these roles call the view;
    the session cookie is never read for them."""
    unknown = sorted(set(roles) - set(ROLES))
    if not roles or unknown:
        raise ValueError(f"allow_bearer() needs roles among {ROLES}, not {unknown or 'none'}")

    def mark(view: View) -> View:
        setattr(view, POLICY_ATTRIBUTE, Policy(frozenset(roles), bearer=check))
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
    if policy.bearer is not None:
        return policy.bearer(policy.roles)
    user = current_user()
    if user is None:
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            raise SessionEnded()  # review.kept_form keeps what was posted
        target = request.full_path.rstrip("?")
        return redirect(url_for("login.login", next=safe_next(target)))
    if user.role not in policy.roles:
        record_denial(user, f"the {user.role} role may not use {request.endpoint}")
        abort(403)
    return None


def record_denial(user: User, reason: str) -> None:
    """Audit a refused request of a signed-in user, in a transaction of its own."""
    store = db()
    store.rollback()  # whatever the request had started is not part of the refusal
    append_event(
        store,
        action="auth.denied",
        object_type="endpoint",
        object_id=request.endpoint or request.path[:64],
        actor=user,
        now=now(),
        request_id=request_id(),
        detail={"method": request.method, "path": request.path[:500], "reason": reason[:500]},
    )
    store.commit()
