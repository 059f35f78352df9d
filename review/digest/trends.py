"""The digest's substance table: the substances on offer in a week, against the weeks before.

A listing counts for a substance when it is on offer (``storage.substances.on_offer``: flagged as
an offer, or under a case an analyst has not dismissed) and a version of it new or changed in the
week names the substance. News, harm-reduction and medical pages are not counted, so a week of
articles about fentanyl test strips is no fentanyl trend. One table lists every substance on
offer in the week, saying which are first seen (never on offer before) and which are up against
the mean of the weeks before; the chart shows the ones that are up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from review.digest.chart import Trend
from storage.substances import first_seen_substances, substance_counts

# This week against the mean of this many weeks before, and at least this many listings on
# offer this week (one listing more than usual is noise, not a trend).
WEEKS_BEFORE = 4
MIN_TRENDING_OFFERS = 2
TOP_TRENDS = 8


@dataclass(frozen=True, slots=True)
class SubstanceRow:
    """One substance on offer in the week: how many listings, against the weeks before."""

    concept_id: str
    name: str
    substance_class: str
    offers: int
    mentions: int
    before_mean: float
    first_seen: bool

    @property
    def trending(self) -> bool:
        """Say whether more listings offered it than usual, and enough of them to matter."""
        return self.offers >= MIN_TRENDING_OFFERS and self.offers > self.before_mean

    @property
    def change(self) -> float:
        """Return this week's listings on offer minus the mean of the weeks before."""
        return self.offers - self.before_mean

    @property
    def note(self) -> str:
        """Return what is remarkable about it: "first seen", "up", both or nothing."""
        return ", ".join(
            word for word, true in (("first seen", self.first_seen), ("up", self.trending)) if true
        )

    def trend(self) -> Trend:
        """Return it as the chart draws it."""
        return Trend(
            self.concept_id, self.name, self.substance_class, self.offers, self.before_mean
        )


def substance_rows(session: Session, *, start: datetime, end: datetime) -> tuple[SubstanceRow, ...]:
    """Return the substances on offer in ``[start, end)``: the ones up first (most up first),
    then the ones first seen, then the others, most offered first."""
    first = {c.concept_id for c in first_seen_substances(session, start=start, end=end)}
    totals: dict[str, int] = {}
    for n in range(1, WEEKS_BEFORE + 1):
        week_start = start - timedelta(days=7 * n)
        for count in substance_counts(
            session, start=week_start, end=week_start + timedelta(days=7)
        ):
            totals[count.concept_id] = totals.get(count.concept_id, 0) + count.offers
    rows = [
        SubstanceRow(
            concept_id=c.concept_id,
            name=c.name,
            substance_class=c.substance_class,
            offers=c.offers,
            mentions=c.mentions,
            before_mean=totals.get(c.concept_id, 0) / WEEKS_BEFORE,
            first_seen=c.concept_id in first,
        )
        for c in substance_counts(session, start=start, end=end)
    ]
    rows.sort(
        key=lambda r: (
            not r.trending,
            -r.change if r.trending else 0.0,
            not r.first_seen,
            -r.offers,
            r.name,
        )
    )
    return tuple(rows)


def trends_of(rows: tuple[SubstanceRow, ...]) -> tuple[Trend, ...]:
    """Return the substances that are up, most up first, as many as the chart shows."""
    return tuple(r.trend() for r in rows if r.trending)[:TOP_TRENDS]
