"""The weekly digest: what a week brought, built as data and rendered apart from any sending.

Which week: ``week="2026-W48"`` names one ISO week (Monday 00:00 UTC to the next Monday). Without
it the digest covers the ISO week that contains ``now``, up to ``now`` ("week to date"), which is
what a preview or the demo wants. Sending (``review.digest.outbox``) always names a week that
has ended.

One ``Digest`` is built per week, as data only; ``review.digest.render`` (which imports this
module, never the other way round) renders it for each reader: legal reviewers also see the
cases waiting for their decision. Everything scraped (titles, source names, candidate terms,
crawl errors) reaches the HTML part through Jinja2's autoescaping only, and the subject is
built from counts only.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from review.digest.chart import Trend, trend_chart
from review.digest.sources import JobProblem, MissedSchedule, SourceActivity, source_report
from review.digest.trends import WEEKS_BEFORE, SubstanceRow, substance_rows, trends_of
from review.errors import ReviewError, WeekError
from review.settings import DEFAULT_BASE_URL
from storage.cases import (
    CaseSummary,
    DecisionTag,
    EscalatedCase,
    IndicatorTag,
    backlog,
    case_decisions,
    case_indicators,
    count_new_cases,
    decision_counts,
    escalated_cases,
    new_case_summaries,
)
from storage.crawls import crawl_runs_between
from storage.outbox import Undelivered, undelivered_digests
from storage.routes import CarrierWeeks, RouteWeeks, weekly_carrier_counts, weekly_route_counts
from storage.substances import CandidateRow, SubstanceTag, new_lexicon_candidates

TOP_CASES = 10
KEY_INDICATORS = 4
MAX_INDICATOR_VALUE_CHARS = 40
MAX_CANDIDATES = 20
# Routes and carriers a digest lists: the week's most shown; the trends page has them all.
TOP_ROUTES = 10
TOP_CARRIERS = 5
MAX_WAITING = 50
# Undelivered digests of this many weeks before are reported in a digest.
UNDELIVERED_WEEKS = 4
DECISION_KINDS = ("confirmed", "dismissed", "escalated", "approved", "rejected", "referred")
# Indicators an analyst reads first; other kinds follow in the order found.
INDICATOR_PRIORITY = ("price", "quantity", "purity", "shipping", "contact", "disclaimer")
# The schedule ledger's job id of the digest's weeks (a claim per week, see review.digest.outbox);
# apart from the scheduler's own ids (``crawl:<source>``) and from whatever it names its digest job.
DIGEST_JOB_ID = "digest:weeks"
_WEEK = re.compile(r"(\d{4})-W(\d{2})")
# What a case's state says to a digest reader, after what changed this week.
STATE_NOTES = {
    "new": "not reviewed yet",
    "confirmed": "confirmed, not escalated yet",
    "escalated": "waiting for a legal decision",
    "approved": "approved for referral, not referred yet",
    "rejected": "referral rejected",
    "referred": "already referred",
    "dismissed": "dismissed",
}


@dataclass(frozen=True, slots=True)
class DigestCase:
    """A case as the digest lists it, with the link that opens it in the review app."""

    case_id: int
    title: str
    score: float
    substances: tuple[SubstanceTag, ...]
    classes: tuple[str, ...]
    indicators: tuple[IndicatorTag, ...]
    source_name: str
    link: str
    state: str = "new"
    # What happened to it, e.g. "new listing; confirmed and escalated by ana this week".
    change: str = ""


@dataclass(frozen=True, slots=True)
class WaitingCase:
    """An escalated case waiting for a legal decision."""

    case: DigestCase
    escalated_at: datetime | None
    escalated_by_id: int | None
    escalated_by: str


@dataclass(frozen=True, slots=True)
class Reader:
    """Who a digest is rendered for."""

    user_id: int
    username: str
    role: str


@dataclass(frozen=True, slots=True)
class Digest:
    """Everything the digest of one ISO week says, ready to render."""

    week: str
    start: datetime
    end: datetime
    generated_at: datetime
    base_url: str
    new_cases: int
    decisions: tuple[tuple[str, int], ...]
    top_cases: tuple[DigestCase, ...]
    substances: tuple[SubstanceRow, ...]
    trends: tuple[Trend, ...]
    chart_png: bytes
    candidates: tuple[CandidateRow, ...]
    candidates_total: int
    sources: tuple[SourceActivity, ...]
    missed_schedules: tuple[MissedSchedule, ...]
    ledger_problems: tuple[JobProblem, ...]
    backlog: int
    oldest_backlog_age: timedelta | None
    waiting: tuple[WaitingCase, ...]
    undelivered: tuple[Undelivered, ...]
    # The week's routes and carriers of listings on offer (storage.routes), the most first.
    routes: tuple[RouteWeeks, ...] = ()
    routes_total: int = 0
    carriers: tuple[CarrierWeeks, ...] = ()

    @property
    def week_to_date(self) -> bool:
        """Say whether the week was still running when the digest was built."""
        return self.start <= self.generated_at < self.end

    @property
    def last_day(self) -> datetime:
        """Return the start of the week's last day (its Sunday)."""
        return self.end - timedelta(days=1)

    @property
    def first_seen(self) -> tuple[SubstanceRow, ...]:
        """Return the substances on offer this week and never before."""
        return tuple(s for s in self.substances if s.first_seen)

    @property
    def weeks_before(self) -> int:
        """Return how many weeks before the trends are measured against."""
        return WEEKS_BEFORE

    @property
    def queue_link(self) -> str:
        """Return the link to the review queue."""
        return f"{self.base_url}/"

    @property
    def decisions_total(self) -> int:
        """Count the week's decisions of every kind."""
        return sum(count for _kind, count in self.decisions)

    @property
    def source_problems(self) -> int:
        """Count the sources and scheduled jobs with something to look at."""
        return (
            sum(s.has_problems for s in self.sources)
            + len(self.missed_schedules)
            + len(self.ledger_problems)
        )

    @property
    def chart_data_uri(self) -> str:
        """Return the chart as a ``data:`` URI, or "" without a chart."""
        if not self.chart_png:
            return ""
        return "data:image/png;base64," + base64.b64encode(self.chart_png).decode("ascii")

    def waiting_for(self, reader: Reader | None) -> tuple[WaitingCase, ...]:
        """Return the escalated cases ``reader`` may decide; all of them for a preview (None).

        Only legal reviewers decide, and never on a case they escalated themselves.
        """
        if reader is None:
            return self.waiting
        if reader.role != "legal":
            return ()
        return tuple(w for w in self.waiting if w.escalated_by_id != reader.user_id)


