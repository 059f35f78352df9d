"""What a user's queue tells them about cases they handed on: derived from decisions, not stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from storage.listings import latest_version_id
from storage.models import Case, CaseDecision, Listing, ListingVersion, User


@dataclass(frozen=True, slots=True)
class RejectedEscalation:
    """A case a user escalated that legal rejected, with who rejected it, when and why."""

    case_id: int
    title: str
    rejected_by: str
    rejected_at: datetime
    reason: str


def rejected_escalations(session: Session, user_id: int) -> list[RejectedEscalation]:
    """Return the cases still ``rejected`` whose latest escalation was this user's, newest first.

    A case drops out as soon as it leaves ``rejected`` (reworked), or when someone else
    escalated it since.
    """
    escalations = (
        select(CaseDecision.case_id, func.max(CaseDecision.id).label("decision_id"))
        .where(CaseDecision.to_state == "escalated")
        .group_by(CaseDecision.case_id)
        .subquery()
    )
    rejections = (
        select(CaseDecision.case_id, func.max(CaseDecision.id).label("decision_id"))
        .where(CaseDecision.to_state == "rejected")
        .group_by(CaseDecision.case_id)
        .subquery()
    )
    escalation = aliased(CaseDecision)
    rejection = aliased(CaseDecision)
    query = (
        select(Case.id, ListingVersion.title, User.username, rejection.at, rejection.note)
        .join(escalations, escalations.c.case_id == Case.id)
        .join(escalation, escalation.id == escalations.c.decision_id)
        .join(rejections, rejections.c.case_id == Case.id)
        .join(rejection, rejection.id == rejections.c.decision_id)
        .join(User, User.id == rejection.actor_id)
        .join(Listing, Listing.id == Case.listing_id)
        .join(ListingVersion, ListingVersion.id == latest_version_id())
        .where(Case.state == "rejected", escalation.actor_id == user_id)
        .order_by(rejection.id.desc())
    )
    return [
        RejectedEscalation(case_id, title, username, at, note)
        for case_id, title, username, at, note in session.execute(query)
    ]
