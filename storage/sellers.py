"""Sellers: listings that share a normalised identifier (a handle per channel, a phone number in
E.164, an e-mail address, a wallet), linked across sources, and analysts' changes to them.

A seller is a connected component of listings and the identifier keys extraction read in them
(``Indicator.key``): ``link_listings`` runs in the store path for each batch's new versions, so
a new listing joins the seller of an identifier it carries, a listing that carries identifiers
of two sellers merges them (into the older one), and identifiers never seen make a new seller.

An identifier carried by more than ``CommonLimits.listings`` *unrelated* listings, of at least
``CommonLimits.sources`` sources, is **common** (a marketplace's own support handle, an example
address): it links nothing from then on and belongs to no seller. Listings count as unrelated
when nothing else links them: the listings carrying the value are grouped by their other
identifiers, and only groups that have an identifier of their own count, so one seller's many
listings under one phone number stay one seller. A value found common stays common, and the
sellers it had linked come apart into what their listings still link (``regroup``). Seller pages
and lists are ``storage.seller_pages``.

Analysts' merges and splits, and their undo, are ``storage.seller_changes``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import case, distinct, func, insert, select, update
from sqlalchemy.orm import Session

from storage.bulk import insert_ids
from storage.errors import StorageError
from storage.models import (
    Indicator,
    Listing,
    ListingVersion,
    Seller,
    SellerChange,
    SellerIdentifier,
)

LISTINGS_SETTING = "SYNTHWATCH_SELLER_COMMON_LISTINGS"
SOURCES_SETTING = "SYNTHWATCH_SELLER_COMMON_SOURCES"
# Five unrelated listings: a value of one seller is seen beside its own other identifiers, not
# beside six other sellers'; the demo classifieds' safety address is beside nine. One source:
# a marketplace's support handle is usually on its own site only.
DEFAULT_COMMON_LISTINGS = 5
DEFAULT_COMMON_SOURCES = 1
# A seller merged into one that was merged in turn: links followed at most this far.
MAX_MERGE_CHAIN = 64


@dataclass(frozen=True, slots=True)
class CommonLimits:
    """When an identifier is common: more than ``listings`` unrelated listings carry it, of at
    least ``sources`` sources."""

    listings: int = DEFAULT_COMMON_LISTINGS
    sources: int = DEFAULT_COMMON_SOURCES

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CommonLimits:
        """Read SYNTHWATCH_SELLER_COMMON_LISTINGS and SYNTHWATCH_SELLER_COMMON_SOURCES."""
        env = os.environ if environ is None else environ
        values = []
        for name, default in (
            (LISTINGS_SETTING, DEFAULT_COMMON_LISTINGS),
            (SOURCES_SETTING, DEFAULT_COMMON_SOURCES),
        ):
            text = env.get(name, "").strip()
            if not text:
                values.append(default)
                continue
            if not text.isdigit() or int(text) < 1:
                raise StorageError(f"{name} must be a whole number of at least 1, not {text!r}")
            values.append(int(text))
        return cls(*values)


@cache
def default_limits() -> CommonLimits:
    """Return the limits of this process's environment, read once."""
    return CommonLimits.from_env()


# ---------------------------------------------------------------- linking (the store path)


def link_listings(
    session: Session,
    found: Sequence[tuple[int, Sequence[str], datetime]],
    *,
    limits: CommonLimits | None = None,
) -> None:
    """Link listings to sellers by the identifier keys of their new versions, in order.

    ``found`` holds (listing id, its version's keys in text order, when it was stored); the
    versions' indicators must already be in the session's transaction. A handful of statements
    per batch, whatever its size (more only for each merge). Flushes, never commits.
    """
    found = [(listing_id, list(dict.fromkeys(keys)), when) for listing_id, keys, when in found]
    found = [item for item in found if item[1]]
    if not found:
        return
    session.flush()
    limits = limits or default_limits()
    first_seen: dict[str, datetime] = {}
    for _, listing_keys, when in found:
        for key in listing_keys:
            first_seen.setdefault(key, when)
    known = _known(session, list(first_seen))
    candidates = [k for k in first_seen if known.get(k, (None, ""))[1] != "common"]
    common = common_values(session, candidates, limits)
    if common:
        _mark_common(session, common, known, first_seen)
        # What a value linked before it was found common comes apart again.
        former = {seller for k in common if k in known and (seller := known[k][0]) is not None}
        for seller_id in sorted(former):
            regroup(session, seller_id, now=max(first_seen.values()))
        known = _known(session, list(first_seen))
    groups = _Groups()
    for _, listing_keys, _when in found:
        nodes: list[tuple[str, object]] = []
        for key in listing_keys:
            if key in common:
                continue
            if key not in known:
                nodes.append(("key", key))
            elif known[key][1] == "linked" and known[key][0] is not None:
                nodes.append(("seller", known[key][0]))
        for node in nodes[1:]:
            groups.join(nodes[0], node)
        if nodes:
            groups.find(nodes[0])
    _write_groups(session, groups, first_seen)
    session.flush()


