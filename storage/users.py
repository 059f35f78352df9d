"""Review users: who may sign in, with which role, and who gets the digest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import User


def create_user(
    session: Session, *, username: str, password_hash: str, role: str, now: datetime
) -> User:
    """Add a user; the caller hashes the password."""
    user = User(username=username, password_hash=password_hash, role=role, created_at=now)
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> User | None:
    """Return the user with this name, active or not."""
    return session.scalar(select(User).where(User.username == username))


def reviewers(session: Session) -> list[User]:
    """Return the active users who work cases (analysts and legal reviewers), by name."""
    query = (
        select(User)
        .where(User.active.is_(True), User.role.in_(("analyst", "legal")))
        .order_by(User.username)
    )
    return list(session.scalars(query))


def digest_recipients(session: Session) -> list[User]:
    """Return the active users subscribed to the digest who have an e-mail address."""
    query = (
        select(User)
        .where(User.active.is_(True), User.digest_subscribed.is_(True))
        .where(User.email.is_not(None), User.email != "")
        .order_by(User.id)
    )
    return list(session.scalars(query))


def all_users(session: Session) -> list[User]:
    """Return every user, active or not, by name."""
    return list(session.scalars(select(User).order_by(User.username)))


def users_with_email(session: Session) -> list[User]:
    """Return every user with an e-mail address, subscribed or not, by name."""
    query = select(User).where(User.email.is_not(None)).order_by(User.username)
    return list(session.scalars(query))
