"""The item a listing page becomes, filled in by the spider and then the pipelines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from storage.repository import AnalysisRecord

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
    fields: dict[str, str] = field(default_factory=dict)
    extraction: str = ""
    evidence: EvidenceRef | None = None
    analysis: AnalysisRecord | None = None

    @property
    def content_type(self) -> str:
        """Return the response's Content-Type, or an empty string."""
        for name, value in self.headers:
            if name.lower() == "content-type":
                return value
        return ""
