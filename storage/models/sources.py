"""Who crawls what: users, sources and their approvals, crawl runs and their captures,
the schedule's ledger and leases."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import (
    Base,
)

if TYPE_CHECKING:
    from storage.models.listings import Listing


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    email: Mapped[str | None] = mapped_column(String(320))
    digest_subscribed: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=sql_text("false")
    )
    # The IANA time zone pages show this user's times in ("Europe/Berlin"); stored times are UTC.
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    # Login throttling: failures in a row, and when the last one happened.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_failed_login_at: Mapped[datetime | None]

    def __repr__(self) -> str:
        return f"<User {self.username} ({self.role})>"


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    config: Mapped[dict[str, Any]]
    scope_fingerprint: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    suspended_at: Mapped[datetime | None]

    approvals: Mapped[list[SourceApproval]] = relationship(
        back_populates="source", order_by="SourceApproval.approved_at"
    )


class SourceApproval(Base):
    """A legal reviewer's approval, bound to the scope fingerprint it was given for."""

    __tablename__ = "source_approvals"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    scope_fingerprint: Mapped[str] = mapped_column(String(64))
    legal_basis: Mapped[str] = mapped_column(Text)
    approved_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime]

    source: Mapped[Source] = relationship(back_populates="approvals")
    approved_by: Mapped[User] = relationship()


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    stats: Mapped[dict[str, Any]] = mapped_column(default=dict)
    warc_file: Mapped[str | None] = mapped_column(String(500))
    # The evidence file's length and SHA-256 when the run closed (storage.warc checks them);
    # NULL for runs closed before migration 0008 and for runs that never closed.
    warc_bytes: Mapped[int | None] = mapped_column(BigInteger)
    warc_sha256: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)

    source: Mapped[Source] = relationship()


class Capture(Base):
    """One fetched page as evidence: where its WARC record is and the SHA-256 of its payload."""

    __tablename__ = "captures"

    id: Mapped[int] = mapped_column(primary_key=True)
    crawl_run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    listing_id: Mapped[int | None] = mapped_column(ForeignKey("listings.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    http_status: Mapped[int]
    content_type: Mapped[str] = mapped_column(String(200), default="")
    fetched_at: Mapped[datetime]
    warc_file: Mapped[str] = mapped_column(String(500))
    warc_offset: Mapped[int] = mapped_column(Integer)
    warc_length: Mapped[int] = mapped_column(Integer)
    payload_sha256: Mapped[str] = mapped_column(String(64))

    crawl_run: Mapped[CrawlRun] = relationship()
    listing: Mapped[Listing | None] = relationship()


class ScheduleLedger(Base):
    """One row per (job, period): the claim that makes each scheduled period run once."""

    __tablename__ = "schedule_ledger"
    __table_args__ = (UniqueConstraint("job_id", "period_start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(100))
    period_start: Mapped[datetime]
    claimed_by: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    detail: Mapped[str | None] = mapped_column(Text)


class Lease(Base):
    """A named lease: one holder at a time, taken over once it expires."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]
