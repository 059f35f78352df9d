"""Read-only queries of the weekly digest: they add, change and flush nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from storage.models import (
    Case,
    CaseDecision,
    DigestMessage,
    Indicator,
    LexiconCandidate,
    ListingVersion,
    Mention,
    ScheduleLedger,
    Source,
    User,
)
from storage.queries import CaseSummary, SubstanceCount, case_summaries

# Ledger statuses that mean a scheduled period did not do its work.
LEDGER_PROBLEMS = ("failed", "skipped")


@dataclass(frozen=True, slots=True)
class IndicatorTag:
    """An indicator kind found in a listing, with the first value it was found with."""

    kind: str
    value: str


@dataclass(frozen=True, slots=True)
class CandidateRow:
    """A lexicon candidate as the digest lists it."""

    term: str
    count: int
    first_seen: datetime
    status: str


@dataclass(frozen=True, slots=True)
class EscalatedCase:
    """A case waiting for a legal decision, with who escalated it and when."""

    summary: CaseSummary
    escalated_at: datetime | None
    escalated_by_id: int | None
    escalated_by: str


@dataclass(frozen=True, slots=True)
class LedgerProblem:
    """A scheduled period that failed or was skipped."""

    job_id: str
    period_start: datetime
    status: str
    detail: str


@dataclass(frozen=True, slots=True)
class Undelivered:
    """A digest the mail server refused for good (or that was given up on)."""

    outbox_id: int
    week: str
    username: str
    smtp_reply: str
    attempts: int


def decision_counts(session: Session, *, start: datetime, end: datetime) -> dict[str, int]:
    """Count the case decisions of ``[start, end)`` by the state they moved cases to."""
    query = (
        select(CaseDecision.to_state, func.count(CaseDecision.id))
        .where(CaseDecision.at >= start, CaseDecision.at < end)
        .group_by(CaseDecision.to_state)
    )
    return {state: count for state, count in session.execute(query)}


def first_seen_substances(
    session: Session, *, start: datetime, end: datetime
) -> list[SubstanceCount]:
    """Return the substances first mentioned ever in a listing version of ``[start, end)``."""
    first = (
        select(Mention.concept_id, func.min(ListingVersion.created_at).label("first"))
        .join(ListingVersion, Mention.version_id == ListingVersion.id)
        .group_by(Mention.concept_id)
        .subquery()
    )
    query = (
        select(
            Mention.concept_id,
            func.min(Mention.name),
            func.min(Mention.substance_class),
            func.count(distinct(ListingVersion.listing_id)),
            func.count(Mention.id),
        )
        .join(ListingVersion, Mention.version_id == ListingVersion.id)
        .join(first, first.c.concept_id == Mention.concept_id)
        .where(first.c.first >= start, first.c.first < end)
        .where(ListingVersion.created_at >= start, ListingVersion.created_at < end)
        .group_by(Mention.concept_id)
    )
    counts = [SubstanceCount(*row) for row in session.execute(query)]
    return sorted(counts, key=lambda c: (-c.listings, -c.mentions, c.name))


def new_lexicon_candidates(
    session: Session, *, start: datetime, end: datetime, limit: int = 20
) -> tuple[list[CandidateRow], int]:
    """Return the lexicon candidates first seen in ``[start, end)``, most frequent first, and
    how many there are in all."""
    where = (LexiconCandidate.first_seen >= start, LexiconCandidate.first_seen < end)
    total = session.scalar(select(func.count(LexiconCandidate.id)).where(*where)) or 0
    query = (
        select(LexiconCandidate)
        .where(*where)
        .order_by(LexiconCandidate.count.desc(), LexiconCandidate.term)
        .limit(limit)
    )
    rows = [CandidateRow(c.term, c.count, c.first_seen, c.status) for c in session.scalars(query)]
    return rows, total


def case_indicators(
    session: Session, case_ids: Sequence[int]
) -> dict[int, tuple[IndicatorTag, ...]]:
    """Return the distinct indicator kinds of each case's latest listing version."""
    if not case_ids:
        return {}
    latest = (
        select(func.max(ListingVersion.id))
        .where(ListingVersion.listing_id == Case.listing_id)
        .correlate(Case)
        .scalar_subquery()
    )
    query = (
        select(Case.id, Indicator.kind, Indicator.value)
        .join(Indicator, Indicator.version_id == latest)
        .where(Case.id.in_(case_ids))
        .order_by(Case.id, Indicator.start, Indicator.id)
    )
    found: dict[int, dict[str, IndicatorTag]] = {}
    for case_id, kind, value in session.execute(query):
        found.setdefault(case_id, {}).setdefault(kind, IndicatorTag(kind, value or ""))
    return {case_id: tuple(tags.values()) for case_id, tags in found.items()}


