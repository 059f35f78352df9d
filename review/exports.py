"""Exports of cases for people: CSV and JSON (``review.stix`` makes the STIX 2.1 bundle).

Each export is built from loaded ``Case`` rows (see ``storage.cases.cases_with_details``);
writing the audit row of an export is the caller's part. Both carry the seller's identifiers
as extraction keyed them (handles per channel, phones, e-mail addresses, wallets), the prices
read in the text, the substances by their labels and the routes extraction read (ship-from and
ship-to places as ISO 3166 codes, "EU" or "WORLD", and the carrier or method). Titles are shown
without invisible characters (``review.invisible``); the JSON keeps the title as written in
``title_raw``.
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from nlp import key_kind
from review.invisible import visible_text
from review.labels import class_label
from storage.models import Case, ListingVersion
from storage.routes import ROUTE_KIND

CSV_COLUMNS = (
    "case_id", "state", "score", "title", "url", "source_id", "source_name", "substances",
    "classes", "indicators", "seller", "handles", "phones", "emails", "wallets", "prices",
    "listed_price", "ships_from", "ships_to", "carriers", "assignee", "created_at", "updated_at",
    "first_seen", "last_seen", "payload_sha256",
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
# How a kind of identifier key is listed: its group and the name of the part after the prefix.
_IDENTIFIER_GROUPS = {
    "handle": ("handles", "handle"),
    "phone": ("phones", "number"),
    "email": ("emails", "address"),
    "wallet": ("wallets", "address"),
}


def seller_identifiers(version: ListingVersion) -> dict[str, list[dict[str, str]]]:
    """Return the identifiers a version's indicators name, by kind, once each, as first seen.

    Handles keep their channel (``{"channel": "wickr", "handle": "chemking", "key": ...}``),
    wallets their currency; every entry has the ``key`` that ties listings together.
    """
    groups: dict[str, list[dict[str, str]]] = {
        group: [] for group, _ in _IDENTIFIER_GROUPS.values()
    }
    seen: set[str] = set()
    for indicator in version.indicators:
        key = indicator.key
        if not key or key in seen:
            continue
        seen.add(key)
        prefix, _, identifier = key.partition(":")
        group, part = _IDENTIFIER_GROUPS[key_kind(key)]
        entry = {part: identifier, "key": key}
        if group == "handles":
            entry = {"channel": prefix, **entry}
        elif group == "wallets":
            entry = {"currency": prefix, **entry}
        groups[group].append(entry)
    return groups


def prices(version: ListingVersion) -> list[dict[str, str]]:
    """Return the prices extraction read in a version, once each: normalised value and text."""
    found: dict[str, dict[str, str]] = {}
    for indicator in version.indicators:
        if indicator.kind == "price" and indicator.value:
            found.setdefault(indicator.value, {"value": indicator.value, "text": indicator.text})
    return list(found.values())


def routes(version: ListingVersion) -> dict[str, list[str]]:
    """Return the routes extraction read in a version, once each, as first seen: ``from`` and
    ``to`` places (ISO 3166-1 alpha-2 codes, "EU", "WORLD") and ``by`` carriers or methods."""
    found: dict[str, list[str]] = {"from": [], "to": [], "by": []}
    for indicator in version.indicators:
        if indicator.kind != ROUTE_KIND:
            continue
        side, _, value = indicator.value.partition(":")
        if side in found and value and value not in found[side]:
            found[side].append(value)
    return found


def case_record(case: Case) -> dict[str, Any]:
    """Return one case as JSON-ready data: its listing's latest version, evidence, decisions."""
    listing = case.listing
    latest: ListingVersion = listing.versions[-1]
    seller = latest.fields.get("seller")
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
        "title": visible_text(latest.title),
        "title_raw": latest.title,
        "text": latest.text,
        "fields": latest.fields,
        "seller": {
            "name": seller if isinstance(seller, str) else None,
            **seller_identifiers(latest),
        },
        "prices": prices(latest),
        "routes": routes(latest),
        "reasons": latest.reasons,
        "substances": version_substances(latest),
        "indicators": [
            {
                "kind": i.kind,
                "value": i.value,
                "text": i.text,
                "start": i.start,
                "end": i.end,
                "key": i.key,
            }
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


def version_substances(version: ListingVersion) -> list[dict[str, str]]:
    """The substances a version names, once each, as the exports and the API show them."""
    seen: dict[str, dict[str, str]] = {}
    for mention in version.mentions:
        seen.setdefault(
            mention.concept_id,
            {
                "label": mention.name,
                "concept_id": mention.concept_id,
                "name": mention.name,
                "class": mention.substance_class,
                "class_label": class_label(mention.substance_class),
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


def _joined(values: Sequence[str]) -> str:
    return "; ".join(dict.fromkeys(visible_text(v) for v in values if v))


def cases_csv(cases: Sequence[Case]) -> str:
    """Return the cases as CSV, one row each; no cell can start a spreadsheet formula."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for case in cases:
        record = case_record(case)
        listing, seller = record["listing"], record["seller"]
        listed_price = record["fields"].get("price")
        row: list[Any] = [
            case.id,
            case.state,
            f"{case.score:.3f}",
            record["title"],
            listing["url"],
            listing["source_id"],
            visible_text(listing["source_name"]),
            _joined([s["label"] for s in record["substances"]]),
            _joined(sorted({s["class_label"] for s in record["substances"]})),
            _joined(sorted({i["kind"] for i in record["indicators"]})),
            visible_text(seller["name"] or ""),
            _joined([h["key"] for h in seller["handles"]]),
            _joined([p["number"] for p in seller["phones"]]),
            _joined([e["address"] for e in seller["emails"]]),
            _joined([w["key"] for w in seller["wallets"]]),
            _joined([p["value"] for p in record["prices"]]),
            visible_text(listed_price) if isinstance(listed_price, str) else "",
            _joined(record["routes"]["from"]),
            _joined(record["routes"]["to"]),
            _joined(record["routes"]["by"]),
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