def _known(session: Session, keys: Sequence[str]) -> dict[str, tuple[int | None, str]]:
    """Return the seller and status of the keys already known."""
    rows = session.execute(
        select(SellerIdentifier.key, SellerIdentifier.seller_id, SellerIdentifier.status).where(
            SellerIdentifier.key.in_(keys)
        )
    )
    return {key: (seller_id, status) for key, seller_id, status in rows}


def regroup(session: Session, seller_id: int, *, now: datetime) -> list[int]:
    """Split a seller into the groups of its identifiers that its listings still link.

    Run when one of its identifiers was found common: the group holding its oldest identifier
    keeps the seller; each other group becomes a new seller, named after its first identifier.
    Identifiers an analyst merged in stay with the seller; split ones stand alone. Returns the
    ids of the new sellers.
    """
    session.flush()
    rows = session.execute(
        select(SellerIdentifier.key, SellerIdentifier.status)
        .where(SellerIdentifier.seller_id == seller_id)
        .order_by(SellerIdentifier.id)
    ).all()
    if len(rows) < 2:
        return []
    keys = [key for key, _status in rows]
    groups = _Groups()
    for key in keys:
        groups.find(("key", key))
    linked = {key for key, status in rows if status == "linked"}
    pairs = session.execute(
        select(ListingVersion.listing_id, Indicator.key)
        .join(ListingVersion, Indicator.version_id == ListingVersion.id)
        .where(Indicator.key.in_(linked))
        .distinct()
    )
    for listing_id, carried in pairs:
        groups.join(("listing", listing_id), ("key", carried))
    merges = session.scalars(
        select(SellerChange).where(
            SellerChange.kind == "merge",
            SellerChange.seller_id == seller_id,
            SellerChange.undone_at.is_(None),
        )
    )
    for change in merges:
        for key in change.keys:
            if key in linked:
                groups.join(("key", key), ("key", keys[0]))
    parts: dict[object, list[str]] = {}
    for key in keys:
        parts.setdefault(groups.find(("key", key)), []).append(key)
    others = [part for part in parts.values() if keys[0] not in part]
    if not others:
        return []
    values = [{"name": part[0], "created_at": now} for part in others]
    ids = insert_ids(session, Seller, values, ("name",))
    for new_id, part in zip(ids, others, strict=True):
        session.execute(
            update(SellerIdentifier).where(SellerIdentifier.key.in_(part)).values(seller_id=new_id),
            execution_options={"synchronize_session": "fetch"},
        )
    return ids


def _mark_common(
    session: Session,
    common: Mapping[str, tuple[int, int]],
    known: Mapping[str, tuple[int | None, str]],
    first_seen: Mapping[str, datetime],
) -> None:
    """Record values found common: on no seller from now on, with the counts that made them."""
    if not common:
        return
    values = {
        key: {
            "seller_id": None,
            "status": "common",
            "excluded_at": first_seen[key],
            "excluded_listings": listings,
            "excluded_sources": sources,
        }
        for key, (listings, sources) in common.items()
    }
    if new := [
        {"key": k, "first_seen": first_seen[k], **v} for k, v in values.items() if k not in known
    ]:
        session.execute(insert(SellerIdentifier), new)
    for key, value in values.items():
        if key in known:
            session.execute(
                update(SellerIdentifier).where(SellerIdentifier.key == key).values(**value),
                execution_options={"synchronize_session": False},
            )


def _write_groups(session: Session, groups: _Groups, first_seen: Mapping[str, datetime]) -> None:
    """Give each group of identifiers one seller: the oldest of the sellers it holds (the others
    are merged into it), or a new one named after its first identifier."""
    members: dict[object, list[tuple[str, object]]] = {}
    for node in groups.parent:
        members.setdefault(groups.find(node), []).append(node)  # type: ignore[arg-type]
    order = {key: n for n, key in enumerate(first_seen)}
    new_sellers: list[list[str]] = []
    joining: list[tuple[int, list[str]]] = []
    absorbed_into: dict[int, int] = {}
    for nodes in members.values():
        sellers = sorted(int(value) for kind, value in nodes if kind == "seller")  # type: ignore[call-overload]
        keys = sorted((str(value) for kind, value in nodes if kind == "key"), key=order.__getitem__)
        if not sellers:
            new_sellers.append(keys)
            continue
        absorbed_into.update(dict.fromkeys(sellers[1:], sellers[0]))
        if keys:
            joining.append((sellers[0], keys))
    if absorbed_into:
        _absorb_all(session, absorbed_into, max(first_seen.values()))
    if new_sellers:
        values = [{"name": keys[0], "created_at": first_seen[keys[0]]} for keys in new_sellers]
        ids = insert_ids(session, Seller, values, ("name",))
        joining += list(zip(ids, new_sellers, strict=True))
    rows = [
        {"key": key, "seller_id": seller_id, "status": "linked", "first_seen": first_seen[key]}
        for seller_id, keys in joining
        for key in keys
    ]
    if rows:
        session.execute(insert(SellerIdentifier), rows)


