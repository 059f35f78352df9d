"""Register a source definition in the database, bound to its scope fingerprint."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from crawlers.sources import SourceConfig, scope_fingerprint
from storage.sources import upsert_source


def register_source(session: Session, source: SourceConfig, *, now: datetime) -> str:
    """Add or update a source's row (config and scope fingerprint); return the fingerprint.

    Registering never approves: an approval stays bound to the fingerprint it was given for,
    so a widened scope reads as `rescoped` until a legal user approves it again.
    """
    fingerprint = scope_fingerprint(source)
    upsert_source(
        session,
        source_id=source.id,
        name=source.name,
        config=source.to_config(),
        scope_fingerprint=fingerprint,
        now=now,
    )
    return fingerprint
