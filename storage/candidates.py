"""Lexicon candidates: unknown chemical-looking names seen beside sale indicators, tallied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import LexiconCandidate

# Enough contexts for a curator to judge a term; the count keeps growing.
MAX_EXAMPLES = 5
MAX_TERM_LENGTH = 200


@dataclass(frozen=True, slots=True)
class CandidateRecord:
    """A candidate term as written and the text around it."""

    term: str
    context: str


def candidate_key(term: str) -> str:
    """Return the form a term is tallied under: lower case, single spaces."""
    return " ".join(term.lower().split())[:MAX_TERM_LENGTH]


def record_candidates(
    session: Session, candidates: list[CandidateRecord], *, version_id: int, now: datetime
) -> None:
    """Count each candidate once per listing version and keep a few example contexts."""
    seen: dict[str, CandidateRecord] = {}
    for candidate in candidates:
        key = candidate_key(candidate.term)
        if key:
            seen.setdefault(key, candidate)
    if not seen:
        return
    existing = {
        row.term: row
        for row in session.scalars(
            select(LexiconCandidate).where(LexiconCandidate.term.in_(list(seen)))
        )
    }
    for key, candidate in seen.items():
        row = existing.get(key)
        if row is None:
            row = LexiconCandidate(term=key, count=0, first_seen=now, last_seen=now, examples=[])
            session.add(row)
        row.count += 1
        row.last_seen = now
        if len(row.examples) < MAX_EXAMPLES:
            example = {"version_id": version_id, "context": candidate.context}
            row.examples = [*row.examples, example]
    session.flush()
