"""The alert outbox: its rows as the app and the CLI read them, and the sender's updates.

As the digest's (``storage.outbox``): a sender claims and records a row with a conditional
UPDATE (``update_delivery_if``), so of two senders racing for one row only one wins it. The
caller owns the transaction and passes the time.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from storage.models import AlertDelivery, User, WatchAlert, WatchRule


def add_delivery(
    session: Session,
    alert: WatchAlert,
    *,
    channel: str,
    target: str,
    message_id: str,
    subject: str,
    body_text: str,
    now: datetime,
) -> AlertDelivery:
    """Add the pending message of an alert to one channel; the caller commits."""
    row = AlertDelivery(
        alert_id=alert.id,
        channel=channel,
        target=target,
        message_id=message_id,
        subject=subject,
        body_text=body_text,
        status="pending",
        attempts=0,
        created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def ready_deliveries(
    session: Session, *, now: datetime, exclude: Collection[int] = (), limit: int = 20
) -> list[AlertDelivery]:
    """Return rows a sender may take at ``now``, oldest first (abandoned claims included)."""
    ready = or_(
        (AlertDelivery.status == "pending")
        & or_(AlertDelivery.next_attempt_at.is_(None), AlertDelivery.next_attempt_at <= now),
        (AlertDelivery.status == "sending") & (AlertDelivery.next_attempt_at <= now),
    )
    query = select(AlertDelivery).where(ready)
    if exclude:
        query = query.where(AlertDelivery.id.not_in(exclude))
    return list(session.scalars(query.order_by(AlertDelivery.id).limit(limit)))


def update_delivery_if(
    session: Session, delivery_id: int, *, status: str, attempts: int, values: Mapping[str, object]
) -> bool:
    """Set ``values`` on a row only while it has ``status`` and ``attempts``; say whether it did."""
    result = session.execute(
        update(AlertDelivery)
        .where(
            AlertDelivery.id == delivery_id,
            AlertDelivery.status == status,
            AlertDelivery.attempts == attempts,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    return bool(result.rowcount)


def deliveries_of_alerts(
    session: Session, alert_ids: Sequence[int]
) -> dict[int, list[AlertDelivery]]:
    """Return the outbox rows of these alerts, by alert, in channel order."""
    if not alert_ids:
        return {}
    query = (
        select(AlertDelivery)
        .where(AlertDelivery.alert_id.in_(alert_ids))
        .order_by(AlertDelivery.alert_id, AlertDelivery.channel)
    )
    found: dict[int, list[AlertDelivery]] = {}
    for row in session.scalars(query):
        found.setdefault(row.alert_id, []).append(row)
    return found


def delivery_rows(
    session: Session, *, status: str | None = None, limit: int = 100
) -> list[tuple[AlertDelivery, WatchAlert, WatchRule, str]]:
    """Return outbox rows with their alert, rule and the rule owner's name, newest first."""
    query = (
        select(AlertDelivery, WatchAlert, WatchRule, User.username)
        .join(WatchAlert, AlertDelivery.alert_id == WatchAlert.id)
        .join(WatchRule, WatchAlert.rule_id == WatchRule.id)
        .join(User, WatchRule.owner_id == User.id)
    )
    if status is not None:
        query = query.where(AlertDelivery.status == status)
    query = query.order_by(AlertDelivery.id.desc()).limit(limit)
    return [(row, alert, rule, name) for row, alert, rule, name in session.execute(query)]


def get_delivery(session: Session, delivery_id: int) -> AlertDelivery | None:
    """Return an outbox row by id."""
    return session.get(AlertDelivery, delivery_id)
