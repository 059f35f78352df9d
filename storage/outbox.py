"""The digest outbox as the app and the CLI read it: rows, and deliveries refused for good."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    select,
)
from sqlalchemy.orm import Session

from storage.models import (
    DigestMessage,
    User,
)


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A digest the mail server refused for good (or that was given up on)."""

    outbox_id: int
    week: str
    username: str
    smtp_reply: str
    attempts: int


def undelivered_digests(session: Session, *, weeks: Sequence[str]) -> list[Undelivered]:
    """Return the failed digests of some weeks, oldest week first."""
    if not weeks:
        return []
    query = (
        select(DigestMessage, User.username)
        .join(User, DigestMessage.recipient_id == User.id)
        .where(DigestMessage.status == "failed", DigestMessage.week.in_(weeks))
        .order_by(DigestMessage.week, User.username)
    )
    return [
        Undelivered(row.id, row.week, username, row.smtp_reply or "", row.attempts)
        for row, username in session.execute(query)
    ]


def outbox_rows(
    session: Session, *, week: str | None = None, status: str | None = None, limit: int = 100
) -> list[tuple[DigestMessage, str]]:
    """Return outbox rows with their recipient's username, newest week first."""
    query = select(DigestMessage, User.username).join(User, DigestMessage.recipient_id == User.id)
    if week is not None:
        query = query.where(DigestMessage.week == week)
    if status is not None:
        query = query.where(DigestMessage.status == status)
    query = query.order_by(DigestMessage.week.desc(), DigestMessage.id).limit(limit)
    return [(row, username) for row, username in session.execute(query)]
