"""The digest outbox: its rows as the app and the CLI read them, and the sender's updates.

A sender claims and records a row with a conditional UPDATE (``update_message_if``): of two
senders racing for one row only one matches, so the ORM's unit of work, which would overwrite
blindly, is not used for those changes. The caller owns the transaction and passes the time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from storage.models import DigestMessage, User


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


def get_message(session: Session, outbox_id: int) -> DigestMessage | None:
    """Return an outbox row by id."""
    return session.get(DigestMessage, outbox_id)


def message_recipient(session: Session, row: DigestMessage) -> User | None:
    """Return the user an outbox row is addressed to, if the user still exists."""
    return session.get(User, row.recipient_id)


def recipients_with_message(session: Session, week: str) -> set[int]:
    """Return the ids of the users who have a row for ``week`` already."""
    query = select(DigestMessage.recipient_id).where(DigestMessage.week == week)
    return set(session.scalars(query))


def ready_messages(
    session: Session, *, now: datetime, exclude: Collection[int] = (), limit: int = 20
) -> list[DigestMessage]:
    """Return rows a sender may take at ``now``, oldest week first.

    Those are pending rows whose retry time has come and ``sending`` rows whose claim deadline
    (``next_attempt_at``) has passed: their sender died.
    """
    ready = or_(
        (DigestMessage.status == "pending")
        & or_(DigestMessage.next_attempt_at.is_(None), DigestMessage.next_attempt_at <= now),
        (DigestMessage.status == "sending") & (DigestMessage.next_attempt_at <= now),
    )
    query = select(DigestMessage).where(ready)
    if exclude:
        query = query.where(DigestMessage.id.not_in(exclude))
    query = query.order_by(DigestMessage.week, DigestMessage.id).limit(limit)
    return list(session.scalars(query))


def update_message_if(
    session: Session, outbox_id: int, *, status: str, attempts: int, values: Mapping[str, object]
) -> bool:
    """Set ``values`` on a row only while it has ``status`` and ``attempts``; say whether it did.

    Loaded copies of the row are not updated (``synchronize_session=False``): refresh one to
    read what was stored.
    """
    result = session.execute(
        update(DigestMessage)
        .where(
            DigestMessage.id == outbox_id,
            DigestMessage.status == status,
            DigestMessage.attempts == attempts,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)
