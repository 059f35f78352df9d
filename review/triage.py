"""Triage from the queue: the moves each case offers, changes to many cases at once, and undo.

Built on the rules of `review.workflow` (every change still goes through its ``transition``
and ``assign``). Whoever made a quick triage decision (confirm, dismiss, escalate, rework) or
assigned a case can undo it within UNDO_WINDOW while nobody acted on the case since (``undo``,
audited as ``case.undo``). Functions flush, never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from review.workflow import (
    ASSIGNABLE_STATES,
    ASSIGNING_ROLES,
    IllegalTransition,
    NotPermitted,
    StaleState,
    UnknownCase,
    WorkflowError,
    allowed_transitions,
    assign,
    check_transition,
    transition,
)
from storage.audit import append_event
from storage.cases import last_case_event
from storage.models import AuditEvent, Case, CaseDecision, User
from storage.users import get_user

# Long enough to see the mistake in the message the queue shows, short enough that nobody
# else has started on the case.
UNDO_WINDOW = timedelta(seconds=30)
# The quick decisions of triage. Decisions that carry a legal basis or a referral reference
# are made deliberately on the case page and stay made.
UNDOABLE = frozenset(
    {
        ("new", "confirmed"),
        ("new", "dismissed"),
        ("confirmed", "escalated"),
        ("rejected", "confirmed"),
    }
)
ASSIGN_MOVE = "assign"


class UndoRefused(WorkflowError):
    """A change that can't be undone: too late, someone else's, or acted on since."""


def transition_many(
    session: Session,
    case_ids: Sequence[int],
    to_state: str,
    *,
    actor: User,
    now: datetime,
    note: str = "",
    request_id: str | None = None,
) -> list[CaseDecision]:
    """Move several cases to one state with one note: all of them, or (on any refusal) none."""
    if not case_ids:
        raise IllegalTransition("no case was selected")
    return [
        transition(
            session, case_id, to_state, actor=actor, now=now, note=note, request_id=request_id
        )
        for case_id in dict.fromkeys(case_ids)
    ]


def take_many(
    session: Session,
    case_ids: Sequence[int],
    *,
    actor: User,
    now: datetime,
    request_id: str | None = None,
) -> list[Case]:
    """Assign several cases to ``actor``: all of them, or (on any refusal) none."""
    if not case_ids:
        raise IllegalTransition("no case was selected")
    return [
        assign(session, case_id, assignee=actor, actor=actor, now=now, request_id=request_id)
        for case_id in dict.fromkeys(case_ids)
    ]


def may_take(case: Case, actor: User) -> bool:
    """Say whether ``actor`` may assign ``case`` to themselves (the rules of ``assign``)."""
    return actor.active and actor.role in ASSIGNING_ROLES and case.state in ASSIGNABLE_STATES


def queue_moves(session: Session, cases: Sequence[Case], actor: User) -> dict[int, list[str]]:
    """Return, per case, what ``actor`` may do to it from the queue (notes aside).

    The states it may move to, and ``assign`` when it may take the case and it isn't theirs.
    """
    moves = {}
    for case in cases:
        allowed = allowed_transitions(session, case, actor)
        if may_take(case, actor) and case.assignee_id != actor.id:
            allowed.append(ASSIGN_MOVE)
        moves[case.id] = allowed
    return moves


def check_move(session: Session, case_id: int, move: str, *, actor: User, note: str = "") -> None:
    """Raise why ``actor`` can't make ``move`` (a state, or ASSIGN_MOVE) on a case."""
    case = session.get(Case, case_id)
    if case is None:
        raise UnknownCase(f"there is no case {case_id}")
    if move != ASSIGN_MOVE:
        check_transition(session, case, move, actor, note)
    elif not actor.active or actor.role not in ASSIGNING_ROLES:
        raise NotPermitted(f"{actor.username} ({actor.role}) may not assign cases")
    elif case.state not in ASSIGNABLE_STATES:
        raise IllegalTransition(f"case {case_id} is {case.state}; it needs no assignee")


def last_changes(session: Session, case_ids: Sequence[int]) -> list[int]:
    """Return the ids of the audit rows of the latest change to each case (what undo names)."""
    found = [last_case_event(session, case_id) for case_id in dict.fromkeys(case_ids)]
    return [event.id for event in found if event is not None]


