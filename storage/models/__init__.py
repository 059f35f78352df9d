"""The SynthWatch schema: typed SQLAlchemy 2 models, by subject (import them from here).

Flow of the data: a ``Source`` is approved (``SourceApproval``) and crawled (``CrawlRun``);
every fetch of a listing page is a ``Capture`` (its WARC record and hash); a ``Listing`` keeps its
identity across crawls and gets a ``ListingVersion`` whenever its text changes, with the
``Mention``s and ``Indicator``s found in it; a flagged listing has a ``Case`` that analysts
review; every change worth proving later writes an ``AuditEvent``.
"""

from __future__ import annotations

from storage.models.api_keys import ApiKey
from storage.models.base import (
    AUDIT_HASH_FORMAT,
    CASE_STATES,
    DIGEST_STATUSES,
    NAMING_CONVENTION,
    ROLES,
    Base,
    UTCDateTime,
)
from storage.models.clusters import (
    Cluster,
    ClusterBand,
    ClusterMember,
    ClusterSignature,
    ClusterSplit,
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
from storage.models.sellers import (
    IDENTIFIER_STATUSES,
    Seller,
    SellerChange,
    SellerIdentifier,
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
from storage.models.watch import (
    ALERT_DELIVERY_STATUSES,
    EMAIL_CHANNEL,
    AlertDelivery,
    WatchAlert,
    WatchRule,
)

__all__ = [
    "ALERT_DELIVERY_STATUSES",
    "AUDIT_HASH_FORMAT",
    "CASE_STATES",
    "DIGEST_STATUSES",
    "EMAIL_CHANNEL",
    "IDENTIFIER_STATUSES",
    "NAMING_CONVENTION",
    "ROLES",
    "AlertDelivery",
    "ApiKey",
    "AuditEvent",
    "Base",
    "Capture",
    "Case",
    "CaseComment",
    "CaseDecision",
    "Cluster",
    "ClusterBand",
    "ClusterMember",
    "ClusterSignature",
    "ClusterSplit",
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
    "Seller",
    "SellerChange",
    "SellerIdentifier",
    "Source",
    "SourceApproval",
    "UTCDateTime",
    "User",
    "WatchAlert",
    "WatchRule",
]
