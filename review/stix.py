"""The STIX 2.1 bundle of cases, for MISP/OpenCTI-style platforms.

Per case: an ``indicator`` with a pattern on the listing's URL, the ``observed-data`` behind it,
a ``based-on`` relationship between them, and the seller's identifiers as observables, each
``related-to`` from the indicator: e-mail addresses as ``email-addr``, contact handles as
``user-account`` (``user_id`` the whole key, ``account_login`` the handle), and wallets and
phone numbers, which STIX 2.1 has no observable for, as the ``cryptocurrency-wallet`` and
``phone-number`` objects of a ``new-sco`` extension definition that the bundle carries (the
2.1 way: custom ``x-`` objects are deprecated, section 11). Those two are named and shaped as
OpenCTI's observables of the same name (``value``), so OpenCTI imports them as its own.
The routes extraction read are ``location`` objects (a country by its ISO 3166-1 code, the EU as
the region ``europe``), each ``related-to`` from the indicator with "ships from" or "ships to";
worldwide and the carriers are said in the indicator's description.
One ``report`` holds everything; all is TLP:AMBER and created by a SynthWatch ``identity``.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from nlp import key_kind
from review.digest.routes import place_name
from review.exports import case_record
from review.invisible import visible_text
from storage.models import Case

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
# The date of our objects that do not change between exports (identity, extension definition).
FIXED_DATE = "2026-01-01T00:00:00.000Z"
EXTENSION_SCHEMA = (
    "Two new STIX Cyber-observable Objects for identifiers a seller gives in a listing. "
    "cryptocurrency-wallet: value (required, string) the address as written, the case of "
    "base58 addresses kept, hex and bech32 lower-cased; currency (string) btc, eth or xmr; "
    "the id is derived from value. phone-number: value (required, string) the number in E.164 "
    "form where the listing gives a country code, its digits otherwise; the id is derived "
    "from value."
)


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


IDENTITY_ID = _sdo_id("identity", "synthwatch")
EXTENSION_ID = _sdo_id("extension-definition", "identifier-observables", 1)


def pattern_string(value: str) -> str:
    """Return a value as a quoted STIX pattern string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _extension_sco(kind: str, value: str, **more: str) -> dict[str, Any]:
    return {
        "type": kind,
        "spec_version": "2.1",
        "id": _sco_id(kind, {"value": value}),
        "value": value,
        **more,
        "extensions": {EXTENSION_ID: {"extension_type": "new-sco"}},
    }


def identifier_observable(key: str) -> dict[str, Any]:
    """Return the STIX observable of a stored identifier key.

    An e-mail address is an ``email-addr``; a handle a ``user-account`` whose ``user_id`` is the
    whole key ("session:05..."): ``account_type`` is a closed vocabulary under strict
    validation that lacks most channels. A wallet is a ``cryptocurrency-wallet`` and a phone a
    ``phone-number``, both of this bundle's extension definition.
    """
    kind, (prefix, _, identifier) = key_kind(key), key.partition(":")
    if kind == "email":
        email_id = _sco_id("email-addr", {"value": identifier})
        return {"type": "email-addr", "spec_version": "2.1", "id": email_id, "value": identifier}
    if kind == "wallet":
        return _extension_sco("cryptocurrency-wallet", identifier, currency=prefix)
    if kind == "phone":
        return _extension_sco("phone-number", identifier)
    account_id = _sco_id("user-account", {"account_login": identifier, "user_id": key})
    return {
        "type": "user-account",
        "spec_version": "2.1",
        "id": account_id,
        "user_id": key,
        "account_login": identifier,
    }


def route_location(code: str, common: dict[str, Any]) -> dict[str, Any] | None:
    """Return the STIX ``location`` of a route's place: a country by its ISO 3166-1 code, the EU
    as the region ``europe``; None for worldwide or a code that names no country."""
    if code == "EU":
        where = {"region": "europe"}
    elif place_name(code) != code and code != "WORLD":
        where = {"country": code}
    else:
        return None
    return {
        "type": "location",
        "id": _sdo_id("location", code),
        "created_by_ref": IDENTITY_ID,
        "created": FIXED_DATE,
        "modified": FIXED_DATE,
        "name": place_name(code),
        **where,
        **common,
    }


def route_sentence(routes: dict[str, list[str]]) -> str:
    """Return the routes of a case record as a sentence ("" without any): "Ships from China
    (CN) to United States (US) by EMS."."""

    def places(codes: list[str]) -> str:
        return ", ".join(
            place_name(c) if place_name(c) in (c, "worldwide") else f"{place_name(c)} ({c})"
            for c in codes
        )

    parts = [f"from {places(routes['from'])}"] if routes["from"] else []
    parts += [f"to {places(routes['to'])}"] if routes["to"] else []
    parts += [f"by {', '.join(visible_text(c) for c in routes['by'])}"] if routes["by"] else []
    return f" Ships {' '.join(parts)}." if parts else ""


