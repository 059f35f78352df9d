"""The case workflow: the only place a case's state (or assignee) changes.

Each change adds a ``CaseDecision`` and an audit row in the caller's transaction, so both are
committed with the change or not at all. The rules::

    new        -> confirmed | dismissed    analyst (a dismiss needs a reason)
    confirmed  -> escalated                analyst
    escalated  -> approved | rejected      legal, never the user who escalated (four eyes);
                                           approve needs the legal basis, reject a reason
    approved   -> referred                 analyst or legal, with the referral reference
    rejected   -> confirmed                analyst (rework)

Anything else is refused. An analyst or legal reviewer may give a case still being worked to
any active analyst or legal reviewer, or to nobody (``assign``). Triage from the queue (many
cases at once, undo) is `review.triage`, built on these rules. Functions flush, never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from review.errors import ReviewError
from storage.audit import append_event
from storage.listings import get_listing
from storage.models import Case, CaseDecision, User

MAX_NOTE_CHARS = 4000
# Assigning is part of working a case; a case that left the workflow is nobody's task.
ASSIGNABLE_STATES = frozenset({"new", "confirmed", "escalated", "approved", "rejected"})
ASSIGNING_ROLES = frozenset({"analyst", "legal"})

DISMISS_REASONS = (
    "not an offer (news, harm reduction, information)",
    "not a controlled substance or precursor",
    "legitimate business (licensed supplier, research use)",
    "duplicate of another case",
    "outside our remit (jurisdiction, out of scope)",
)


class WorkflowError(ReviewError):
    """A change of a case that the workflow does not allow."""

    status = 409


class IllegalTransition(WorkflowError):
    """No rule leads from the case's state to the state asked for."""


class NotPermitted(WorkflowError):
    """The user may not make this change: wrong role, inactive, or the four-eyes rule."""

    status = 403


class NoteRequired(WorkflowError):
    """The change needs a note (a reason, a legal basis, a reference) and got none."""

    status = 400


class StaleState(WorkflowError):
    """The case changed meanwhile (another user acted first)."""


class UnknownCase(WorkflowError):
    """There is no such case."""

    status = 404


class Unassignable(WorkflowError):
    """The user a case was to be given to does not work cases (inactive, or an admin)."""

    status = 400


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may make one transition, and what note it needs (empty: none)."""

    roles: frozenset[str]
    note: str = ""
    four_eyes: bool = False


TRANSITIONS: dict[tuple[str, str], Rule] = {
    ("new", "confirmed"): Rule(frozenset({"analyst"})),
    ("new", "dismissed"): Rule(frozenset({"analyst"}), note="a reason for dismissing"),
    ("confirmed", "escalated"): Rule(frozenset({"analyst"})),
    ("escalated", "approved"): Rule(
        frozenset({"legal"}), note="the legal basis of the referral", four_eyes=True
    ),
    ("escalated", "rejected"): Rule(
        frozenset({"legal"}), note="a reason for rejecting", four_eyes=True
    ),
    ("approved", "referred"): Rule(frozenset({"analyst", "legal"}), note="the referral reference"),
    ("rejected", "confirmed"): Rule(frozenset({"analyst"})),
}


def escalated_by(session: Session, case_id: int) -> int | None:
    """Return the id of the user who last escalated a case, or None."""
    query = (
        select(CaseDecision.actor_id)
        .where(CaseDecision.case_id == case_id, CaseDecision.to_state == "escalated")
        .order_by(CaseDecision.id.desc())
        .limit(1)
    )
    return session.scalar(query)


def check_transition(
    session: Session, case: Case, to_state: str, actor: User, note: str | None = ""
) -> Rule:
    """Return the rule that lets ``actor`` move ``case`` to ``to_state``, or raise why not.

    ``note=None`` leaves the note out of the check (a page asking which buttons to show).
    """
    rule = TRANSITIONS.get((case.state, to_state))
    if rule is None:
        raise IllegalTransition(f"case {case.id} is {case.state}; it can't become {to_state}")
    if not actor.active or actor.role not in rule.roles:
        raise NotPermitted(
            f"{actor.username} ({actor.role}) may not make case {case.id} {to_state}: "
            f"that needs the {' or '.join(sorted(rule.roles))} role"
        )
    if rule.four_eyes:
        escalator = escalated_by(session, case.id)
        if escalator is None or escalator == actor.id:
            raise NotPermitted(
                f"{actor.username} escalated case {case.id}; another legal reviewer decides it"
                if escalator == actor.id
                else f"case {case.id} has no recorded escalation; it can't be decided"
            )
    if note is None:
        return rule
    if rule.note and not note.strip():
        raise NoteRequired(f"making case {case.id} {to_state} needs {rule.note}")
    if len(note) > MAX_NOTE_CHARS:
        raise NoteRequired(f"the note is {len(note)} characters; at most {MAX_NOTE_CHARS}")
    return rule


def allowed_transitions(session: Session, case: Case, actor: User) -> list[str]:
    """Return the states ``actor`` may move ``case`` to (notes aside), for the page's buttons."""
    allowed = []
    for (from_state, to_state), _rule in TRANSITIONS.items():
        if from_state != case.state:
            continue
        try:
            check_transition(session, case, to_state, actor, note=None)
        except WorkflowError:
            continue
        allowed.append(to_state)
    return allowed


