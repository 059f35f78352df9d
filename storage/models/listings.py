"""What was found: listings, their versions with mentions and indicators, lexicon
candidates."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
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
    from storage.models.review import Case
    from storage.models.sources import Capture, Source


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
    # A listing's latest version is max(id) by listing: one probe of this index (migration 0015).
    __table_args__ = (Index("ix_listing_versions_listing_latest", "listing_id", "id"),)

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
    # storage.routes reads route indicators by value range (migration 0015).
    __table_args__ = (
        Index(
            "ix_indicators_route",
            "value",
            "version_id",
            sqlite_where=sql_text("kind = 'route'"),
            postgresql_where=sql_text("kind = 'route'"),
        ),
    )

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