def _absorb_all(session: Session, absorbed_into: Mapping[int, int], when: datetime) -> None:
    """Merge sellers into others (absorbed id → survivor id) in two statements, whatever their
    number; copies of their rows the session holds are expired."""
    session.execute(
        update(SellerIdentifier)
        .where(SellerIdentifier.seller_id.in_(list(absorbed_into)))
        .values(seller_id=case(absorbed_into, value=SellerIdentifier.seller_id)),
        execution_options={"synchronize_session": False},
    )
    session.execute(
        update(Seller),
        [{"id": a, "merged_into_id": s, "merged_at": when} for a, s in absorbed_into.items()],
    )
    for instance in list(session.identity_map.values()):
        if isinstance(instance, SellerIdentifier):
            session.expire(instance)


def absorb(session: Session, survivor: int, absorbed: int, when: datetime) -> list[str]:
    """Move every identifier of one seller to another, which it is merged into; return them."""
    session.flush()
    moved = list(
        session.scalars(select(SellerIdentifier.key).where(SellerIdentifier.seller_id == absorbed))
    )
    session.execute(
        update(SellerIdentifier)
        .where(SellerIdentifier.seller_id == absorbed)
        .values(seller_id=survivor),
        execution_options={"synchronize_session": "fetch"},
    )
    session.execute(
        update(Seller).where(Seller.id == absorbed).values(merged_into_id=survivor, merged_at=when),
        execution_options={"synchronize_session": "fetch"},
    )
    return moved


def common_values(
    session: Session, keys: Sequence[str], limits: CommonLimits
) -> dict[str, tuple[int, int]]:
    """Return the keys that are common, with the unrelated listings and sources carrying each."""
    if not keys:
        return {}
    # Indicator rows first, from the key's index alone: a key on few rows is on few listings.
    rows = session.execute(
        select(Indicator.key, func.count()).where(Indicator.key.in_(keys)).group_by(Indicator.key)
    )
    many = [str(key) for key, count in rows if count > limits.listings]
    if not many:
        return {}
    counts = session.execute(
        select(
            Indicator.key,
            func.count(distinct(ListingVersion.listing_id)),
            func.count(distinct(Listing.source_id)),
        )
        .join(ListingVersion, Indicator.version_id == ListingVersion.id)
        .join(Listing, ListingVersion.listing_id == Listing.id)
        .where(Indicator.key.in_(many))
        .group_by(Indicator.key)
    )
    # Counting unrelated listings loads their other identifiers: only where the plain counts
    # already pass the limits.
    crowded = {
        str(key): sources
        for key, listings, sources in counts
        if listings > limits.listings and sources >= limits.sources
    }
    found = {}
    for key, sources in crowded.items():
        unrelated = unrelated_listings(session, key)
        if unrelated > limits.listings:
            found[key] = (unrelated, sources)
    return found


def unrelated_listings(session: Session, key: str) -> int:
    """Count the listings carrying ``key`` that nothing else links: groups of them that share
    other identifiers (common ones aside) count once; listings with no other one not at all."""
    carriers = (
        select(ListingVersion.listing_id)
        .join(Indicator, Indicator.version_id == ListingVersion.id)
        .where(Indicator.key == key)
    )
    common = select(SellerIdentifier.key).where(SellerIdentifier.status == "common")
    pairs = session.execute(
        select(ListingVersion.listing_id, Indicator.key)
        .join(ListingVersion, Indicator.version_id == ListingVersion.id)
        .where(
            ListingVersion.listing_id.in_(carriers),
            Indicator.key.is_not(None),
            Indicator.key != key,
            Indicator.key.not_in(common),
        )
        .distinct()
    )
    groups = _Groups()
    for listing_id, other in pairs:
        groups.join(("listing", listing_id), ("key", other))
    return groups.count("listing")


class _Groups:
    """Union-find over hashable nodes."""

    def __init__(self) -> None:
        self.parent: dict[object, object] = {}

    def find(self, node: object) -> object:
        self.parent.setdefault(node, node)
        root = node
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[node] != root:
            self.parent[node], node = root, self.parent[node]
        return root

    def join(self, a: object, b: object) -> None:
        self.parent[self.find(a)] = self.find(b)

    def count(self, kind: str) -> int:
        """Count the groups holding at least one node ``(kind, ...)``."""
        nodes = [n for n in self.parent if isinstance(n, tuple) and n[0] == kind]
        return len({self.find(n) for n in nodes})


def active_seller(session: Session, seller_id: int) -> Seller | None:
    """Return the seller an id names now: itself, or the one it was merged into; None if none."""
    seller = session.get(Seller, seller_id)
    for _ in range(MAX_MERGE_CHAIN):
        if seller is None or seller.merged_into_id is None:
            return seller
        seller = session.get(Seller, seller.merged_into_id)
    return None
