"""What people decided: cases and their decisions, the audit log, digest messages."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import (
    AUDIT_HASH_FORMAT,
    Base,
)

if TYPE_CHECKING:
    from storage.models.listings import Listing
    from storage.models.sources import User


class Case(Base):
    """The review case of a flagged listing; ``review.workflow`` alone changes its state."""

    __tablename__ = "cases"
    __table_args__ = (Index("ix_cases_state_score", "state", "score"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), unique=True)
    state: Mapped[str] = mapped_column(String(16), default="new")
    score: Mapped[float] = mapped_column(Float, default=0.0)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    listing: Mapped[Listing] = relationship(back_populates="case")
    assignee: Mapped[User | None] = relationship()
    decisions: Mapped[list[CaseDecision]] = relationship(
        back_populates="case", order_by="CaseDecision.id"
    )


class CaseDecision(Base):
    """One state change of a case, with who made it and why; written by review.workflow only."""

    __tablename__ = "case_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    from_state: Mapped[str] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]

    case: Mapped[Case] = relationship(back_populates="decisions")
    actor: Mapped[User] = relationship()


class CaseComment(Base):
    """A comment of the thread on a case: what colleagues tell each other, beside decisions."""

    __tablename__ = "case_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]

    author: Mapped[User] = relationship()


class SavedFilter(Base):
    """A user's named queue filter: the query string of the queue's filter form."""

    __tablename__ = "saved_filters"
    __table_args__ = (UniqueConstraint("user_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(80))
    query: Mapped[str] = mapped_column(String(2000))
    created_at: Mapped[datetime]


class AuditEvent(Base):
    """One row of the hash-chained audit log: ``hash`` covers the row and ``prev_hash``."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[str] = mapped_column(String(64))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Which fields ``hash`` covers (storage.audit.HASH_FORMATS): rows written before format 2
    # existed keep format 1, which leaves ``actor_id`` out.
    hash_format: Mapped[int] = mapped_column(default=AUDIT_HASH_FORMAT, server_default="1")


class DigestMessage(Base):
    """The outbox: one weekly digest per (week, recipient), built once and sent at most once.

    The message (Message-ID, subject, both parts) is fixed when the row is created, so a resend
    after a crash is the same message.
    """

    __tablename__ = "digest_outbox"
    __table_args__ = (UniqueConstraint("week", "recipient_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    week: Mapped[str] = mapped_column(String(8))
    recipient_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    email: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    smtp_reply: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]

    recipient: Mapped[User] = relationship()
