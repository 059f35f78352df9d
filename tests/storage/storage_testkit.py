"""Listings stored with hand-made indicators, and a way back to an older schema."""

from __future__ import annotations

from datetime import datetime

from alembic import command
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage.crawls import record_capture, start_crawl_run
from storage.listings import AnalysisRecord, IndicatorRecord, store_listing
from storage.migrate import alembic_config
from storage.sources import upsert_source


def store(session: Session, now: datetime, url: str, *indicators: IndicatorRecord) -> int:
    """Store a listing of the invented shop with these indicators; return its id."""
    text = " ".join(i.text for i in indicators)
    analysis = AnalysisRecord(score=0.9, offer=True, indicators=list(indicators))
    return store_analysis(session, now, url, text, analysis)


def store_analysis(
    session: Session, now: datetime, url: str, text: str, analysis: AnalysisRecord
) -> int:
    """Store a listing of the invented shop with this text and analysis; return its id."""
    upsert_source(
        session,
        source_id="shop",
        name="Invented shop",
        config={"seeds": ["https://shop.example/"]},
        scope_fingerprint="scope-1",
        now=now,
    )
    run = start_crawl_run(session, source_id="shop", now=now)
    capture = record_capture(
        session,
        crawl_run_id=run.id,
        url=url,
        http_status=200,
        content_type="text/html",
        fetched_at=now,
        warc_file="evidence/shop/1.warc.gz",
        warc_offset=0,
        warc_length=100,
        payload_sha256="0" * 64,
    )
    stored = store_listing(
        session,
        source_id="shop",
        url=url,
        capture=capture,
        title=url.rsplit("/", 1)[-1],
        text=text,
        fields={},
        analysis=analysis,
        now=now,
    )
    return stored.listing.id


def downgrade(engine: Engine, revision: str) -> None:
    """Take the database back to an older revision, keeping its rows."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