def transition(
    session: Session,
    case_id: int,
    to_state: str,
    *,
    actor: User,
    now: datetime,
    note: str = "",
    request_id: str | None = None,
) -> CaseDecision:
    """Move a case to ``to_state``; record the decision and its audit row; flush."""
    case = session.get(Case, case_id)
    if case is None:
        raise UnknownCase(f"there is no case {case_id}")
    from_state = case.state
    check_transition(session, case, to_state, actor, note)
    # Only if the state is still the one checked: a concurrent change makes this a no-op.
    session.flush()
    changed = session.connection().execute(
        update(Case)
        .where(Case.id == case_id, Case.state == from_state)
        .values(state=to_state, updated_at=now)
    )
    if changed.rowcount != 1:
        raise StaleState(f"case {case_id} changed meanwhile; reload it and try again")
    session.expire(case, ["state", "updated_at"])
    decision = CaseDecision(
        case_id=case_id,
        from_state=from_state,
        to_state=to_state,
        actor_id=actor.id,
        note=note.strip(),
        at=now,
    )
    session.add(decision)
    session.flush()
    append_event(
        session,
        action=f"case.{to_state}",
        object_type="case",
        object_id=case_id,
        actor=actor,
        now=now,
        request_id=request_id,
        detail={
            "from": from_state,
            "to": to_state,
            "note": decision.note,
            "decision_id": decision.id,
        },
    )
    return decision


def dismiss_many(
    session: Session,
    case_ids: Sequence[int],
    *,
    actor: User,
    now: datetime,
    note: str,
    request_id: str | None = None,
) -> list[CaseDecision]:
    """Dismiss several cases with one reason: all of them, or (on any refusal) none."""
    if not case_ids:
        raise IllegalTransition("no case was selected")
    return [
        transition(
            session,
            case_id,
            "dismissed",
            actor=actor,
            now=now,
            note=note,
            request_id=request_id,
        )
        for case_id in dict.fromkeys(case_ids)
    ]


def assign(
    session: Session,
    case_id: int,
    *,
    assignee: User | None,
    actor: User,
    now: datetime,
    request_id: str | None = None,
) -> Case:
    """Give a case to ``assignee`` (oneself, a colleague, or nobody: None), audited; flush.

    Anyone of ASSIGNING_ROLES may assign to any active user of those roles.
    """
    case = session.get(Case, case_id)
    if case is None:
        raise UnknownCase(f"there is no case {case_id}")
    if not actor.active or actor.role not in ASSIGNING_ROLES:
        raise NotPermitted(f"{actor.username} ({actor.role}) may not assign cases")
    if assignee is not None and (not assignee.active or assignee.role not in ASSIGNING_ROLES):
        raise Unassignable(
            f"{assignee.username} can't be given cases: only active analysts and legal reviewers"
        )
    if case.state not in ASSIGNABLE_STATES:
        raise IllegalTransition(f"case {case_id} is {case.state}; it needs no assignee")
    before = case.assignee.username if case.assignee else None
    case.assignee_id = assignee.id if assignee else None
    case.updated_at = now
    session.flush()
    session.expire(case, ["assignee"])
    append_event(
        session,
        action="case.assigned",
        object_type="case",
        object_id=case_id,
        actor=actor,
        now=now,
        request_id=request_id,
        detail={"from": before, "to": assignee.username if assignee else None},
    )
    return case


# ---------------------------------------------------------------- opening a case by hand

# A case the scorer did not open needs a sentence saying why, not a report.
MAX_OPEN_REASON_CHARS = 500
OPENING_ROLES = frozenset({"analyst"})


class CaseExists(WorkflowError):
    """The listing has a case already; it never gets a second one."""


class UnknownListing(WorkflowError):
    """There is no such listing (or it has no version to review)."""

    status = 404


def open_case_by_hand(
    session: Session,
    listing_id: int,
    *,
    actor: User,
    now: datetime,
    reason: str,
    request_id: str | None = None,
) -> Case:
    """Open a ``new`` case for a listing that has none, with the analyst's reason; flush.

    The audit row ``case.opened_by_hand`` keeps the reason and the version the case was
    opened on; the case then follows the workflow like any other.
    """
    listing = get_listing(session, listing_id)
    if listing is None or not listing.versions:
        raise UnknownListing(f"there is no listing {listing_id}")
    if not actor.active or actor.role not in OPENING_ROLES:
        raise NotPermitted(
            f"{actor.username} ({actor.role}) may not open cases: that needs the analyst role"
        )
    reason = reason.strip()
    if not reason:
        raise NoteRequired(f"opening a case for listing {listing_id} needs a reason")
    if len(reason) > MAX_OPEN_REASON_CHARS:
        raise NoteRequired(
            f"the reason is {len(reason)} characters; at most {MAX_OPEN_REASON_CHARS}"
        )
    if listing.case is not None:
        raise CaseExists(f"listing {listing_id} already has case {listing.case.id}")
    version = listing.versions[-1]
    case = Case(listing=listing, state="new", score=version.score, created_at=now, updated_at=now)
    session.add(case)
    try:
        session.flush()
    except IntegrityError as error:  # another request opened one since we looked
        raise CaseExists(f"listing {listing_id} got a case meanwhile") from error
    append_event(
        session,
        action="case.opened_by_hand",
        object_type="case",
        object_id=case.id,
        actor=actor,
        now=now,
        request_id=request_id,
        detail={
            "listing_id": listing.id,
            "version_id": version.id,
            "score": version.score,
            "reason": reason,
        },
    )
    return case
