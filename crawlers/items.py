"""The items of a crawl: a fetched listing page (`PageItem`), or an unchanged one (a 304)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from nlp import PageSignals
from storage.listings import AnalysisRecord

Headers = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class EvidenceRef:
    """Where a page's WARC response record is, relative to SYNTHWATCH_HOME, and its hash."""

    warc_file: str
    offset: int
    length: int
    payload_sha256: str


@dataclass(slots=True)
class PageItem:
    """A fetched listing page: the exchange as captured, and the text read from it.

    `signals` is what the page's structure says about a sale (`crawlers.page_signals`);
    `evidence` is set by the evidence pipeline and `analysis` by the extract pipeline.
    """

    source_id: str
    url: str
    status: int
    headers: Headers
    body: bytes
    request_headers: Headers
    fetched_at: datetime
    method: str = "GET"
    protocol: str = "HTTP/1.1"
    title: str = ""
    text: str = ""
    fields: dict[str, Any] = field(default_factory=dict)
    signals: PageSignals = field(default_factory=PageSignals)
    evidence: EvidenceRef | None = None
    analysis: AnalysisRecord | None = None

    @property
    def content_type(self) -> str:
        """Return the response's Content-Type, or an empty string."""
        return self.header("Content-Type") or ""

    def header(self, name: str) -> str | None:
        """Return the first value of a response header, or None."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


@dataclass(frozen=True, slots=True)
class UnchangedListing:
    """A listing that answered a conditional GET with 304: seen now, nothing to keep again."""

    source_id: str
    url: str
    seen_at: datetime
