"""The digest outbox: which weeks are due, one message per (week, recipient), sent exactly once.

Enqueue. A week falls due on the Monday after it at ``SYNTHWATCH_DIGEST_HOUR`` in
``SYNTHWATCH_DIGEST_TZ`` (``review.digest.settings.DigestSchedule``). ``send_digests`` enqueues
every due week not enqueued before: the schedule ledger holds one claim per week (job
``digest:weeks``, period = the week's Monday 00:00 UTC), so after an outage each missed week is
enqueued once, and marked late when enqueued more than ``LATE_GRACE`` after it fell due. A
week's claim and all its rows (Message-ID ``<digest-WEEK-USERID@domain>``, subject, text and
HTML fixed for good) commit in one transaction: a crash while enqueueing leaves the whole week
or nothing, and the unique (week, recipient) keeps a second enqueue from adding a second message.

Deliver. Each row moves ``pending -> sending -> sent | pending (retry) | failed``:

1. *claim*: a conditional UPDATE sets ``sending``, ``attempts + 1`` and a claim deadline
   (``next_attempt_at = now + CLAIM_TIMEOUT``), and commits. Only one sender wins a row.
2. *SMTP*: connect, (STARTTLS, AUTH), MAIL, RCPT, DATA.
3. *record*: a conditional UPDATE (still ``sending``, same attempt) stores the reply: ``sent``
   on 250; ``failed`` on 5xx; back to ``pending`` with a backoff on 4xx or a lost connection.

A ``sending`` row whose claim deadline has passed belongs to a sender that died, and is sent
again. What each crash point leaves:

- before the claim commits: the row is still pending; it is sent later. Nothing lost or doubled.
- after the claim, before connecting or before DATA ends (e.g. after RCPT): the server dropped
  the unfinished transaction with the connection, so the later resend is the first delivery.
- after the server's 250 to DATA, before our record commits: the server has the message and
  the row still says ``sending``; it is sent once more with the same Message-ID and bytes
  (``review.digest.mail``). This is the one duplicate there can be, and clients that thread by
  Message-ID show it once. A connection lost while waiting for that 250 is the same case: the
  row goes back to pending and the retry is the same message.
- after the record commits: the row is ``sent`` and is never claimed again.

Two senders at once can't share a row (conditional claim); a sender slower than
``CLAIM_TIMEOUT`` (far longer than the SMTP timeouts add up to) could be overtaken, and its late
record is then ignored.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from review.digest.build import DIGEST_JOB_ID, Digest, Reader, build_digest, iso_week, week_bounds
from review.digest.mail import SmtpOutcome, SmtpTransport, Step, message_bytes
from review.digest.render import render_html, render_text, subject_line
from review.digest.settings import DigestSchedule
from review.errors import ReviewError, WeekError
from storage.audit import append_event
from storage.db import transaction
from storage.models import DigestMessage, ScheduleLedger, User
from storage.outbox import (
    get_message,
    message_recipient,
    ready_messages,
    recipients_with_message,
    update_message_if,
)
from storage.schedule import ledger, period_claimed
from storage.users import digest_recipients

log = logging.getLogger(__name__)

# Far longer than one SMTP conversation can take (each step times out at SYNTHWATCH_SMTP_TIMEOUT).
CLAIM_TIMEOUT = timedelta(minutes=10)
# 4xx: retried after 5 min, then 3x longer each time up to 6 h; given up after 10 attempts
# (about a day and a half), so a greylisting or full mailbox gets its chance.
FIRST_RETRY = timedelta(minutes=5)
RETRY_FACTOR = 3
MAX_RETRY_DELAY = timedelta(hours=6)
MAX_ATTEMPTS = 10
# A week enqueued this long after it fell due was missed by the scheduler: it is marked late.
LATE_GRACE = timedelta(hours=1)
# After a longer outage only the most recent weeks are sent, each once, marked late.
MAX_CATCH_UP_WEEKS = 12
CANCELLED = "not sent: the recipient was disabled or unsubscribed"

Clock = Callable[[], datetime]


class OutboxError(ReviewError):
    """An outbox row that does not exist or can't be retried."""


@dataclass
class SendReport:
    """What one ``send_digests`` call enqueued and delivered."""

    enqueued: dict[str, int] = field(default_factory=dict)
    sent: list[tuple[int, str, str]] = field(default_factory=list)
    retrying: list[tuple[int, str, str]] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)


# ---------------------------------------------------------------- which weeks


def last_due_week(schedule: DigestSchedule, now: datetime) -> str:
    """Return the newest week whose digest has fallen due by ``now``."""
    start, _end = week_bounds(iso_week(now))
    for weeks_back in range(1, 4):
        week_start = start - timedelta(days=7 * weeks_back)
        if schedule.due_at(week_start + timedelta(days=7)) <= now:
            return iso_week(week_start)
    raise AssertionError("a week falls due within nine days of its end")  # pragma: no cover


