"""Builders the test packages share: a source, a stored listing with its capture, source TOML."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from crawlers.items import EvidenceRef
from crawlers.sources import Discovery, SourceConfig
from storage.crawls import record_capture, start_crawl_run
from storage.listings import AnalysisRecord, IndicatorRecord, StoredListing, store_listing
from storage.models import Capture, Source
from storage.sources import upsert_source

# Where a capture's evidence would be: no file is written, so nothing verifies it.
NO_EVIDENCE = EvidenceRef("evidence/shop/1.warc.gz", 0, 100, "0" * 64)
NOT_AN_OFFER = AnalysisRecord(score=0.0, offer=False)


def add_source(session: Session, now: datetime, fingerprint: str = "scope-1") -> Source:
    """Register the invented shop (unapproved), as `sources propose` would."""
    return upsert_source(
        session,
        source_id="shop",
        name="Invented shop",
        config={"seeds": ["https://shop.example/"]},
        scope_fingerprint=fingerprint,
        now=now,
    )


def add_capture(
    session: Session,
    run_id: int,
    url: str,
    fetched_at: datetime,
    *,
    evidence: EvidenceRef = NO_EVIDENCE,
    content_type: str = "text/html",
) -> Capture:
    """Record a 200 capture of `url` in a crawl run, its evidence at `evidence`."""
    return record_capture(
        session,
        crawl_run_id=run_id,
        url=url,
        http_status=200,
        content_type=content_type,
        fetched_at=fetched_at,
        warc_file=evidence.warc_file,
        warc_offset=evidence.offset,
        warc_length=evidence.length,
        payload_sha256=evidence.payload_sha256,
    )


def add_listing(
    session: Session,
    url: str,
    now: datetime,
    *,
    source_id: str = "shop",
    run_id: int | None = None,
    text: str = "",
    title: str = "",
    analysis: AnalysisRecord = NOT_AN_OFFER,
    fields: dict[str, Any] | None = None,
    evidence: EvidenceRef = NO_EVIDENCE,
    etag: str | None = None,
    last_modified: str | None = None,
) -> StoredListing:
    """Store a listing page as a crawl would: capture first, then the listing (in a new run)."""
    if run_id is None:
        run_id = start_crawl_run(session, source_id=source_id, now=now).id
    capture = add_capture(session, run_id, url, now, evidence=evidence)
    return store_listing(
        session,
        source_id=source_id,
        url=url,
        capture=capture,
        title=title,
        text=text,
        fields=fields or {},
        analysis=analysis,
        now=now,
        etag=etag,
        last_modified=last_modified,
    )


def add_offer(session: Session, now: datetime, url: str, *indicators: IndicatorRecord) -> int:
    """Store an offer of the invented shop whose text is these indicators'; return its id."""
    add_source(session, now)
    analysis = AnalysisRecord(score=0.9, offer=True, indicators=list(indicators))
    text = " ".join(i.text for i in indicators)
    title = url.rsplit("/", 1)[-1]
    return add_listing(session, url, now, text=text, title=title, analysis=analysis).listing.id


def source_toml(
    source_id: str,
    base: str,
    *,
    name: str | None = None,
    seeds: str = '["{base}/"]',
    sitemaps: str = "[]",
    listing_links: str = '["a.listing"]',
    index_links: str | None = '["nav a"]',
    pagination: str | None = '["a[rel=next]"]',
    pattern: str | None = "^/item/",
    schedule: str = "interval:1d",
    fields: str = "",
) -> str:
    """Return one `[[source]]` block of the site at `base`; a key given as None is left out."""
    host = base.split("://", 1)[-1].split("/", 1)[0].rsplit(":", 1)[0]
    text = f"""
[[source]]
id = "{source_id}"
name = "{name or f"Test source {source_id}"}"
seeds = {seeds}
allowed_domains = ["{host}"]
sitemaps = {sitemaps}
schedule = "{schedule}"
legal_note = "A local test server."
[source.discovery]
"""
    discovery = {
        "index_links": index_links,
        "listing_links": listing_links,
        "pagination": pagination,
        "listing_url_pattern": f'"{pattern}"' if pattern is not None else None,
    }
    text += "".join(f"{key} = {value}\n" for key, value in discovery.items() if value is not None)
    if fields:
        text += f"[source.fields]\n{fields}\n"
    return text.replace("{base}", base)


def invented_source(
    source_id: str = "shop", *, name: str | None = None, schedule: str = "interval:1d"
) -> SourceConfig:
    """Return the configuration of the invented site https://<id>.example (as a file gives it)."""
    return SourceConfig(
        id=source_id,
        name=name or source_id,
        seeds=(f"https://{source_id}.example/",),
        allowed_domains=(f"{source_id}.example",),
        schedule=schedule,
        legal_note="test",
        discovery=Discovery(listing_links=("a.item",)),
    )


def invented_source_toml(
    source_id: str = "shop",
    *,
    name: str | None = None,
    seeds: str = '["{base}/"]',
    schedule: str = "interval:1d",
) -> str:
    """Return a `[[source]]` block of the invented site https://<id>.example (no server there)."""
    return source_toml(
        source_id,
        f"https://{source_id}.example",
        name=name,
        seeds=seeds,
        listing_links='["a.item"]',
        index_links=None,
        pagination=None,
        pattern=None,
        schedule=schedule,
    )
