"""Watch rules: what an analyst wants to hear about, the alerts they raised, and their outbox."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base

if TYPE_CHECKING:
    from storage.models.sources import User

# A delivery of an alert moves pending -> sending -> sent | pending (retry) | failed, as the
# digest's outbox rows do (storage.watch, review.alerts).
ALERT_DELIVERY_STATUSES = ("pending", "sending", "sent", "failed")
# The channel name of the e-mail to the rule's owner; any other channel is a named Apprise
# channel of SYNTHWATCH_ALERT_CHANNELS.
EMAIL_CHANNEL = "email"


class WatchRule(Base):
    """An analyst's saved watch: every condition set must hold (AND) for a case to match.

    ``since`` is when the rule's current conditions took effect (made, changed or enabled):
    only cases opened, or whose listing changed, from then on are new matches.
    """

    __tablename__ = "watch_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    concept_id: Mapped[str | None] = mapped_column(String(120))
    substance_class: Mapped[str | None] = mapped_column(String(64))
    search: Mapped[str | None] = mapped_column(String(200))
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("sellers.id"))
    source_id: Mapped[str | None] = mapped_column(ForeignKey("sources.id"))
    novel_substance: Mapped[bool] = mapped_column(Boolean, default=False)
    min_score: Mapped[float | None] = mapped_column(Float)
    # Where its alerts go: "email" (the owner's address) and names of Apprise channels.
    channels: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    since: Mapped[datetime]
    # When matching last looked at the cases changed before it (storage.watch.MATCH_OVERLAP).
    checked_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    owner: Mapped[User] = relationship()


class WatchAlert(Base):
    """One case matching one rule: made once, never again (the unique pair), with its facts.

    ``facts`` keeps what the case showed when it matched (title, substances, classes, source,
    score, sellers), as the alert's messages say it.
    """

    __tablename__ = "watch_alerts"
    __table_args__ = (UniqueConstraint("rule_id", "case_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("watch_rules.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("listing_versions.id"))
    facts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class AlertDelivery(Base):
    """The alert outbox: one message per (alert, channel), built once and sent at most once."""

    __tablename__ = "alert_outbox"
    __table_args__ = (UniqueConstraint("alert_id", "channel"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("watch_alerts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(64))
    # The e-mail address for "email"; the channel's name again for an Apprise channel (its URL,
    # which may hold a token, stays in the environment).
    target: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    subject: Mapped[str] = mapped_column(String(255))
    body_text: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    reply: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]

    alert: Mapped[WatchAlert] = relationship()
