from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from sqlalchemy import JSON, Engine, column, delete, insert, select, table, update
from sqlalchemy.orm import Session, sessionmaker

from storage.audit import (
    DELETED,
    GENESIS_HASH,
    INSERTED,
    MODIFIED,
    REORDERED,
    TRUNCATED,
    ChainBreak,
    Checkpoint,
    CheckpointError,
    append_event,
    checkpoint,
    event_hash,
    iter_events,
    verify_chain,
)
from storage.db import make_engine, make_session_factory
from storage.migrate import upgrade
from storage.models import AuditEvent
from storage.users import create_user
from tests.conftest import downgrade


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


# ---------------------------------------------------------------- the five kinds of tampering


def rows(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.id)))


def test_a_modified_row_is_named_with_its_kind(session: Session, now: datetime) -> None:
    events = add_events(session, now, 6)
    session.execute(
        update(AuditEvent).where(AuditEvent.id == events[3].id).values(detail={"note": "edited"})
    )
    session.expire_all()

    broken = verify_chain(session)

    assert broken == ChainBreak(events[3].id, broken.problem, MODIFIED)


def test_a_modified_row_whose_hash_was_computed_again_is_named(
    session: Session, now: datetime
) -> None:
    events = add_events(session, now, 6)
    target = events[2]
    target.actor = "someone else"
    target.hash = event_hash(target)
    session.flush()

    broken = verify_chain(session)

    assert broken is not None and (broken.event_id, broken.kind) == (target.id, MODIFIED)


def test_a_deleted_row_is_found_at_the_row_after_the_gap(session: Session, now: datetime) -> None:
    events = add_events(session, now, 6)
    session.execute(delete(AuditEvent).where(AuditEvent.id == events[3].id))
    session.expire_all()

    broken = verify_chain(session)

    assert broken is not None and (broken.event_id, broken.kind) == (events[4].id, DELETED)
    assert f"rows {events[3].id} to {events[3].id} are absent" in broken.problem


def test_a_deleted_first_row_is_found(session: Session, now: datetime) -> None:
    events = add_events(session, now, 3)
    session.execute(delete(AuditEvent).where(AuditEvent.id == events[0].id))
    session.expire_all()

    broken = verify_chain(session)

    assert broken is not None and (broken.event_id, broken.kind) == (events[1].id, DELETED)


def _shift_ids_from(session: Session, first_id: int) -> None:
    """Make room for a row at ``first_id`` by moving every later row up by one."""
    for row_id in sorted(
        session.scalars(select(AuditEvent.id).where(AuditEvent.id >= first_id)), reverse=True
    ):
        session.execute(update(AuditEvent).where(AuditEvent.id == row_id).values(id=row_id + 1))
    session.expunge_all()


def test_an_inserted_row_is_named(session: Session, now: datetime) -> None:
    events = add_events(session, now, 6)
    at, before_hash = events[3].id, events[2].hash
    _shift_ids_from(session, at)
    forged = AuditEvent(
        id=at,
        at=now + timedelta(minutes=2, seconds=30),
        actor="mallory",
        action="case.approved",
        object_type="case",
        object_id="1",
        detail={},
        request_id=None,
        prev_hash=before_hash,  # chained properly to its predecessor, hash computed right
    )
    forged.hash = event_hash(forged)
    session.add(forged)
    session.flush()
    session.expire_all()

    broken = verify_chain(session)

    assert broken is not None and (broken.event_id, broken.kind) == (at, INSERTED)


def test_an_inserted_row_with_a_made_up_link_is_named(session: Session, now: datetime) -> None:
    events = add_events(session, now, 5)
    at = events[2].id
    _shift_ids_from(session, at)
    forged = AuditEvent(
        id=at,
        at=now,
        actor="mallory",
        action="auth.login",
        object_type="user",
        object_id="9",
        detail={},
        prev_hash="f" * 64,
    )
    forged.hash = event_hash(forged)
    session.add(forged)
    session.flush()
    session.expire_all()

    broken = verify_chain(session)

    assert broken is not None and (broken.event_id, broken.kind) == (at, INSERTED)


