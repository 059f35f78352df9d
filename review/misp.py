"""A case as a MISP event (JSON), for sharing with MISP instances beside the STIX 2.1 bundle.

One event per case (``misp_event``) or per seller (``seller_event``: its identifiers, and the
listing, evidence and substances of each of its confirmed cases), in the MISP core format
(`{"Event": {...}}`) that MISP imports from a file ("Add event" → "Populate from" → MISP
JSON) or a feed:

- attributes: the listing's URL (`url`), the SHA-256 of each captured page version
  (`sha256`, the WARC payload digest that `evidence verify` checks), the seller's e-mail
  addresses (`email`), phone numbers (`phone-number`), Bitcoin and Monero wallets (`btc`,
  `xmr`), the substances named (`text`, with their class and control status) and the routes
  extraction read (`text`: each ship-from and ship-to place as its ISO 3166 code, "EU" or
  "WORLD", and each carrier or method, the comment saying which and naming the place);
- objects: each contact handle as a `user-account` (`username`, with the channel as
  `account-type`), and each wallet MISP has no attribute type for (Ethereum) as a
  `coin-address` (`address`, `symbol`);
- tags: `tlp:amber`, and `synthwatch:substance-class="<class>"` per class offered.

Ids are derived from the case and the value (UUIDv5), so an event imported twice updates one
event. Distribution is "your organisation only" (0): sharing further is the analyst's choice in
MISP. Titles and values are shown without invisible characters (`review.invisible`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

from nlp import key_kind
from review.digest.routes import place_name
from review.exports import case_record
from review.invisible import visible_text
from storage.models import Case

# The case states an analyst has confirmed: the only cases that may be shared as events.
SHAREABLE_STATES = frozenset({"confirmed", "escalated", "approved", "referred"})
MISP_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://synthwatch.invalid/misp")
# MISP's object templates (misp-objects), by name: uuid, version, meta-category.
TEMPLATES = {
    "user-account": ("49606b06-22f0-4ac8-8eee-2f12ad46f3d3", "6", "misc"),
    "coin-address": ("d0e6997e-78da-4815-a6a1-cfc1c1cb8a46", "7", "financial"),
}
# Wallet currencies with a MISP attribute type of their own.
_WALLET_TYPES = {"btc": "btc", "xmr": "xmr"}
# Distribution: 0 your organisation only; 5 an attribute inherits its event's.
_ORG_ONLY, _INHERIT = "0", "5"
# Analysis: 1 ongoing, 2 complete (a legal reviewer approved or it was referred).
_COMPLETE_STATES = frozenset({"approved", "referred"})


class NotShareable(ValueError):
    """The case has not been confirmed by an analyst, so it is not shared."""


# An event's owner makes its ids: a case's id, or "seller/<id>" for a seller.
Owner = int | str


def _uuid(owner: Owner, *parts: object) -> str:
    return str(uuid.uuid5(MISP_NAMESPACE, "/".join(map(str, (owner, *parts)))))


def _attribute(
    owner: Owner, kind: str, category: str, value: str, *, to_ids: bool, comment: str = ""
) -> dict[str, Any]:
    return {
        "uuid": _uuid(owner, "attribute", kind, value),
        "type": kind,
        "category": category,
        "value": value,
        "to_ids": to_ids,
        "distribution": _INHERIT,
        "comment": comment,
    }


def _object(owner: Owner, name: str, relations: list[tuple[str, str]]) -> dict[str, Any]:
    template_uuid, version, meta_category = TEMPLATES[name]
    identity = "/".join(f"{r}={v}" for r, v in relations)
    return {
        "name": name,
        "meta-category": meta_category,
        "template_uuid": template_uuid,
        "template_version": version,
        "uuid": _uuid(owner, "object", name, identity),
        "distribution": _INHERIT,
        "Attribute": [
            {
                "uuid": _uuid(owner, "object", name, identity, relation),
                "object_relation": relation,
                "type": "text",
                "category": "Other",
                "value": value,
                "to_ids": False,
                "distribution": _INHERIT,
            }
            for relation, value in relations
        ],
    }


def _identifiers(owner: Owner, key: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the attributes and objects of one stored identifier key."""
    kind, (prefix, _, identifier) = key_kind(key), key.partition(":")
    if kind == "email":
        return [_attribute(owner, "email", "Social network", identifier, to_ids=False)], []
    if kind == "phone":
        return [_attribute(owner, "phone-number", "Person", identifier, to_ids=False)], []
    if kind == "wallet":
        if prefix in _WALLET_TYPES:
            wallet = _attribute(
                owner, _WALLET_TYPES[prefix], "Financial fraud", identifier, to_ids=True
            )
            return [wallet], []
        relations = [("address", identifier), ("symbol", prefix.upper())]
        return [], [_object(owner, "coin-address", relations)]
    relations = [("username", identifier), ("account-type", prefix)]
    return [], [_object(owner, "user-account", relations)]