# ---------------------------------------------------------------- weeks


def iso_week(moment: datetime) -> str:
    """Return the ISO week of a moment in UTC, such as ``2026-W48``."""
    year, week, _day = moment.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


def previous_week(moment: datetime) -> str:
    """Return the ISO week before the one of ``moment``."""
    return iso_week(moment - timedelta(days=7))


def week_bounds(week: str) -> tuple[datetime, datetime]:
    """Return the first moment of an ISO week and of the week after it, in UTC."""
    match = _WEEK.fullmatch(week)
    if match is None:
        raise WeekError(f"week {week!r} is not an ISO week such as 2026-W48")
    try:
        monday = datetime.fromisocalendar(int(match[1]), int(match[2]), 1)
    except ValueError as error:
        raise WeekError(f"week {week!r} does not exist: {error}") from error
    start = monday.replace(tzinfo=UTC)
    return start, start + timedelta(days=7)


def weeks_before(week: str, count: int) -> list[str]:
    """Return the ``count`` ISO weeks before ``week``, nearest first."""
    start, _end = week_bounds(week)
    return [iso_week(start - timedelta(days=7 * n)) for n in range(1, count + 1)]


# ---------------------------------------------------------------- building


def build_digest(
    session: Session,
    *,
    week: str | None,
    now: datetime,
    base_url: str = DEFAULT_BASE_URL,
) -> Digest:
    """Gather the digest of ``week`` (default: the week of ``now``) from the database."""
    if now.tzinfo is None:
        raise ReviewError(f"now={now!r} is naive: pass a timezone-aware UTC time")
    week = week or iso_week(now)
    start, end = week_bounds(week)
    base_url = base_url.rstrip("/")
    top = new_case_summaries(session, start=start, end=end, limit=TOP_CASES)
    waiting = escalated_cases(session, limit=MAX_WAITING)
    indicators = case_indicators(
        session, [c.case_id for c in top] + [w.summary.case_id for w in waiting]
    )
    decisions = case_decisions(session, [c.case_id for c in top])
    pending = backlog(session, state="new")
    substances = substance_rows(session, start=start, end=end)
    trends = trends_of(substances)
    sources = source_report(
        session,
        crawl_runs_between(session, start=start, end=end),
        start=start,
        end=end,
        now=now,
        exclude_job=DIGEST_JOB_ID,
    )
    decided = decision_counts(session, start=start, end=end)
    candidates, candidates_total = new_lexicon_candidates(
        session, start=start, end=end, limit=MAX_CANDIDATES
    )
    routes = weekly_route_counts(session, bounds=[start, end])
    return Digest(
        week=week,
        start=start,
        end=end,
        generated_at=now,
        base_url=base_url,
        new_cases=count_new_cases(session, start=start, end=end),
        decisions=tuple((kind, decided.get(kind, 0)) for kind in DECISION_KINDS),
        top_cases=tuple(
            _digest_case(
                c,
                indicators,
                base_url,
                change=what_changed(c, decisions.get(c.case_id, ()), start=start, end=end),
            )
            for c in top
        ),
        substances=substances,
        trends=trends,
        chart_png=trend_chart(trends, weeks_before=WEEKS_BEFORE),
        candidates=tuple(candidates),
        candidates_total=candidates_total,
        sources=sources.activity,
        missed_schedules=sources.missed,
        ledger_problems=sources.ledger,
        backlog=pending.count,
        oldest_backlog_age=(
            now - pending.oldest_created_at if pending.oldest_created_at is not None else None
        ),
        waiting=tuple(_waiting_case(w, indicators, base_url) for w in waiting),
        undelivered=tuple(
            undelivered_digests(session, weeks=weeks_before(week, UNDELIVERED_WEEKS))
        ),
        routes=tuple(routes[:TOP_ROUTES]),
        routes_total=len(routes),
        carriers=tuple(weekly_carrier_counts(session, bounds=[start, end])[:TOP_CARRIERS]),
    )