def test_reordered_rows_are_named(session: Session, now: datetime) -> None:
    events = add_events(session, now, 6)
    first, second = events[2].id, events[3].id
    session.execute(update(AuditEvent).where(AuditEvent.id == first).values(id=-1))
    session.execute(update(AuditEvent).where(AuditEvent.id == second).values(id=first))
    session.execute(update(AuditEvent).where(AuditEvent.id == -1).values(id=second))
    session.expire_all()

    broken = verify_chain(session)

    assert broken is not None and (broken.event_id, broken.kind) == (first, REORDERED)


def test_a_truncated_tail_is_found_with_the_checkpoint(session: Session, now: datetime) -> None:
    events = add_events(session, now, 6)
    mark = checkpoint(session)
    assert mark is not None and mark.event_id == events[-1].id
    session.execute(delete(AuditEvent).where(AuditEvent.id >= events[4].id))
    session.expire_all()

    assert verify_chain(session) is None  # what is left still chains: only the checkpoint knows
    broken = verify_chain(session, mark)

    assert broken is not None and (broken.event_id, broken.kind) == (events[4].id, TRUNCATED)
    assert f"row {events[-1].id}" in broken.problem


def test_a_tail_cut_and_written_again_is_found(session: Session, now: datetime) -> None:
    events = add_events(session, now, 6)
    mark = checkpoint(session)
    assert mark is not None
    session.execute(delete(AuditEvent).where(AuditEvent.id >= events[4].id))
    session.expire_all()
    add_events(session, now + timedelta(hours=1), 3)  # the ids are used again

    broken = verify_chain(session, mark)

    assert broken is not None and (broken.event_id, broken.kind) == (mark.event_id, TRUNCATED)


def test_a_log_that_grew_after_the_checkpoint_verifies(session: Session, now: datetime) -> None:
    add_events(session, now, 3)
    mark = checkpoint(session)
    add_events(session, now + timedelta(hours=1), 3)

    assert verify_chain(session, mark) is None


def test_a_checkpoint_round_trips_and_bad_ones_are_refused() -> None:
    mark = Checkpoint(event_id=7, hash="a" * 64, at="2026-11-25T12:00:00+00:00")

    assert Checkpoint.from_dict(mark.to_dict()) == mark
    data = mark.to_dict()
    for bad in ({}, {"format": "x"}, {**data, "event_id": 0}, {**data, "hash": "a"}):
        with pytest.raises(CheckpointError):
            Checkpoint.from_dict(bad)


def test_the_chain_is_walked_in_batches(session: Session, now: datetime) -> None:
    events = add_events(session, now, 7)
    session.execute(update(AuditEvent).where(AuditEvent.id == events[5].id).values(actor="x"))
    session.expire_all()

    assert [e.id for e in iter_events(session, batch=2)] == [e.id for e in events]
    broken = verify_chain(session)
    assert broken is not None and broken.event_id == events[5].id


def test_concurrent_writers_never_fork_the_chain(
    session_factory: sessionmaker[Session], now: datetime
) -> None:
    def write(worker: int) -> None:
        for n in range(8):
            with session_factory() as own, own.begin():
                append_event(
                    own,
                    action="case.viewed",
                    object_type="case",
                    object_id=f"{worker}-{n}",
                    now=now,
                )

    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(write, range(4)))

    with session_factory() as fresh:
        assert len(rows(fresh)) == 32
        assert verify_chain(fresh) is None


def test_concurrent_writers_never_fork_the_chain_on_postgresql(
    postgres_url: str, now: datetime
) -> None:
    engine = make_engine(postgres_url)
    upgrade(engine)
    factory = make_session_factory(engine)
    try:
        test_concurrent_writers_never_fork_the_chain(factory, now)
    finally:
        engine.dispose()


