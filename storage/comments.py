"""The comment thread of a case: what colleagues tell each other beside the decisions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from storage.models import CaseComment


def add_comment(
    session: Session, *, case_id: int, author_id: int, body: str, now: datetime
) -> CaseComment:
    """Add a comment to a case's thread; the caller checks who may and what; flush."""
    comment = CaseComment(case_id=case_id, author_id=author_id, body=body, at=now)
    session.add(comment)
    session.flush()
    return comment


def case_comments(session: Session, case_id: int) -> list[CaseComment]:
    """Return the comments on a case with their authors, oldest first."""
    query = (
        select(CaseComment)
        .where(CaseComment.case_id == case_id)
        .options(joinedload(CaseComment.author))
        .order_by(CaseComment.at, CaseComment.id)
    )
    return list(session.scalars(query))