def _meta_objects(common: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the marking, our identity and the extension definition every bundle starts with."""
    identity = {
        "type": "identity",
        "id": IDENTITY_ID,
        "created": FIXED_DATE,
        "modified": FIXED_DATE,
        "name": "SynthWatch",
        "identity_class": "system",
        **common,
    }
    extension = {
        "type": "extension-definition",
        "id": EXTENSION_ID,
        "created_by_ref": IDENTITY_ID,
        "created": FIXED_DATE,
        "modified": FIXED_DATE,
        "name": "SynthWatch identifier observables",
        "description": "Cryptocurrency wallets and phone numbers named in listings.",
        "schema": EXTENSION_SCHEMA,
        "version": "1.0",
        "extension_types": ["new-sco"],
        **common,
    }
    return [TLP_AMBER, identity, extension]


def stix_bundle(cases: Sequence[Case], *, now: datetime) -> dict[str, Any]:
    """Return a STIX 2.1 bundle: per case an indicator on the listing's URL, the observed data
    behind it (URL and the seller's identifiers), relationships, and one report (TLP:AMBER)."""
    stamp = stix_timestamp(now)
    common: dict[str, Any] = {"spec_version": "2.1", "object_marking_refs": [TLP_AMBER["id"]]}
    objects = _meta_objects(common)
    observables: dict[str, dict[str, Any]] = {}
    locations: dict[str, dict[str, Any]] = {}
    report_refs: list[str] = []
    for case in cases:
        record = case_record(case)
        listing = case.listing
        created, modified = stix_timestamp(case.created_at), stix_timestamp(case.updated_at)
        dated = {"created_by_ref": IDENTITY_ID, "created": created, "modified": modified}
        url_id = _sco_id("url", {"value": listing.url})
        observables.setdefault(
            url_id, {"type": "url", "spec_version": "2.1", "id": url_id, "value": listing.url}
        )
        identifier_ids: list[str] = []
        for indicator in listing.versions[-1].indicators:
            if indicator.key:
                observable = identifier_observable(indicator.key)
                observables.setdefault(observable["id"], observable)
                identifier_ids.append(observable["id"])
        identifier_ids = list(dict.fromkeys(identifier_ids))
        route_refs: list[tuple[str, str]] = []
        for side, verb in (("from", "ships from"), ("to", "ships to")):
            for code in record["routes"][side]:
                location = route_location(code, common)
                if location is not None:
                    locations.setdefault(location["id"], location)
                    route_refs.append((verb, location["id"]))
        classes = sorted({s["class"] for s in record["substances"]})
        labels = [visible_text(s["label"]) for s in record["substances"]]
        names = ", ".join(dict.fromkeys(n for n in labels if n)) or "no named substance"
        priced = ", ".join(visible_text(p["value"]) for p in record["prices"])
        observed: dict[str, Any] = {
            "type": "observed-data",
            "id": _sdo_id("observed-data", "case", case.id),
            **dated,
            "first_observed": stix_timestamp(listing.first_seen),
            "last_observed": stix_timestamp(max(listing.last_seen, listing.first_seen)),
            "number_observed": max(1, len(listing.versions)),
            "object_refs": [url_id, *identifier_ids],
            **common,
        }
        indicator_sdo: dict[str, Any] = {
            "type": "indicator",
            "id": _sdo_id("indicator", "case", case.id),
            **dated,
            "name": (record["title"] or f"listing {listing.id}")[:250],
            "description": (
                f"SynthWatch case {case.id} ({case.state}, score {case.score:.2f}): a listing "
                f"on {visible_text(listing.source.name)} offering {names}"
                + (f" at {priced}." if priced else ".")
                + route_sentence(record["routes"])
            ),
            "indicator_types": ["malicious-activity"],
            "pattern": f"[url:value = {pattern_string(listing.url)}]",
            "pattern_type": "stix",
            "valid_from": created,
            **common,
        }
        if classes:
            indicator_sdo["labels"] = [
                f"synthwatch-class-{c}".replace(" ", "-").lower() for c in classes
            ]
        relationships = [
            _relationship(
                _sdo_id("relationship", "case", case.id, "based-on"),
                ("based-on", indicator_sdo["id"], observed["id"]),
                {**dated, **common},
            )
        ]
        relationships += [
            _relationship(
                _sdo_id("relationship", "case", case.id, "related-to", ref),
                ("related-to", indicator_sdo["id"], ref),
                {**dated, **common},
            )
            for ref in identifier_ids
        ]
        relationships += [
            _relationship(
                _sdo_id("relationship", "case", case.id, verb, ref),
                ("related-to", indicator_sdo["id"], ref),
                {**dated, "description": verb, **common},
            )
            for verb, ref in route_refs
        ]
        objects += [observed, indicator_sdo, *relationships]
        report_refs += [indicator_sdo["id"], observed["id"], url_id, *identifier_ids]
        report_refs += [ref for _verb, ref in route_refs]
        report_refs += [r["id"] for r in relationships]
    objects[3:3] = [*observables.values(), *locations.values()]
    report = {
        "type": "report",
        "id": f"report--{uuid.uuid4()}",
        "created_by_ref": IDENTITY_ID,
        "created": stamp,
        "modified": stamp,
        "name": f"SynthWatch cases, exported {now.astimezone(UTC):%Y-%m-%d %H:%M} UTC",
        "report_types": ["indicator", "observed-data"],
        "published": stamp,
        "object_refs": list(dict.fromkeys(report_refs)) or [IDENTITY_ID],
        **common,
    }
    objects.append(report)
    return {"type": "bundle", "id": f"bundle--{uuid.uuid4()}", "objects": objects}


def _relationship(
    relationship_id: str, edge: tuple[str, str, str], properties: dict[str, Any]
) -> dict[str, Any]:
    kind, source, target = edge
    return {
        "type": "relationship",
        "id": relationship_id,
        "relationship_type": kind,
        "source_ref": source,
        "target_ref": target,
        **properties,
    }
