"""Summaries of what crawls did, computed from the rows they left behind."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, false, or_, select
from sqlalchemy.orm import Session

from storage.models import CrawlRun, Listing

# The stats keys of refusals, `synthwatch/refused/<reason>` (written by crawlers/stats.py).
REFUSED_PREFIX = "synthwatch/refused/"


@dataclass(frozen=True, slots=True)
class CrawlSummary:
    """What a set of crawl runs fetched, stored, flagged and refused."""

    pages_fetched: int
    listings_stored: int
    flagged: int
    refused: dict[str, int]
    substances: dict[str, int]
    runs: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-ready data."""
        return {
            "pages_fetched": self.pages_fetched,
            "listings_stored": self.listings_stored,
            "flagged": self.flagged,
            "refused": self.refused,
            "substances": self.substances,
            "runs": self.runs,
        }


def crawl_summary(session: Session, run_ids: list[int]) -> CrawlSummary:
    """Summarise crawl runs from their stats and the listings they saw, new or unchanged."""
    runs = list(session.scalars(select(CrawlRun).where(CrawlRun.id.in_(run_ids))))
    pages, refused = 0, Counter[str]()
    for run in runs:
        stats = run.stats or {}
        pages += int(stats.get("synthwatch/pages_fetched", 0))
        for key, value in stats.items():
            if key.startswith(REFUSED_PREFIX) and value:
                refused[key.removeprefix(REFUSED_PREFIX)] += int(value)
    # Seen by a run: stored from a fetched page, or confirmed unchanged by a 304 (last_seen).
    seen = [
        and_(
            Listing.source_id == run.source_id,
            Listing.last_seen >= run.started_at,
            Listing.last_seen <= (run.finished_at or datetime.now(UTC)),
        )
        for run in runs
    ]
    listings = list(session.scalars(select(Listing).where(or_(false(), *seen)))) if runs else []
    flagged = [listing for listing in listings if listing.versions[-1].offer]
    substances = Counter(
        concept
        for listing in flagged
        for concept in {mention.concept_id for mention in listing.versions[-1].mentions}
    )
    return CrawlSummary(
        pages_fetched=pages,
        listings_stored=len(listings),
        flagged=len(flagged),
        refused=dict(sorted(refused.items())),
        substances=dict(substances.most_common()),
        runs=[
            {
                "id": run.id,
                "source": run.source_id,
                "status": run.status,
                "error": run.error,
            }
            for run in runs
        ],
    )