def identifier_parts(
    owner: Owner, keys: Iterable[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Return the attributes and objects of identifier keys (each once), for an event."""
    attributes: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    for key in dict.fromkeys(keys):
        found, made = _identifiers(owner, key)
        attributes += found
        objects += made
    return attributes, objects


def listing_attributes(owner: Owner, case: Case, record: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the attributes of a case's listing: its URL, each version's capture hash and the
    substances named (``record`` is ``review.exports.case_record(case)``)."""
    listing = case.listing
    attributes = [
        _attribute(
            owner,
            "url",
            "Network activity",
            listing.url,
            to_ids=False,
            comment=f"the listing on {visible_text(listing.source.name)}",
        )
    ]
    for version in listing.versions:
        capture = version.capture
        attributes.append(
            _attribute(
                owner,
                "sha256",
                "Artifacts dropped",
                capture.payload_sha256,
                to_ids=False,
                comment=(
                    f"SHA-256 of the page as captured at {capture.fetched_at.isoformat()} "
                    f"(WARC payload digest, capture {capture.id})"
                ),
            )
        )
    for substance in record["substances"]:
        control = f", {substance['control']}" if substance["control"] else ""
        attributes.append(
            _attribute(
                owner,
                "text",
                "Other",
                visible_text(substance["label"]),
                to_ids=False,
                comment=f"substance named: {substance['class_label']}{control}",
            )
        )
    attributes += route_attributes(owner, record["routes"])
    return attributes


def route_attributes(owner: Owner, routes: dict[str, list[str]]) -> list[dict[str, Any]]:
    """Return the routes of a case record as `text` attributes: the place's code (or the
    carrier), the comment saying which side it is and naming the place."""
    attributes = []
    for side in ("from", "to", "by"):
        for value in routes[side]:
            if side == "by":
                comment = "carrier or shipping method"
            else:
                name = place_name(value)
                country = "" if value in ("EU", "WORLD") or name == value else " country"
                comment = f"ship-{side}{country}: {name}"
            attribute = _attribute(
                owner, "text", "Other", visible_text(value), to_ids=False, comment=comment
            )
            # One id per side: "CN" shipped from and to is two attributes.
            attribute["uuid"] = _uuid(owner, "attribute", "route", side, value)
            attributes.append(attribute)
    return attributes


def event_tags(classes: Iterable[str]) -> list[dict[str, str]]:
    """Return an event's tags: TLP amber, and each substance class offered."""
    return [{"name": "tlp:amber"}] + [
        {"name": f'synthwatch:substance-class="{c}"'} for c in sorted(set(classes))
    ]


def misp_event(case: Case) -> dict[str, Any]:
    """Return a confirmed case as a MISP event; raise NotShareable for any other state."""
    if case.state not in SHAREABLE_STATES:
        raise NotShareable(
            f"case {case.id} is {case.state}: only a confirmed case is shared as a MISP event"
        )
    record = case_record(case)
    title = record["title"] or f"listing {case.listing.id}"
    attributes = listing_attributes(case.id, case, record)
    found, objects = identifier_parts(case.id, (i["key"] for i in record["indicators"] if i["key"]))
    attributes += found
    tags = event_tags(s["class"] for s in record["substances"])
    event = {
        "uuid": _uuid(case.id, "event"),
        "info": f"SynthWatch case {case.id}: {title}"[:255],
        "date": case.created_at.astimezone(UTC).date().isoformat(),
        "timestamp": str(int(case.updated_at.timestamp())),
        "threat_level_id": "2",
        "analysis": "2" if case.state in _COMPLETE_STATES else "1",
        "distribution": _ORG_ONLY,
        "published": False,
        "Tag": tags,
        "Attribute": _unique(attributes),
        "Object": _unique(objects),
    }
    return {"Event": event}


def _unique(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({item["uuid"]: item for item in items}.values())


def seller_event(
    seller_id: int, keys: Sequence[str], cases: Sequence[Case], *, date: datetime
) -> dict[str, Any]:
    """Return a seller as a MISP event: its identifiers, and the listing, evidence and
    substances of each of its confirmed cases; raise NotShareable when it has none.

    ``date`` is when the seller was first seen.
    """
    confirmed = sorted((c for c in cases if c.state in SHAREABLE_STATES), key=lambda c: c.id)
    if not confirmed:
        raise NotShareable(
            f"seller {seller_id} has no confirmed case: only a seller with one is shared"
        )
    owner = f"seller/{seller_id}"
    attributes, objects = identifier_parts(owner, keys)
    classes: list[str] = []
    for case in confirmed:
        record = case_record(case)
        for attribute in listing_attributes(owner, case, record):
            attribute["comment"] = f"case {case.id}: {attribute['comment']}"
            attributes.append(attribute)
        classes += [s["class"] for s in record["substances"]]
    handles = ", ".join(visible_text(k) for k in keys[:3]) + (" …" if len(keys) > 3 else "")
    event = {
        "uuid": _uuid(owner, "event"),
        "info": f"SynthWatch seller {seller_id}: {handles}"[:255],
        "date": date.astimezone(UTC).date().isoformat(),
        "timestamp": str(int(max(c.updated_at for c in confirmed).timestamp())),
        "threat_level_id": "2",
        "analysis": "1",
        "distribution": _ORG_ONLY,
        "published": False,
        "Tag": event_tags(classes),
        "Attribute": _unique(attributes),
        "Object": _unique(objects),
    }
    return {"Event": event}