def due_weeks(session: Session, schedule: DigestSchedule, now: datetime) -> list[str]:
    """Return the weeks due and not enqueued yet, oldest first.

    The first time (no week ever claimed) that is the last due week only: a new installation
    doesn't send the digests of the years before it.
    """
    last = last_due_week(schedule, now)
    claims = ledger(session, DIGEST_JOB_ID)
    if not claims:
        return [last]
    week_start = claims[-1].period_start + timedelta(days=7)
    last_start, _end = week_bounds(last)
    weeks = []
    while week_start <= last_start:
        weeks.append(iso_week(week_start))
        week_start += timedelta(days=7)
    if len(weeks) > MAX_CATCH_UP_WEEKS:
        log.warning(
            "digest: %d weeks were missed; sending the last %d (%s to %s) and not %s to %s",
            len(weeks),
            MAX_CATCH_UP_WEEKS,
            weeks[-MAX_CATCH_UP_WEEKS],
            weeks[-1],
            weeks[0],
            weeks[-MAX_CATCH_UP_WEEKS - 1],
        )
    return weeks[-MAX_CATCH_UP_WEEKS:]


# ---------------------------------------------------------------- enqueue


def enqueue_week(
    session: Session,
    week: str,
    *,
    now: datetime,
    schedule: DigestSchedule,
    base_url: str,
    message_id_domain: str,
    claim: bool,
) -> list[DigestMessage]:
    """Add the week's message for each subscriber who has none yet; the caller commits.

    With ``claim`` the week is claimed in the schedule ledger too, and nothing is added when it
    was claimed before. No savepoints: with SQLite's Python driver a savepoint opened first in
    a transaction commits on release, which would split the week. A concurrent enqueue of the
    same week makes the flush fail on a unique constraint instead, and the whole week with it.
    """
    start, end = week_bounds(week)
    if end > now:
        raise WeekError(f"week {week} has not ended yet: preview it instead of sending it")
    period = None
    if claim:
        if period_claimed(session, job_id=DIGEST_JOB_ID, period_start=start):
            return []
        period = ScheduleLedger(
            job_id=DIGEST_JOB_ID,
            period_start=start,
            claimed_by=f"{socket.gethostname()}:{os.getpid()}",
            claimed_at=now,
            status="running",
        )
        session.add(period)
    due = schedule.due_at(end)
    late = now > due + LATE_GRACE
    have = recipients_with_message(session, week)
    recipients = [user for user in digest_recipients(session) if user.id not in have]
    rows = []
    if recipients:
        digest = build_digest(session, week=week, now=now, base_url=base_url)
        for user in recipients:
            row = _message(digest, user, now=now, late_due=due if late else None)
            row.message_id = f"<digest-{week}-{user.id}@{message_id_domain}>"
            rows.append(row)
    session.add_all(rows)
    if period is not None:
        period.status, period.finished_at = "finished", now
        period.detail = f"{len(rows)} messages"
    session.flush()
    return rows


def _message(
    digest: Digest, user: User, *, now: datetime, late_due: datetime | None
) -> DigestMessage:
    reader = Reader(user.id, user.username, user.role)
    assert user.email, "digest_recipients returns users with an e-mail address only"
    return DigestMessage(
        week=digest.week,
        recipient_id=user.id,
        email=user.email,
        subject=subject_line(digest, reader=reader, late=late_due is not None),
        body_text=render_text(digest, reader=reader, late_due=late_due),
        body_html=render_html(digest, reader=reader, late_due=late_due),
        late=late_due is not None,
        status="pending",
        attempts=0,
        created_at=now,
    )


# ---------------------------------------------------------------- deliver


def deliver(
    factory: sessionmaker[Session],
    transport: SmtpTransport,
    *,
    sender: str,
    clock: Clock,
    step: Step | None = None,
    report: SendReport | None = None,
) -> SendReport:
    """Send every pending row that is ready (and every abandoned claim), one at a time."""
    report = report or SendReport()
    tried: set[int] = set()
    while True:
        with transaction(factory) as session:
            row = _claim_next(session, now=clock(), tried=tried)
        if row is None:
            return report
        tried.add(row.id)
        if row.status != "sending":
            report.failed.append((row.id, row.week, row.smtp_reply or ""))
            continue
        try:
            data = message_bytes(row, sender=sender)
        except ValueError as error:
            outcome = SmtpOutcome("permanent", f"not sent: the message can't be built: {error}")
        else:
            outcome = transport.send(row.email, data, step=step)
        with transaction(factory) as session:
            status = _record(session, row, outcome, now=clock())
        if step is not None:
            step("recorded")
        entry = (row.id, row.week, outcome.reply)
        {"sent": report.sent, "pending": report.retrying}.get(status, report.failed).append(entry)