def escalated_cases(session: Session, *, limit: int = 50) -> list[EscalatedCase]:
    """Return the cases waiting for a legal decision, highest score first, with their escalation."""
    summaries = case_summaries(session, state="escalated", limit=limit)
    ids = [s.case_id for s in summaries]
    last: dict[int, tuple[datetime, int, str]] = {}
    if ids:
        query = (
            select(CaseDecision.case_id, CaseDecision.at, User.id, User.username)
            .join(User, CaseDecision.actor_id == User.id)
            .where(CaseDecision.case_id.in_(ids), CaseDecision.to_state == "escalated")
            .order_by(CaseDecision.id)
        )
        for case_id, at, user_id, username in session.execute(query):
            last[case_id] = (at, user_id, username)
    result = []
    for summary in summaries:
        found = last.get(summary.case_id)
        if found is None:
            result.append(EscalatedCase(summary, None, None, ""))
        else:
            result.append(EscalatedCase(summary, *found))
    return result


def digest_recipients(session: Session) -> list[User]:
    """Return the active users subscribed to the digest who have an e-mail address."""
    query = (
        select(User)
        .where(User.active.is_(True), User.digest_subscribed.is_(True))
        .where(User.email.is_not(None), User.email != "")
        .order_by(User.id)
    )
    return list(session.scalars(query))


def sources_not_suspended(session: Session) -> list[Source]:
    """Return the registered sources that are not suspended, by id."""
    query = select(Source).where(Source.suspended_at.is_(None)).order_by(Source.id)
    return list(session.scalars(query))


def ledger_problems(
    session: Session, *, start: datetime, end: datetime, exclude_job: str | None = None
) -> list[LedgerProblem]:
    """Return the scheduled periods of ``[start, end)`` that failed or were skipped."""
    query = select(ScheduleLedger).where(
        ScheduleLedger.period_start >= start,
        ScheduleLedger.period_start < end,
        ScheduleLedger.status.in_(LEDGER_PROBLEMS),
    )
    if exclude_job is not None:
        query = query.where(ScheduleLedger.job_id != exclude_job)
    rows = session.scalars(query.order_by(ScheduleLedger.job_id, ScheduleLedger.period_start))
    return [LedgerProblem(r.job_id, r.period_start, r.status, r.detail or "") for r in rows]


def undelivered_digests(session: Session, *, weeks: Sequence[str]) -> list[Undelivered]:
    """Return the failed digests of some weeks, oldest week first."""
    if not weeks:
        return []
    query = (
        select(DigestMessage, User.username)
        .join(User, DigestMessage.recipient_id == User.id)
        .where(DigestMessage.status == "failed", DigestMessage.week.in_(weeks))
        .order_by(DigestMessage.week, User.username)
    )
    return [
        Undelivered(row.id, row.week, username, row.smtp_reply or "", row.attempts)
        for row, username in session.execute(query)
    ]


def outbox_rows(
    session: Session, *, week: str | None = None, status: str | None = None, limit: int = 100
) -> list[tuple[DigestMessage, str]]:
    """Return outbox rows with their recipient's username, newest week first."""
    query = select(DigestMessage, User.username).join(User, DigestMessage.recipient_id == User.id)
    if week is not None:
        query = query.where(DigestMessage.week == week)
    if status is not None:
        query = query.where(DigestMessage.status == status)
    query = query.order_by(DigestMessage.week.desc(), DigestMessage.id).limit(limit)
    return [(row, username) for row, username in session.execute(query)]
