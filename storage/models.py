"""The SynthWatch schema: typed SQLAlchemy 2 models.

Flow of the data: a ``Source`` is approved (``SourceApproval``) and crawled (``CrawlRun``);
every fetch of a listing page is a ``Capture`` (its WARC record and hash); a ``Listing`` keeps its
identity across crawls and gets a ``ListingVersion`` whenever its text changes, with the
``Mention``s and ``Indicator``s found in it; a flagged listing has a ``Case`` that analysts
review; every change worth proving later writes an ``AuditEvent``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ROLES = ("analyst", "legal", "admin")
CASE_STATES = ("new", "confirmed", "dismissed", "escalated", "approved", "rejected", "referred")
DIGEST_STATUSES = ("pending", "sending", "sent", "failed")
# The format new audit rows are hashed with; storage.audit says what each format covers.
AUDIT_HASH_FORMAT = 2


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp, also on SQLite (which stores no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: pass a timezone-aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON(), list[Any]: JSON()}


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


class Listing(Base):
    """A listing page with an identity that outlives crawls: source plus canonical URL."""

    __tablename__ = "listings"
    __table_args__ = (UniqueConstraint("source_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    gone_at: Mapped[datetime | None]
    # Finished crawls of the source in a row that did not see this listing; `gone_at` is set
    # when it reaches the crawler's threshold.
    missed_crawls: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Validators of the last full response, sent back as a conditional GET.
    http_etag: Mapped[str | None] = mapped_column(String(500))
    http_last_modified: Mapped[str | None] = mapped_column(String(100))

    source: Mapped[Source] = relationship()
    versions: Mapped[list[ListingVersion]] = relationship(
        back_populates="listing", order_by="ListingVersion.id"
    )
    case: Mapped[Case | None] = relationship(back_populates="listing")


class ListingVersion(Base):
    """The text of a listing as first seen or as changed, and what extraction found in it."""

    __tablename__ = "listing_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(ForeignKey("listings.id"), index=True)
    capture_id: Mapped[int] = mapped_column(ForeignKey("captures.id"))
    created_at: Mapped[datetime]
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text)
    text_sha256: Mapped[str] = mapped_column(String(64))
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    offer: Mapped[bool] = mapped_column(Boolean, default=False)
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    context: Mapped[list[Any]] = mapped_column(default=list)
    # What extraction found before storage.listings capped the spans kept: {"mentions":
    # {substance class: n}, "indicators": {kind: n}}. NULL on versions stored before the cap,
    # which kept every span: their rows are the whole count.
    span_counts: Mapped[dict[str, Any] | None] = mapped_column(JSON())

    listing: Mapped[Listing] = relationship(back_populates="versions")
    capture: Mapped[Capture] = relationship()
    mentions: Mapped[list[Mention]] = relationship(
        back_populates="version", order_by="Mention.start", cascade="all, delete-orphan"
    )
    indicators: Mapped[list[Indicator]] = relationship(
        back_populates="version", order_by="Indicator.start", cascade="all, delete-orphan"
    )


class Mention(Base):
    """A substance named in a listing version, with offsets into its text."""

    __tablename__ = "mentions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("listing_versions.id"), index=True)
    concept_id: Mapped[str] = mapped_column(String(100), index=True)
    name: Mapped[str] = mapped_column(String(200))
    substance_class: Mapped[str] = mapped_column(String(40))
    control: Mapped[str] = mapped_column(String(100), default="")
    start: Mapped[int]
    end: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float, default=1.0)
    # How it was found: "lexicon", "fuzzy" (one edit away), "cas" or "pattern" (an analogue).
    method: Mapped[str] = mapped_column(String(16), default="lexicon", server_default="lexicon")

    version: Mapped[ListingVersion] = relationship(back_populates="mentions")


class Indicator(Base):
    """A trafficking indicator (price, quantity, shipping, contact, ...) with offsets."""

    __tablename__ = "indicators"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("listing_versions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    start: Mapped[int]
    end: Mapped[int]
    text: Mapped[str] = mapped_column(Text)
    value: Mapped[str] = mapped_column(Text, default="")
    # The identifier the indicator names, normalised by extraction ("wickr:chemking",
    # "phone:+12025550143", "btc:bc1..."); listings sharing one are looked up by it.
    key: Mapped[str | None] = mapped_column(String(320), index=True)

    version: Mapped[ListingVersion] = relationship(back_populates="indicators")


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


class LexiconCandidate(Base):
    """An unknown chemical-looking name seen beside sale indicators, kept for lexicon curation."""

    __tablename__ = "lexicon_candidates"

    id: Mapped[int] = mapped_column(primary_key=True)
    term: Mapped[str] = mapped_column(String(200), unique=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    # A few contexts it was seen in (listing version id and the text around it), bounded.
    examples: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default="new")
