"""Exports of cases: CSV and JSON for people, a STIX 2.1 bundle for MISP/OpenCTI-style platforms.

Each export is built from loaded ``Case`` rows (see ``storage.queries.cases_with_details``);
writing the audit row of an export is the caller's part.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import unicodedata
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from nlp import key_kind
from storage.models import Case, ListingVersion

# STIX 2.1 section 2.9: SCO ids are UUIDv5 of their id-contributing properties in this namespace.
STIX_SCO_NAMESPACE = uuid.UUID("00abedb4-aa42-466c-9c01-fed23315a9b7")
# Our own namespace for the ids of SDOs, so a re-export updates the same objects.
SYNTHWATCH_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://synthwatch.invalid/stix")
TLP_AMBER = {
    "type": "marking-definition",
    "spec_version": "2.1",
    "id": "marking-definition--f88d31f6-486f-44da-b317-01333bde0b82",
    "created": "2017-01-20T00:00:00.000Z",
    "definition_type": "tlp",
    "name": "TLP:AMBER",
    "definition": {"tlp": "amber"},
}
CSV_COLUMNS = (
    "case_id", "state", "score", "title", "url", "source_id", "source_name", "substances",
    "classes", "indicators", "assignee", "created_at", "updated_at", "first_seen", "last_seen",
    "payload_sha256",
)  # fmt: skip
# Spreadsheet programs run a cell that starts with one of these as a formula, also after
# leading blanks (which they skip) and in a compatibility form such as the full-width equals
# sign U+FF1D (folded to "=" by NFKC, as spreadsheets fold it); U+2212 is the minus sign.
_FORMULA_CHARS = frozenset("=+-@\u2212")
# A cell starting with a tab or a line break is quoted whatever follows.
_BREAK_STARTS = ("\t", "\r", "\n")
# What a spreadsheet may skip before the first character it reads: spaces and separators
# (Z*: NBSP, ideographic space), controls (Cc) and invisible formatting (Cf: zero-width space,
# BOM).
_SKIPPED_CATEGORIES = ("Zs", "Zl", "Zp", "Cc", "Cf")


def case_record(case: Case) -> dict[str, Any]:
    """Return one case as JSON-ready data: its listing's latest version, evidence, decisions."""
    listing = case.listing
    latest: ListingVersion = listing.versions[-1]
    return {
        "case_id": case.id,
        "state": case.state,
        "score": case.score,
        "assignee": case.assignee.username if case.assignee else None,
        "created_at": case.created_at.isoformat(),
        "updated_at": case.updated_at.isoformat(),
        "listing": {
            "id": listing.id,
            "url": listing.url,
            "source_id": listing.source_id,
            "source_name": listing.source.name,
            "first_seen": listing.first_seen.isoformat(),
            "last_seen": listing.last_seen.isoformat(),
            "gone_at": listing.gone_at.isoformat() if listing.gone_at else None,
            "versions": len(listing.versions),
        },
        "title": latest.title,
        "text": latest.text,
        "fields": latest.fields,
        "reasons": latest.reasons,
        "substances": _substances(latest),
        "indicators": [
            {"kind": i.kind, "value": i.value, "text": i.text, "start": i.start, "end": i.end}
            for i in latest.indicators
        ],
        "evidence": {
            "capture_id": latest.capture.id,
            "url": latest.capture.url,
            "fetched_at": latest.capture.fetched_at.isoformat(),
            "payload_sha256": latest.capture.payload_sha256,
        },
        "decisions": [
            {
                "from": d.from_state,
                "to": d.to_state,
                "by": d.actor.username,
                "at": d.at.isoformat(),
                "note": d.note,
            }
            for d in case.decisions
        ],
    }


def _substances(version: ListingVersion) -> list[dict[str, str]]:
    seen: dict[str, dict[str, str]] = {}
    for mention in version.mentions:
        seen.setdefault(
            mention.concept_id,
            {
                "concept_id": mention.concept_id,
                "name": mention.name,
                "class": mention.substance_class,
                "control": mention.control,
            },
        )
    return list(seen.values())


