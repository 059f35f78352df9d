"""Alerts raised and delivered: one outbox row per (alert, channel), sent at most once.

Raise. ``raise_alerts`` runs ``storage.watch.match_rules`` and, in the same transaction, adds
each new alert's message to each channel of its rule (subject, text and Message-ID fixed for
good). The alert is unique per (rule, case) and its rows per (alert, channel): a crash leaves
the alert with all its rows or nothing, and a second run raises nothing again.

Deliver. As the digest's outbox (``review.digest.outbox``, whose timing constants these are):
each row moves ``pending -> sending -> sent | pending (retry) | failed``. A conditional UPDATE
claims it (one sender wins), the message goes out — e-mail through the digest's relay and
sender, any other channel through Apprise — and a conditional UPDATE records the answer. A
failed Apprise notification, a 4xx or a lost connection is retried with backoff (5 min, x3, at
most 6 h, 10 attempts); a 5xx, a channel no longer configured or an owner with no address is
``failed`` at once. Failures stay visible: on the rule's alerts, on ``/alerts/outbox`` for
admins and in ``synthwatch alerts outbox``; ``synthwatch alerts retry ID`` sends one again.
The one duplicate a crash can cause is the digest's: after the receiver took the message and
before the record committed; the resend is the same text (and, by e-mail, the same Message-ID).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

import apprise
from sqlalchemy.orm import Session, sessionmaker

from review.alerts.message import alert_message_id, alert_subject, alert_text, email_bytes
from review.alerts.settings import CHANNELS_SETTING, AlertSettings
from review.digest.mail import SmtpOutcome, SmtpTransport
from review.digest.outbox import OutboxError, answer_values, claim_values
from review.digest.settings import SMTP_REQUIRED
from storage.alert_outbox import (
    add_delivery,
    get_delivery,
    ready_deliveries,
    update_delivery_if,
)
from storage.audit import append_event
from storage.db import transaction
from storage.models import EMAIL_CHANNEL, AlertDelivery, User, WatchAlert, WatchRule
from storage.watch import alert_channels, match_rules

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
NO_ADDRESS = "not sent: the rule's owner has no e-mail address (synthwatch digest subscribe)"
OWNER_DISABLED = "not sent: the rule's owner was disabled"
# Apprise's own log lines can name a URL's parts (hosts, tokens): those are blanked out.
_URL_PARTS = re.compile(r"[/:@?&=#+]")


@dataclass
class AlertReport:
    """What one ``send_alerts`` call raised and delivered."""

    rules: int = 0
    raised: list[tuple[int, int, int]] = field(default_factory=list)  # alert, rule, case
    sent: list[tuple[int, str, str]] = field(default_factory=list)  # row, channel, reply
    retrying: list[tuple[int, str, str]] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)


class AppriseTransport:
    """Send one notification to a named channel of ``SYNTHWATCH_ALERT_CHANNELS``."""

    def __init__(self, channels: Mapping[str, str]) -> None:
        self.channels = dict(channels)

    def send(self, channel: str, title: str, body: str) -> SmtpOutcome:
        """Notify ``channel``; failures are transient unless the channel can't be used at all."""
        url = self.channels.get(channel)
        if url is None:
            return SmtpOutcome(
                "permanent", f"not sent: there is no channel {channel!r} in {CHANNELS_SETTING}"
            )
        notifier = apprise.Apprise()
        if not notifier.add(url):
            return SmtpOutcome("permanent", f"not sent: Apprise can't read channel {channel!r}")
        with apprise.LogCapture(level=logging.WARNING, fmt="%(message)s") as captured:
            ok = notifier.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT)
            said = captured.getvalue()
        scheme = url.partition("://")[0]
        if ok:
            return SmtpOutcome("accepted", f"delivered to {channel} ({scheme})")
        reason = " ".join(_scrubbed(said, url).split())[:500] or "Apprise reported a failure"
        return SmtpOutcome("transient", f"not delivered to {channel} ({scheme}): {reason}")


def _scrubbed(text: str, url: str) -> str:
    """Blank the URL's parts of six characters and more (hosts, tokens) out of a log text."""
    for part in sorted(_URL_PARTS.split(url.partition("://")[2]), key=len, reverse=True):
        if len(part) >= 6:
            text = text.replace(part, "…")
    return text


# ---------------------------------------------------------------- raise


def raise_alerts(
    session: Session, *, now: datetime, settings: AlertSettings, report: AlertReport | None = None
) -> AlertReport:
    """Raise the alerts of new matches and add their messages to the outbox; the caller commits."""
    report = report or AlertReport()
    matched = match_rules(session, now=now)
    report.rules = matched.rules
    for new in matched.alerts:
        alert, rule = new.alert, new.rule
        subject = alert_subject(rule, alert.facts)
        text = alert_text(rule, alert, base_url=settings.base_url)
        for channel, target in alert_channels(rule, new.owner):
            add_delivery(
                session,
                alert,
                channel=channel,
                target=target,
                message_id=alert_message_id(alert, channel, settings.message_id_domain),
                subject=subject,
                body_text=text,
                now=now,
            )
        report.raised.append((alert.id, rule.id, alert.case_id))
        log.info("alert %s: rule %s matched case %s", alert.id, rule.id, alert.case_id)
    return report


