"""Listings with real evidence: pages written to a WARC file by the crawler's own writer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from crawlers.evidence import WarcEvidenceWriter
from crawlers.items import PageItem
from storage.crawls import finish_crawl_run, start_crawl_run
from storage.db import transaction
from storage.listings import AnalysisRecord, store_listing
from storage.models import User
from tests.factories import add_capture
from tests.review.review_testkit import NOW, mention

PAGE = b"""<!doctype html><html><head><title>Carfentanil 99%</title>
<script>document.cookie</script><style>body{color:red}</style>
<link rel="stylesheet" href="https://seller.example/x.css"></head>
<body onload="alert(1)"><h1>Carfentanil HCl, 99%</h1>
<p>Wickr: chemking. <a href="javascript:alert(2)">pay here</a>
<img src="https://seller.example/pixel.gif" alt="pixel"></p>
<form action="https://seller.example/buy"><input name="q"><button>Buy</button></form>
<iframe src="https://seller.example/frame"></iframe></body></html>"""


@dataclass(frozen=True)
class EvidenceCase:
    case_id: int
    listing_id: int
    capture_ids: list[int]
    warc_file: str


def add_evidence_case(
    factory: sessionmaker[Session],
    home: Path,
    *,
    source_id: str = "demo-market",
    url: str = "http://127.0.0.1:8421/item/evidence",
    pages: list[tuple[str, bytes]] | None = None,
    now: datetime = NOW,
    fields: dict[str, Any] | None = None,
    score: float = 8.0,
    title: str = "Evidence listing",
) -> EvidenceCase:
    """Crawl-like: write each (text, html) page of one listing as WARC evidence and store it."""
    pages = pages or [("Carfentanil HCl 99%. Wickr: chemking", PAGE)]
    capture_ids = []
    with transaction(factory) as session:
        run = start_crawl_run(session, source_id=source_id, now=now)
        relpath = f"evidence/{source_id}/{run.id}.warc.gz"
        writer = WarcEvidenceWriter(home, relpath, fsync=False, software="tests")
        stored = None
        for number, (text, html) in enumerate(pages):
            item = PageItem(
                source_id=source_id,
                url=url,
                status=200,
                headers=[("Content-Type", "text/html; charset=utf-8")],
                body=html,
                request_headers=[("User-Agent", "SynthWatch tests")],
                fetched_at=now,
            )
            ref = writer.write(item)
            capture = add_capture(
                session, run.id, url, now, evidence=ref, content_type="text/html; charset=utf-8"
            )
            capture_ids.append(capture.id)
            surface = "Carfentanil" if "Carfentanil" in text else text.split()[0]
            stored = store_listing(
                session,
                source_id=source_id,
                url=url,
                capture=capture,
                title=f"{title} v{number + 1}",
                text=text,
                fields=fields or {"seller": "chemking"},
                analysis=AnalysisRecord(
                    score=score,
                    offer=True,
                    mentions=[mention(text, surface, "carfentanil", "Carfentanil", "fentanyl")],
                ),
                now=now,
            )
        writer.close()
        finish_crawl_run(session, run, now=now, status="finished", stats={})
        assert stored is not None and stored.case is not None
        return EvidenceCase(stored.case.id, stored.listing.id, capture_ids, relpath)


def user_id(factory: sessionmaker[Session], username: str) -> int:
    """Return the id of a user by name."""
    from sqlalchemy import select

    with factory() as session:
        found = session.scalar(select(User.id).where(User.username == username))
        assert found is not None
        return found
