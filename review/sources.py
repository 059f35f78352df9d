"""The legal gate of sources: proposing, approving and suspending, each with its audit row.

The review app and ``synthwatch sources`` both go through here. Only an active user with the
legal role approves a source's scope, with a legal basis, and only the scope they were shown:
the approval names the fingerprint it was given, and is refused when the source's stored
fingerprint is another one by then. An active legal or admin user suspends a source, with a
reason. Registering a source's definition is the crawler's
(``crawlers.registry``); ``record_proposal`` audits it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from review.auth import authenticate
from review.errors import ApprovalError, NotFoundError
from storage.audit import append_event
from storage.models import Source, SourceApproval, User
from storage.sources import add_approval, approval_state, get_source, mark_suspended

# The parts of a source's definition its approval is bound to (its scope fingerprint).
SCOPE_KEYS = ("allowed_domains", "seeds", "sitemaps", "search_templates")
APPROVERS = ("legal",)
SUSPENDERS = ("legal", "admin")
APPROVAL_PURPOSE = "source approval"
# How the scope's parts read, in the order a reviewer reads them.
SCOPE_LABELS = {
    "allowed_domains": "Allowed domains",
    "seeds": "Start URLs",
    "sitemaps": "Sitemaps",
    "search_templates": "Site-search URLs",
}
# What the crawl does inside the scope, from the ``discovery`` part of a source's definition.
DISCOVERY_LABELS = {
    "listing_url_pattern": "Listing URL pattern",
    "listing_links": "Listing link selectors",
    "index_links": "Index link selectors",
    "pagination": "Pagination selectors",
    "query_params": "Query parameters kept",
}
# The bounds of one crawl (``[source.limits]``) and the politeness overrides, as sentences.
LIMIT_WORDS = {
    "max_pages": "at most {} pages",
    "max_depth": "at most {} links from a start page",
    "max_pattern_pages": "at most {} index pages of one URL pattern",
    "max_query_variants": "at most {} query variants of one path",
}
POLITENESS_WORDS = {
    "download_delay": "{} s between requests",
    "concurrent_requests_per_domain": "{} requests at a time per domain",
    "timeout": "{} s timeout per request",
}
DEFAULTS = "the defaults"


@dataclass(frozen=True, slots=True)
class ScopeRow:
    """One line of what a legal reviewer reads before approving a source."""

    key: str
    label: str
    values: list[str]
    # Part of the scope fingerprint: changing it needs a new approval.
    fingerprinted: bool


def registered_source(session: Session, source_id: str) -> Source:
    """Return a registered source or raise naming it."""
    source = get_source(session, source_id)
    if source is None:
        raise NotFoundError(f"no source {source_id!r}")
    return source


def source_scope(config: dict[str, Any]) -> dict[str, list[str]]:
    """Return the scope part of a source's stored definition, every key present."""
    return {key: [str(value) for value in config.get(key) or []] for key in SCOPE_KEYS}


def approval_rows(config: dict[str, Any]) -> list[ScopeRow]:
    """Return what a reviewer reads before approving a source, row by row.

    First the scope its approval is bound to (the parts of its fingerprint), then what a crawl
    does inside it: how it finds listing pages, what it searches for, its bounds, politeness
    and schedule. The sources page and ``synthwatch sources approve`` show the same rows.
    """
    scope = source_scope(config)
    rows = [ScopeRow(key, label, scope[key], True) for key, label in SCOPE_LABELS.items()]
    discovery = _table(config, "discovery")
    for key, label in DISCOVERY_LABELS.items():
        rows.append(ScopeRow(key, label, _strings(discovery.get(key)), False))
    search = _table(config, "search")
    keywords = _strings(search.get("keywords"))
    if search.get("use_lexicon"):
        most = search.get("max_keywords")
        keywords.append(f"names from the lexicon{f', {most} at most' if most else ''}")
    rows.append(ScopeRow("search_keywords", "Search keywords", keywords, False))
    rows.append(ScopeRow("limits", "Limits", _words(_table(config, "limits"), LIMIT_WORDS), False))
    politeness = _words(_table(config, "politeness"), POLITENESS_WORDS)
    rows.append(ScopeRow("politeness", "Politeness", politeness, False))
    rows.append(ScopeRow("schedule", "Schedule", _strings(config.get("schedule")), False))
    return rows