def add_signed_events(session: Session, now: datetime, count: int = 3) -> list[AuditEvent]:
    """Add rows written by two users, so each row's actor_id can be swapped for the other's."""
    lee = create_user(session, username="lee", password_hash="x", role="legal", now=now)
    ana = create_user(session, username="ana", password_hash="x", role="analyst", now=now)
    return [
        append_event(
            session,
            action="source.approved",
            object_type="source",
            object_id="shop",
            actor=(lee, ana)[n % 2],
            now=now + timedelta(minutes=n),
        )
        for n in range(count)
    ]


def test_a_changed_actor_id_is_found(session: Session, now: datetime) -> None:
    events = add_signed_events(session, now)
    assert {e.hash_format for e in events} == {2}
    other = events[0].actor_id
    session.execute(update(AuditEvent).where(AuditEvent.id == events[1].id).values(actor_id=other))
    session.expire_all()

    broken = verify_chain(session)

    assert broken is not None and (broken.event_id, broken.kind) == (events[1].id, MODIFIED)


def test_a_row_taken_back_to_the_old_format_is_found(session: Session, now: datetime) -> None:
    events = add_signed_events(session, now)
    last = events[-1]
    # The forger moves the last row to format 1, whose hash leaves actor_id out, and hashes again.
    session.execute(
        update(AuditEvent).where(AuditEvent.id == last.id).values(actor_id=None, hash_format=1)
    )
    session.expire_all()
    forged = session.get(AuditEvent, last.id)
    assert forged is not None
    session.execute(
        update(AuditEvent).where(AuditEvent.id == last.id).values(hash=event_hash(forged))
    )
    session.expire_all()

    broken = verify_chain(session)

    assert broken is not None and (broken.event_id, broken.kind) == (last.id, MODIFIED)
    assert "format 1 after rows of format 2" in broken.problem


# audit_events at revision 0005, before it had hash_format.
OLD_AUDIT_TABLE = table(
    "audit_events",
    *(column(name) for name in ("at", "actor_id", "actor", "action", "object_type")),
    *(column(name) for name in ("object_id", "prev_hash", "hash")),
    column("detail", JSON),
)


def test_rows_written_before_format_2_still_verify(engine: Engine, now: datetime) -> None:
    factory = make_session_factory(engine)
    with factory() as session, session.begin():
        lee = create_user(session, username="lee", password_hash="x", role="legal", now=now)
        lee_id = lee.id
    downgrade(engine, "0005")
    # Rows as the code before format 2 wrote them: hashed without actor_id, no format column.
    prev = GENESIS_HASH
    with engine.begin() as connection:
        for n in range(3):
            old = AuditEvent(
                at=now + timedelta(minutes=n),
                actor_id=lee_id,
                actor="lee",
                action="source.approved",
                object_type="source",
                object_id="shop",
                detail={"n": n},
                request_id=None,
                prev_hash=prev,
                hash_format=1,
            )
            prev = event_hash(old)
            connection.execute(
                insert(OLD_AUDIT_TABLE).values(
                    at=old.at, actor_id=lee_id, actor="lee", action=old.action,
                    object_type="source", object_id="shop", detail={"n": n},
                    prev_hash=old.prev_hash, hash=prev,
                )
            )  # fmt: skip
    upgrade(engine)

    with factory() as session, session.begin():
        assert [e.hash_format for e in iter_events(session)] == [1, 1, 1]
        assert verify_chain(session) is None
        new = append_event(
            session, action="case.viewed", object_type="case", object_id=1, now=now, actor=lee
        )
        assert new.hash_format == 2
    with factory() as session:
        assert verify_chain(session) is None
        # The old rows' actor_id stays outside their hash (the documented limit); a new row's
        # is covered.
        session.execute(update(AuditEvent).where(AuditEvent.id == 1).values(actor_id=None))
        assert verify_chain(session) is None
        session.execute(update(AuditEvent).where(AuditEvent.id == new.id).values(actor_id=None))
        session.expire_all()
        broken = verify_chain(session)
        assert broken is not None and (broken.event_id, broken.kind) == (new.id, MODIFIED)
