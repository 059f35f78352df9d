from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from storage.audit import append_event, verify_chain
from storage.models import AuditEvent


def add_events(session: Session, now: datetime, count: int = 4) -> list[AuditEvent]:
    return [
        append_event(
            session,
            action="case.viewed",
            object_type="case",
            object_id=n,
            now=now + timedelta(minutes=n),
        )
        for n in range(count)
    ]


def test_an_untouched_chain_verifies(session: Session, now: datetime) -> None:
    add_events(session, now)
    assert verify_chain(session) is None


def test_a_modified_row_is_named(session: Session, now: datetime) -> None:
    events = add_events(session, now)
    session.execute(update(AuditEvent).where(AuditEvent.id == events[2].id).values(object_id="99"))
    session.expire_all()
    broken = verify_chain(session)
    assert broken is not None and broken.event_id == events[2].id
    assert "modified" in broken.problem


def test_a_deleted_row_breaks_the_chain_at_its_successor(session: Session, now: datetime) -> None:
    events = add_events(session, now)
    session.execute(delete(AuditEvent).where(AuditEvent.id == events[1].id))
    session.expire_all()
    broken = verify_chain(session)
    assert broken is not None and broken.event_id == events[2].id


def test_each_row_links_to_its_predecessor(session: Session, now: datetime) -> None:
    add_events(session, now)
    rows = session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))