# ---------------------------------------------------------------- deliver


def deliver(
    factory: sessionmaker[Session],
    *,
    settings: AlertSettings,
    clock: Clock,
    smtp: SmtpTransport | None = None,
    notifier: AppriseTransport | None = None,
    report: AlertReport | None = None,
) -> AlertReport:
    """Send every ready outbox row (and every abandoned claim), one at a time."""
    report = report or AlertReport()
    if smtp is None and settings.smtp is not None:
        smtp = SmtpTransport(settings.smtp)
    notifier = notifier or AppriseTransport(settings.channels)
    tried: set[int] = set()
    while True:
        with transaction(factory) as session:
            row = _claim_next(session, now=clock(), tried=tried)
        if row is None:
            return report
        tried.add(row.id)
        if row.status != "sending":
            report.failed.append((row.id, row.channel, row.reply or ""))
            continue
        outcome = _send(row, settings=settings, smtp=smtp, notifier=notifier)
        with transaction(factory) as session:
            status = _record(session, row, outcome, now=clock())
        entry = (row.id, row.channel, outcome.reply)
        {"sent": report.sent, "pending": report.retrying}.get(status, report.failed).append(entry)


def _send(
    row: AlertDelivery,
    *,
    settings: AlertSettings,
    smtp: SmtpTransport | None,
    notifier: AppriseTransport,
) -> SmtpOutcome:
    if row.channel != EMAIL_CHANNEL:
        return notifier.send(row.channel, row.subject, row.body_text)
    if not row.target:
        return SmtpOutcome("permanent", NO_ADDRESS)
    if smtp is None or settings.smtp is None:
        return SmtpOutcome("transient", f"not sent: {SMTP_REQUIRED}")
    try:
        data = email_bytes(row, sender=settings.smtp.sender)
    except ValueError as error:
        return SmtpOutcome("permanent", f"not sent: the message can't be built: {error}")
    return smtp.send(row.target, data)


def _owner(session: Session, row: AlertDelivery) -> User | None:
    alert = session.get_one(WatchAlert, row.alert_id)
    rule = session.get_one(WatchRule, alert.rule_id)
    return session.get(User, rule.owner_id)


def _claim_next(session: Session, *, now: datetime, tried: set[int]) -> AlertDelivery | None:
    """Claim the next ready row; fail it instead when it may no longer go out."""
    for row in ready_deliveries(session, now=now, exclude=tried):
        if row.status == "sending":
            log.warning("alert delivery %s: attempt %d was abandoned; again", row.id, row.attempts)
        owner = _owner(session, row)
        values = claim_values(
            row.attempts,
            row.reply,
            reply_field="reply",
            now=now,
            cancelled=OWNER_DISABLED if owner is None or not owner.active else None,
        )
        if update_delivery_if(
            session, row.id, status=row.status, attempts=row.attempts, values=values
        ):
            session.refresh(row)
            return row
        tried.add(row.id)
    return None


def _record(session: Session, row: AlertDelivery, outcome: SmtpOutcome, *, now: datetime) -> str:
    """Store the answer to an attempt; return the row's new status."""
    values = answer_values(outcome, row.attempts, reply_field="reply", now=now)
    if not update_delivery_if(
        session, row.id, status="sending", attempts=row.attempts, values=values
    ):
        log.warning("alert delivery %s: attempt %d was taken over", row.id, row.attempts)
    status = str(values["status"])
    log.info("alert delivery %s (%s): %s, %s", row.id, row.channel, status, outcome.reply)
    return status


# ---------------------------------------------------------------- the command's work


def send_alerts(
    factory: sessionmaker[Session],
    *,
    settings: AlertSettings,
    clock: Clock,
    smtp: SmtpTransport | None = None,
    notifier: AppriseTransport | None = None,
) -> AlertReport:
    """Raise the alerts of new matches (one transaction), then deliver what is ready."""
    with transaction(factory) as session:
        report = raise_alerts(session, now=clock(), settings=settings)
    return deliver(
        factory, settings=settings, clock=clock, smtp=smtp, notifier=notifier, report=report
    )


def retry_delivery(session: Session, delivery_id: int, *, now: datetime) -> AlertDelivery:
    """Queue a failed row again (e-mail: to the owner's current address); the caller commits."""
    row = get_delivery(session, delivery_id)
    if row is None:
        raise OutboxError(f"no alert outbox row {delivery_id}")
    if row.status != "failed":
        raise OutboxError(f"alert outbox row {delivery_id} is {row.status}, not failed")
    if row.channel == EMAIL_CHANNEL:
        owner = _owner(session, row)
        if owner is None or not owner.email:
            raise OutboxError(f"alert outbox row {delivery_id}: the owner has no e-mail address")
        row.target = owner.email
    row.status, row.next_attempt_at, row.attempts = "pending", None, 0
    append_event(
        session,
        action="alert.retried",
        object_type="alert_delivery",
        object_id=row.id,
        now=now,
        detail={"alert_id": row.alert_id, "channel": row.channel, "reply": row.reply},
    )
    session.flush()
    return row