def check_undo(
    session: Session, event_ids: Sequence[int], *, actor: User, now: datetime
) -> list[AuditEvent]:
    """Return the audit rows of the changes ``actor`` may still undo, or raise why not.

    A change can be undone by whoever made it, within UNDO_WINDOW, while it is still the
    latest change to its case: a transition in UNDOABLE, or assigning a case (to anyone).
    """
    if not event_ids:
        raise UndoRefused("there is nothing to undo")
    events = []
    for event_id in dict.fromkeys(event_ids):
        event = session.get(AuditEvent, event_id)
        if event is None or event.object_type != "case" or not _undoable(event):
            raise UndoRefused(f"change {event_id} is not one that can be undone")
        case_id = int(event.object_id)
        if event.actor_id != actor.id or not actor.active:
            raise NotPermitted(f"only {event.actor} can undo their change to case {case_id}")
        if not event.at <= now <= event.at + UNDO_WINDOW:
            seconds = int(UNDO_WINDOW.total_seconds())
            raise UndoRefused(
                f"the change to case {case_id} was made more than {seconds} seconds ago; "
                "it can't be undone now"
            )
        latest = last_case_event(session, case_id)
        if latest is None or latest.id != event.id:
            who = latest.actor if latest is not None else "someone"
            raise UndoRefused(f"{who} acted on case {case_id} since; it can't be undone")
        events.append(event)
    return events


def _undoable(event: AuditEvent) -> bool:
    if event.action == "case.assigned":
        return True
    pair = (event.detail.get("from"), event.detail.get("to"))
    return event.action == f"case.{pair[1]}" and pair in UNDOABLE


def undo(
    session: Session,
    event_ids: Sequence[int],
    *,
    actor: User,
    now: datetime,
    request_id: str | None = None,
) -> list[int]:
    """Reverse these changes (all of them or none); audit each as ``case.undo``; flush.

    A reversed transition is also a decision (back to the state before, with a note naming
    the decision undone), so the case's history reads as it happened. Returns the case ids.
    """
    case_ids = []
    for event in check_undo(session, event_ids, actor=actor, now=now):
        case_id = int(event.object_id)
        if event.action == "case.assigned":
            detail = _undo_assignment(session, case_id, event, now)
        else:
            detail = _undo_transition(session, case_id, event, actor, now)
        append_event(
            session,
            action="case.undo",
            object_type="case",
            object_id=case_id,
            actor=actor,
            now=now,
            request_id=request_id,
            detail={"undone": event.action, "event_id": event.id, **detail},
        )
        case_ids.append(case_id)
    return case_ids


def _undo_transition(
    session: Session, case_id: int, event: AuditEvent, actor: User, now: datetime
) -> dict[str, Any]:
    back_to, from_state = str(event.detail["from"]), str(event.detail["to"])
    session.flush()
    changed = session.connection().execute(
        update(Case)
        .where(Case.id == case_id, Case.state == from_state)
        .values(state=back_to, updated_at=now)
    )
    if changed.rowcount != 1:
        raise StaleState(f"case {case_id} changed meanwhile; reload it and try again")
    case = session.get(Case, case_id)
    if case is not None:
        session.expire(case, ["state", "updated_at"])
    decision = CaseDecision(
        case_id=case_id,
        from_state=from_state,
        to_state=back_to,
        actor_id=actor.id,
        note=f"undo of decision {event.detail.get('decision_id')} ({from_state})",
        at=now,
    )
    session.add(decision)
    session.flush()
    return {"from": from_state, "to": back_to, "decision_id": decision.id}


def _undo_assignment(
    session: Session, case_id: int, event: AuditEvent, now: datetime
) -> dict[str, Any]:
    case = session.get(Case, case_id)
    if case is None:
        raise UnknownCase(f"there is no case {case_id}")
    before = event.detail.get("from")
    previous = get_user(session, str(before)) if before else None
    if before and previous is None:
        raise UndoRefused(f"case {case_id} was {before}'s, who is no longer a user")
    case.assignee_id = previous.id if previous is not None else None
    case.updated_at = now
    session.flush()
    session.expire(case, ["assignee"])
    return {"from": event.detail.get("to"), "to": before}
