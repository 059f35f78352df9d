"""The SynthWatch schema: typed SQLAlchemy 2 models, by subject (import them from here).

Flow of the data: a ``Source`` is approved (``SourceApproval``) and crawled (``CrawlRun``);
every fetch of a listing page is a ``Capture`` (its WARC record and hash); a ``Listing`` keeps its
identity across crawls and gets a ``ListingVersion`` whenever its text changes, with the
``Mention``s and ``Indicator``s found in it; a flagged listing has a ``Case`` that analysts
review; every change worth proving later writes an ``AuditEvent``.
"""

from __future__ import annotations

from storage.models.base import (
    AUDIT_HASH_FORMAT,
    CASE_STATES,
    DIGEST_STATUSES,
    NAMING_CONVENTION,
    ROLES,
    Base,
    UTCDateTime,
)
from storage.models.listings import (
    Indicator,
    LexiconCandidate,
    Listing,
    ListingVersion,
    Mention,
)
from storage.models.review import (
    AuditEvent,
    Case,
    CaseComment,
    CaseDecision,
    DigestMessage,
    SavedFilter,
)
from storage.models.sources import (
    Capture,
    CrawlRun,
    Lease,
    ScheduleLedger,
    Source,
    SourceApproval,
    User,
)

__all__ = [
    "AUDIT_HASH_FORMAT",
    "CASE_STATES",
    "DIGEST_STATUSES",
    "NAMING_CONVENTION",
    "ROLES",
    "AuditEvent",
    "Base",
    "Capture",
    "Case",
    "CaseComment",
    "CaseDecision",
    "CrawlRun",
    "DigestMessage",
    "Indicator",
    "Lease",
    "LexiconCandidate",
    "Listing",
    "ListingVersion",
    "Mention",
    "SavedFilter",
    "ScheduleLedger",
    "Source",
    "SourceApproval",
    "UTCDateTime",
    "User",
]