def _table(config: dict[str, Any], key: str) -> dict[str, Any]:
    value = config.get(key)
    return value if isinstance(value, dict) else {}


def _strings(value: object) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, list | tuple):
        return [str(item) for item in value]
    return [str(value)]


def _words(table: dict[str, Any], words: dict[str, str]) -> list[str]:
    said = [words[key].format(table[key]) for key in words if table.get(key) is not None]
    return said or [DEFAULTS]


def confirm_approver(
    session: Session,
    *,
    username: str,
    password: str,
    now: datetime,
    request_id: str | None = None,
) -> User | None:
    """Return the approver once their password confirms them, or None; the caller commits.

    Approving a source asks for the approver's password after showing them its scope, in the
    app as on the command line. A wrong password counts towards the login lockout and is
    audited, so the caller commits either way.
    """
    return authenticate(
        session,
        username=username,
        password=password,
        now=now,
        request_id=request_id,
        purpose=APPROVAL_PURPOSE,
    )


def short_fingerprint(fingerprint: str) -> str:
    """Return the first 12 hex digits of a fingerprint, enough for a person to compare."""
    return fingerprint[:12] or "(none)"


def record_proposal(session: Session, source_id: str, *, now: datetime) -> str:
    """Audit that a registered source was proposed for approval; return its approval state."""
    source = registered_source(session, source_id)
    append_event(
        session,
        action="source.proposed",
        object_type="source",
        object_id=source.id,
        now=now,
        detail={
            "scope_fingerprint": source.scope_fingerprint,
            "scope": source_scope(source.config),
        },
    )
    return approval_state(session, source.id, source.scope_fingerprint)


def approve_source(
    session: Session,
    *,
    source_id: str,
    approver: User,
    legal_basis: str,
    fingerprint: str,
    now: datetime,
    request_id: str | None = None,
) -> SourceApproval:
    """Approve the scope ``approver`` was shown, named by its ``fingerprint``; the caller commits.

    Raises ApprovalError, writing nothing, when the source's scope is no longer that one:
    someone registered another scope between showing it and approving it. The approval row
    records the fingerprint checked here, so a scope registered concurrently, after this check,
    leaves the source ``rescoped`` rather than approved.
    """
    source = check_approval(
        session,
        source_id=source_id,
        approver=approver,
        legal_basis=legal_basis,
        fingerprint=fingerprint,
    )
    approval = add_approval(
        session, source, approver=approver, legal_basis=legal_basis.strip(), now=now
    )
    append_event(
        session,
        action="source.approved",
        object_type="source",
        object_id=source_id,
        actor=approver,
        now=now,
        detail={"scope_fingerprint": source.scope_fingerprint, "legal_basis": legal_basis},
        request_id=request_id,
    )
    return approval


def check_approval(
    session: Session, *, source_id: str, approver: User, legal_basis: str, fingerprint: str
) -> Source:
    """Return the source if this approval is allowed, else raise ApprovalError; write nothing.

    Callers that ask for the password (``confirm_approver``) check this first, so a reviewer
    learns of a missing basis or a changed scope before typing it.
    """
    source = registered_source(session, source_id)
    if approver.role not in APPROVERS or not approver.active:
        raise ApprovalError(f"{approver.username} is not an active user with the legal role")
    if not legal_basis.strip():
        raise ApprovalError(f"approving {source_id!r} needs a legal basis")
    if fingerprint != source.scope_fingerprint:
        raise ApprovalError(
            f"the scope of {source_id!r} changed since it was shown (fingerprint "
            f"{short_fingerprint(source.scope_fingerprint)}, not "
            f"{short_fingerprint(fingerprint)}): review the new scope and approve again"
        )
    return source


def suspend_source(
    session: Session,
    *,
    source_id: str,
    actor: User,
    reason: str,
    now: datetime,
    request_id: str | None = None,
) -> Source:
    """Stop a source from being crawled until a legal user approves it again; the caller commits."""
    source = registered_source(session, source_id)
    if actor.role not in SUSPENDERS or not actor.active:
        raise ApprovalError(f"{actor.username} is not an active user with the legal or admin role")
    if not reason.strip():
        raise ApprovalError(f"suspending {source_id!r} needs a reason")
    mark_suspended(session, source, now=now)
    append_event(
        session,
        action="source.suspended",
        object_type="source",
        object_id=source_id,
        actor=actor,
        now=now,
        detail={"reason": reason.strip()},
        request_id=request_id,
    )
    return source
