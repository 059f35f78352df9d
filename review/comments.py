"""The rule for commenting on a case: who may, what a comment may be, and its audit row.

Analysts and legal reviewers comment on any case they can open, in any state (a closed case
still collects what people learn about it). The audit row ``case.commented`` names the comment
and carries its length and SHA-256, so the hash-chained log vouches for the text without
copying it. Functions flush, never commit.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy.orm import Session

from review.workflow import NotPermitted, UnknownCase, WorkflowError
from storage.audit import append_event
from storage.cases import get_case
from storage.comments import add_comment
from storage.models import CaseComment, User

# A comment is a message to a colleague, not a report: the note's limit of the workflow.
MAX_COMMENT_CHARS = 4000
COMMENTING_ROLES = frozenset({"analyst", "legal"})


class BadComment(WorkflowError):
    """A comment that is empty or too long."""

    status = 400


def clean_comment(body: str) -> str:
    """Return a comment as stored: line breaks as ``\\n``, no blank edges; raise if unusable."""
    text = body.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        raise BadComment("a comment needs some text")
    if len(text) > MAX_COMMENT_CHARS:
        raise BadComment(f"the comment is {len(text)} characters; at most {MAX_COMMENT_CHARS}")
    return text


def comment_on_case(
    session: Session,
    case_id: int,
    body: str,
    *,
    actor: User,
    now: datetime,
    request_id: str | None = None,
) -> CaseComment:
    """Add ``actor``'s comment to a case's thread and audit it as ``case.commented``; flush."""
    if get_case(session, case_id) is None:
        raise UnknownCase(f"there is no case {case_id}")
    if not actor.active or actor.role not in COMMENTING_ROLES:
        raise NotPermitted(
            f"{actor.username} ({actor.role}) may not comment on cases: "
            "that needs the analyst or legal role"
        )
    text = clean_comment(body)
    comment = add_comment(session, case_id=case_id, author_id=actor.id, body=text, now=now)
    append_event(
        session,
        action="case.commented",
        object_type="case",
        object_id=case_id,
        actor=actor,
        now=now,
        request_id=request_id,
        detail={
            "comment_id": comment.id,
            "length": len(text),
            "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
        },
    )
    return comment
