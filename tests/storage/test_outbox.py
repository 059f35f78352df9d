"""The outbox's repository functions: which rows are ready, and the conditional update."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from storage.models import DigestMessage, User
from storage.outbox import (
    get_message,
    message_recipient,
    ready_messages,
    recipients_with_message,
    update_message_if,
)
from storage.users import create_user


def message(
    session: Session, user: User, now: datetime, week: str = "2026-W47", **values: object
) -> DigestMessage:
    row = DigestMessage(
        week=week,
        recipient_id=user.id,
        email="ana@team.example",
        message_id=f"<digest-{week}-{user.id}@team.example>",
        subject="s",
        body_text="t",
        body_html="h",
        created_at=now,
        **values,
    )
    session.add(row)
    session.flush()
    return row


def test_ready_rows_are_pending_ones_due_and_abandoned_claims(
    session: Session, now: datetime
) -> None:
    ana = create_user(session, username="ana", password_hash="x", role="analyst", now=now)
    pending = message(session, ana, now, "2026-W43")
    later = message(session, ana, now, "2026-W44", next_attempt_at=now + timedelta(minutes=5))
    abandoned = message(session, ana, now, "2026-W45", status="sending", next_attempt_at=now)
    sending = now + timedelta(minutes=9)
    message(session, ana, now, "2026-W46", status="sending", next_attempt_at=sending)
    message(session, ana, now, "2026-W47", status="sent")

    assert ready_messages(session, now=now) == [pending, abandoned]
    assert ready_messages(session, now=now, exclude={pending.id}) == [abandoned]
    assert later in ready_messages(session, now=now + timedelta(minutes=5))
    assert recipients_with_message(session, "2026-W45") == {ana.id}
    assert recipients_with_message(session, "2026-W48") == set()
    assert get_message(session, pending.id) is pending
    assert message_recipient(session, pending) is ana


def test_the_update_applies_only_while_status_and_attempts_are_unchanged(
    session: Session, now: datetime
) -> None:
    ana = create_user(session, username="ana", password_hash="x", role="analyst", now=now)
    row = message(session, ana, now)
    claim = {"status": "sending", "attempts": 1}

    assert update_message_if(session, row.id, status="pending", attempts=0, values=claim)
    # A second sender read the same row before the first claim: its claim matches nothing.
    assert not update_message_if(session, row.id, status="pending", attempts=0, values=claim)
    assert row.status == "pending"  # the loaded copy is left alone until refreshed
    session.refresh(row)
    assert (row.status, row.attempts) == ("sending", 1)
