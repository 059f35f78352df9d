from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.models import LexiconCandidate
from storage.substances import MAX_EXAMPLES, CandidateRecord, record_candidates


def candidates(session: Session) -> dict[str, LexiconCandidate]:
    return {row.term: row for row in session.scalars(select(LexiconCandidate))}


def test_a_term_is_counted_once_per_version_under_one_spelling(
    session: Session, now: datetime
) -> None:
    seen = [
        CandidateRecord("ZX-42 Pinacone", "buy ZX-42 Pinacone"),
        CandidateRecord("zx-42  pinacone", "again"),
    ]
    record_candidates(session, seen, version_id=1, now=now)
    later = now + timedelta(days=1)
    record_candidates(session, seen[:1], version_id=2, now=later)
    row = candidates(session)["zx-42 pinacone"]
    assert row.count == 2 and row.first_seen == now and row.last_seen == later
    assert [example["version_id"] for example in row.examples] == [1, 2]


def test_examples_are_bounded(session: Session, now: datetime) -> None:
    for version in range(MAX_EXAMPLES + 3):
        record_candidates(
            session, [CandidateRecord("QK-7", f"ctx {version}")], version_id=version, now=now
        )
    row = candidates(session)["qk-7"]
    assert row.count == MAX_EXAMPLES + 3 and len(row.examples) == MAX_EXAMPLES