def cases_json(cases: Sequence[Case], *, now: datetime, filters: dict[str, str]) -> str:
    """Return the cases as one JSON document, with when and how they were selected."""
    document = {
        "exported_at": now.isoformat(),
        "filters": filters,
        "count": len(cases),
        "cases": [case_record(case) for case in cases],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def cases_csv(cases: Sequence[Case]) -> str:
    """Return the cases as CSV, one row each; no cell can start a spreadsheet formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for case in cases:
        record = case_record(case)
        listing = record["listing"]
        row: list[Any] = [
            case.id,
            case.state,
            f"{case.score:.3f}",
            record["title"],
            listing["url"],
            listing["source_id"],
            listing["source_name"],
            "; ".join(s["name"] for s in record["substances"]),
            "; ".join(sorted({s["class"] for s in record["substances"]})),
            "; ".join(sorted({i["kind"] for i in record["indicators"]})),
            record["assignee"] or "",
            record["created_at"],
            record["updated_at"],
            listing["first_seen"],
            listing["last_seen"],
            record["evidence"]["payload_sha256"],
        ]
        writer.writerow([spreadsheet_safe(cell) for cell in row])
    return out.getvalue()


def spreadsheet_safe(cell: Any) -> Any:
    """Return a text cell with a leading apostrophe when a spreadsheet would run it."""
    if isinstance(cell, str) and (cell.startswith(_BREAK_STARTS) or _starts_formula(cell)):
        return "'" + cell
    return cell


def _starts_formula(text: str) -> bool:
    for char in text:
        if unicodedata.category(char) in _SKIPPED_CATEGORIES:
            continue
        return unicodedata.normalize("NFKC", char)[:1] in _FORMULA_CHARS
    return False


# ---------------------------------------------------------------- STIX 2.1


def stix_timestamp(moment: datetime) -> str:
    """Return a STIX timestamp: UTC with milliseconds and a ``Z``."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _sdo_id(kind: str, *parts: object) -> str:
    # STIX wants UUIDv4 for SDOs; one derived from a hash is as good and the same every export,
    # so a platform that imports a case twice updates one object.
    seed = hashlib.sha256(f"{SYNTHWATCH_NAMESPACE}/{kind}/{'/'.join(map(str, parts))}".encode())
    return f"{kind}--{uuid.UUID(bytes=seed.digest()[:16], version=4)}"


def _sco_id(kind: str, contributing: dict[str, str]) -> str:
    canonical = json.dumps(contributing, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return f"{kind}--{uuid.uuid5(STIX_SCO_NAMESPACE, canonical)}"


def pattern_string(value: str) -> str:
    """Return a value as a quoted STIX pattern string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def identifier_observable(key: str) -> dict[str, Any] | None:
    """Return the STIX observable of a stored identifier key: an e-mail address or an account.

    A handle becomes a user-account whose ``user_id`` is the whole key ("session:05..."):
    ``account_type`` is a closed vocabulary under strict validation that lacks most channels.
    Phones and wallets have no STIX 2.1 observable type and are left out.
    """
    kind, identifier = key_kind(key), key.partition(":")[2]
    if kind == "email":
        email_id = _sco_id("email-addr", {"value": identifier})
        return {"type": "email-addr", "spec_version": "2.1", "id": email_id, "value": identifier}
    if kind == "handle":
        account_id = _sco_id("user-account", {"account_login": identifier, "user_id": key})
        return {
            "type": "user-account",
            "spec_version": "2.1",
            "id": account_id,
            "user_id": key,
            "account_login": identifier,
        }
    return None


def stix_bundle(cases: Sequence[Case], *, now: datetime) -> dict[str, Any]:
    """Return a STIX 2.1 bundle: per case an indicator on the listing's URL, the observed data
    behind it (URL, e-mail addresses, contact accounts), and one report holding them (TLP:AMBER)."""
    stamp = stix_timestamp(now)
    identity_id = _sdo_id("identity", "synthwatch")
    common: dict[str, Any] = {"spec_version": "2.1", "object_marking_refs": [TLP_AMBER["id"]]}
    identity = {
        "type": "identity",
        "id": identity_id,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": "SynthWatch",
        "identity_class": "system",
        **common,
    }
    objects: list[dict[str, Any]] = [TLP_AMBER, identity]
    observables: dict[str, dict[str, Any]] = {}
    report_refs: list[str] = []
    for case in cases:
        record = case_record(case)
        listing = case.listing
        created, modified = stix_timestamp(case.created_at), stix_timestamp(case.updated_at)
        url_id = _sco_id("url", {"value": listing.url})
        observables.setdefault(
            url_id, {"type": "url", "spec_version": "2.1", "id": url_id, "value": listing.url}
        )
        refs = [url_id]
        for indicator in listing.versions[-1].indicators:
            observable = identifier_observable(indicator.key) if indicator.key else None
            if observable is not None:
                observables.setdefault(observable["id"], observable)
                refs.append(observable["id"])
        classes = sorted({s["class"] for s in record["substances"]})
        names = ", ".join(s["name"] for s in record["substances"]) or "no named substance"
        observed: dict[str, Any] = {
            "type": "observed-data",
            "id": _sdo_id("observed-data", "case", case.id),
            "created_by_ref": identity_id,
            "created": created,
            "modified": modified,
            "first_observed": stix_timestamp(listing.first_seen),
            "last_observed": stix_timestamp(max(listing.last_seen, listing.first_seen)),
            "number_observed": max(1, len(listing.versions)),
            "object_refs": list(dict.fromkeys(refs)),
            **common,
        }
        indicator_sdo: dict[str, Any] = {
            "type": "indicator",
            "id": _sdo_id("indicator", "case", case.id),
            "created_by_ref": identity_id,
            "created": created,
            "modified": modified,
            "name": (record["title"] or f"listing {listing.id}")[:250],
            "description": (
                f"SynthWatch case {case.id} ({case.state}, score {case.score:.2f}): a listing "
                f"on {listing.source.name} offering {names}."
            ),
            "indicator_types": ["malicious-activity"],
            "pattern": f"[url:value = {pattern_string(listing.url)}]",
            "pattern_type": "stix",
            "valid_from": created,
            "labels": [f"synthwatch-class-{c}".replace(" ", "-").lower() for c in classes],
            **common,
        }
        if not indicator_sdo["labels"]:
            del indicator_sdo["labels"]
        relationship: dict[str, Any] = {
            "type": "relationship",
            "id": _sdo_id("relationship", "case", case.id, "based-on"),
            "created_by_ref": identity_id,
            "created": created,
            "modified": modified,
            "relationship_type": "based-on",
            "source_ref": indicator_sdo["id"],
            "target_ref": observed["id"],
            **common,
        }
        objects += [observed, indicator_sdo, relationship]
        report_refs += [indicator_sdo["id"], observed["id"], relationship["id"]]
    objects[2:2] = list(observables.values())
    report = {
        "type": "report",
        "id": f"report--{uuid.uuid4()}",
        "created_by_ref": identity_id,
        "created": stamp,
        "modified": stamp,
        "name": f"SynthWatch cases, exported {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        "report_types": ["indicator", "observed-data"],
        "published": stamp,
        "object_refs": report_refs or [identity_id],
        **common,
    }
    objects.append(report)
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}