def what_changed(
    summary: CaseSummary, decisions: tuple[DecisionTag, ...], *, start: datetime, end: datetime
) -> str:
    """Say what happened to a case opened in ``[start, end)``: whether its listing is new, the
    decisions of the week and since, and where that leaves it.

    For example "new listing; confirmed and escalated by ana this week; waiting for a legal
    decision", or "listed since 02 Nov 2026; already referred".
    """
    if summary.first_seen >= start:
        parts = ["new listing"]
    else:
        parts = [f"listed since {summary.first_seen.strftime('%d %b %Y')}"]
    this_week = [d for d in decisions if start <= d.at < end]
    since = [d for d in decisions if d.at >= end]
    if this_week:
        parts.append(f"{_decided(this_week)} this week")
    if since:
        parts.append(f"{_decided(since)} since")
    parts.append(STATE_NOTES.get(summary.state, summary.state))
    return "; ".join(parts)


def _decided(decisions: list[DecisionTag]) -> str:
    """Return decisions as "confirmed and escalated by ana, approved by lee"."""
    groups: list[tuple[str, list[str]]] = []
    for decision in decisions:
        if groups and groups[-1][0] == decision.actor:
            groups[-1][1].append(decision.to_state)
        else:
            groups.append((decision.actor, [decision.to_state]))
    return ", ".join(f"{_joined(states)} by {actor}" for actor, states in groups)


def case_link(base_url: str, case_id: int) -> str:
    """Return the review app's link to a case, as the digest and alerts give it."""
    return f"{base_url}/cases/{case_id}"


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _digest_case(
    summary: CaseSummary,
    indicators: dict[int, tuple[IndicatorTag, ...]],
    base_url: str,
    *,
    change: str = "",
) -> DigestCase:
    return DigestCase(
        case_id=summary.case_id,
        title=summary.title,
        score=summary.score,
        substances=summary.substances,
        classes=tuple(dict.fromkeys(t.substance_class for t in summary.substances)),
        indicators=_key_indicators(indicators.get(summary.case_id, ())),
        source_name=summary.source_name,
        link=case_link(base_url, summary.case_id),
        state=summary.state,
        change=change,
    )


def _waiting_case(
    escalated: EscalatedCase, indicators: dict[int, tuple[IndicatorTag, ...]], base_url: str
) -> WaitingCase:
    return WaitingCase(
        case=_digest_case(escalated.summary, indicators, base_url),
        escalated_at=escalated.escalated_at,
        escalated_by_id=escalated.escalated_by_id,
        escalated_by=escalated.escalated_by,
    )


def _key_indicators(tags: tuple[IndicatorTag, ...]) -> tuple[IndicatorTag, ...]:
    rank = {kind: n for n, kind in enumerate(INDICATOR_PRIORITY)}
    ordered = sorted(enumerate(tags), key=lambda t: (rank.get(t[1].kind, len(rank)), t[0]))
    return tuple(
        IndicatorTag(tag.kind, _shorten(tag.value, MAX_INDICATOR_VALUE_CHARS))
        for _n, tag in ordered[:KEY_INDICATORS]
    )


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
