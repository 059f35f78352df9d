"""Managing review users: add, disable (never delete), change a role, subscribe to the digest.

Each change writes its audit row in the same transaction; the caller commits. ``synthwatch
users`` and ``synthwatch digest subscribe`` call these, and so does anything in the app that
manages users. Passwords and logins are ``review.auth``'s.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy.orm import Session

from review.auth import check_password, hash_password
from review.digest.settings import check_address
from review.errors import NotFoundError, UserError
from storage import users
from storage.audit import append_event
from storage.models import ROLES, User

USERNAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


def find_user(session: Session, username: str) -> User:
    """Return the user with this name, active or not, or raise naming it."""
    user = users.get_user(session, username)
    if user is None:
        raise NotFoundError(f"no user {username!r}")
    return user


def create_user(
    session: Session, *, username: str, password: str, role: str, now: datetime
) -> User:
    """Add a user with a hashed password and audit it; the caller commits."""
    _check_role(role)
    if not USERNAME_PATTERN.fullmatch(username):
        raise UserError(
            f"username {username!r}: use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit"
        )
    check_password(username, password)
    if users.get_user(session, username) is not None:
        raise UserError(f"user {username!r} exists already")
    user = users.create_user(
        session, username=username, password_hash=hash_password(password), role=role, now=now
    )
    _audit(session, user, now, action="user.created", detail={"username": username, "role": role})
    return user


def disable_user(session: Session, user: User, *, now: datetime) -> None:
    """Disable a user: their sessions end, the row and its history stay."""
    user.active = False
    _audit(session, user, now, action="user.disabled")


def set_role(session: Session, user: User, role: str, *, now: datetime) -> None:
    """Change a user's role."""
    _check_role(role)
    before, user.role = user.role, role
    _audit(session, user, now, action="user.role_changed", detail={"from": before, "to": role})


def subscribe_digest(session: Session, username: str, email: str, *, now: datetime) -> User:
    """Send a user the weekly digest at ``email`` (one address, checked); return the user."""
    email = check_address(email.strip(), what="e-mail address")
    user = find_user(session, username)
    if not user.active:
        raise UserError(f"user {username!r} is disabled and gets no digest")
    user.email, user.digest_subscribed = email, True
    detail = {"username": user.username, "email": email}
    _audit(session, user, now, action="digest.subscribed", detail=detail)
    return user


def unsubscribe_digest(session: Session, user: User, *, now: datetime) -> None:
    """Stop sending a user the digest; messages already queued for them are not sent."""
    user.digest_subscribed = False
    _audit(session, user, now, action="digest.unsubscribed", detail={"username": user.username})


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of {', '.join(ROLES)}")


def _audit(
    session: Session,
    user: User,
    now: datetime,
    *,
    action: str,
    detail: dict[str, str] | None = None,
) -> None:
    append_event(
        session, action=action, object_type="user", object_id=user.id, now=now, detail=detail
    )