def _claim_next(session: Session, *, now: datetime, tried: set[int]) -> DigestMessage | None:
    """Claim the next ready row; cancel it instead when its recipient may no longer get it."""
    for row in ready_messages(session, now=now, exclude=tried):
        if row.status == "sending":
            log.warning("digest %s: attempt %d was abandoned; sending again", row.id, row.attempts)
        recipient = message_recipient(session, row)
        cancelled = recipient is None or not (recipient.active and recipient.digest_subscribed)
        values = claim_values(
            row.attempts,
            row.smtp_reply,
            reply_field="smtp_reply",
            now=now,
            cancelled=CANCELLED if cancelled else None,
        )
        if update_message_if(
            session, row.id, status=row.status, attempts=row.attempts, values=values
        ):
            session.refresh(row)
            return row
        tried.add(row.id)
    return None


def _record(session: Session, row: DigestMessage, outcome: SmtpOutcome, *, now: datetime) -> str:
    """Store the server's answer to an attempt; return the row's new status."""
    values = answer_values(outcome, row.attempts, reply_field="smtp_reply", now=now)
    if not update_message_if(
        session, row.id, status="sending", attempts=row.attempts, values=values
    ):
        log.warning("digest %s: attempt %d was taken over; not recorded", row.id, row.attempts)
    status = str(values["status"])
    log.info("digest %s (%s): %s, %s", row.id, row.week, status, outcome.reply)
    return status


def claim_values(
    attempts: int,
    last_reply: str | None,
    *,
    reply_field: str,
    now: datetime,
    cancelled: str | None,
) -> dict[str, object]:
    """The update that claims an outbox row for one more attempt (the digest's and alerts').

    A row whose recipient may no longer get it is failed with `cancelled` as its reply; one
    that used up MAX_ATTEMPTS is failed too: a message whose every attempt dies with its sender
    must not stop all the others.
    """
    if cancelled is not None:
        return {"status": "failed", reply_field: cancelled, "next_attempt_at": None}
    if attempts >= MAX_ATTEMPTS:
        reply = f"not sent: gave up after {attempts} attempts; last: {last_reply}"
        return {"status": "failed", reply_field: reply, "next_attempt_at": None}
    return {"status": "sending", "attempts": attempts + 1, "next_attempt_at": now + CLAIM_TIMEOUT}


def answer_values(
    outcome: SmtpOutcome, attempts: int, *, reply_field: str, now: datetime
) -> dict[str, object]:
    """The update that records an attempt's answer: sent, pending again (transient) or failed."""
    values: dict[str, object] = {reply_field: outcome.reply, "next_attempt_at": None}
    if outcome.accepted:
        values.update(status="sent", sent_at=now)
    elif outcome.kind == "transient" and attempts < MAX_ATTEMPTS:
        values.update(status="pending", next_attempt_at=now + retry_delay(attempts))
    else:
        values.update(status="failed")
    return values


def retry_delay(attempts: int) -> timedelta:
    """Return how long to wait after the ``attempts``-th transient failure."""
    return min(FIRST_RETRY * RETRY_FACTOR ** max(0, attempts - 1), MAX_RETRY_DELAY)


# ---------------------------------------------------------------- the command's work


def send_digests(
    factory: sessionmaker[Session],
    transport: SmtpTransport,
    *,
    sender: str,
    clock: Clock,
    schedule: DigestSchedule,
    base_url: str,
    message_id_domain: str,
    week: str | None = None,
    step: Step | None = None,
) -> SendReport:
    """Enqueue ``week`` (default: every due week not enqueued yet), then deliver what is ready."""
    report = SendReport()
    with transaction(factory) as session:
        weeks = [week] if week is not None else due_weeks(session, schedule, clock())
    for name in weeks:
        # One transaction per week: a crash keeps the weeks before it enqueued.
        try:
            with transaction(factory) as session:
                rows = enqueue_week(
                    session,
                    name,
                    now=clock(),
                    schedule=schedule,
                    base_url=base_url,
                    message_id_domain=message_id_domain,
                    claim=week is None,
                )
        except IntegrityError:
            log.info("digest %s was enqueued by another run at the same time", name)
            continue
        report.enqueued[name] = len(rows)
    return deliver(factory, transport, sender=sender, clock=clock, step=step, report=report)


def retry_failed(session: Session, outbox_id: int, *, now: datetime) -> DigestMessage:
    """Queue a failed row again, to the recipient's current address; the caller commits."""
    row = get_message(session, outbox_id)
    if row is None:
        raise OutboxError(f"no digest outbox row {outbox_id}")
    if row.status != "failed":
        raise OutboxError(f"digest outbox row {outbox_id} is {row.status}, not failed")
    recipient = message_recipient(session, row)
    if recipient is None or not recipient.email:
        raise OutboxError(f"digest outbox row {outbox_id}: the recipient has no e-mail address")
    row.email, row.status, row.next_attempt_at, row.attempts = recipient.email, "pending", None, 0
    append_event(
        session,
        action="digest.retried",
        object_type="digest",
        object_id=row.id,
        now=now,
        detail={"week": row.week, "recipient_id": row.recipient_id, "reply": row.smtp_reply},
    )
    session.flush()
    return row
