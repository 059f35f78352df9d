"""Analysts' changes to sellers: merge two, split an identifier off one, undo either.

Each change is a ``SellerChange`` with an audit row (``seller.merged``, ``seller.split``,
``seller.merge_undone``, ``seller.split_undone``); ``undo_change`` takes one back while nothing
has been built on it since. Linking itself is ``storage.sellers``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage.audit import append_event
from storage.errors import StorageError
from storage.models import Seller, SellerChange, SellerIdentifier, User
from storage.sellers import absorb


class SellerChangeRefused(StorageError):
    """An analyst's change to sellers that can't be made, with the reason in words."""


def _live(session: Session, seller_id: int) -> Seller:
    seller = session.get(Seller, seller_id)
    if seller is None:
        raise SellerChangeRefused(f"there is no seller {seller_id}")
    if seller.merged_into_id is not None:
        raise SellerChangeRefused(
            f"seller {seller_id} was merged into seller {seller.merged_into_id}: change that one"
        )
    return seller


def _keys_of(session: Session, seller_id: int) -> list[str]:
    query = select(SellerIdentifier.key).where(SellerIdentifier.seller_id == seller_id)
    return list(session.scalars(query.order_by(SellerIdentifier.id)))


def merge_sellers(
    session: Session,
    seller_id: int,
    other_id: int,
    *,
    actor: User,
    now: datetime,
    note: str = "",
    request_id: str | None = None,
) -> SellerChange:
    """Merge seller ``other_id`` into ``seller_id`` (an analyst's call), audited."""
    if seller_id == other_id:
        raise SellerChangeRefused(f"seller {seller_id} can't be merged with itself")
    _live(session, seller_id)
    _live(session, other_id)
    moved = absorb(session, seller_id, other_id, now)
    change = SellerChange(
        kind="merge",
        seller_id=seller_id,
        other_seller_id=other_id,
        keys=moved,
        note=note,
        at=now,
        actor_id=actor.id,
    )
    session.add(change)
    session.flush()
    append_event(
        session,
        action="seller.merged",
        object_type="seller",
        object_id=seller_id,
        actor=actor,
        now=now,
        request_id=request_id,
        detail={"change_id": change.id, "merged": other_id, "identifiers": moved, "note": note},
    )
    return change


def split_identifier(
    session: Session,
    seller_id: int,
    key: str,
    *,
    actor: User,
    now: datetime,
    note: str = "",
    request_id: str | None = None,
) -> SellerChange:
    """Take one identifier off a seller onto a new seller of its own, audited.

    The identifier is marked split: it links no listing to another seller by itself again.
    """
    _live(session, seller_id)
    row = session.scalar(select(SellerIdentifier).where(SellerIdentifier.key == key))
    if row is None or row.seller_id != seller_id:
        raise SellerChangeRefused(f"seller {seller_id} has no identifier {key[:80]!r}")
    if len(_keys_of(session, seller_id)) < 2:
        raise SellerChangeRefused(f"{key[:80]!r} is the only identifier of seller {seller_id}")
    new = Seller(name=key, created_at=now)
    session.add(new)
    session.flush()
    row.seller_id, row.status = new.id, "split"
    change = SellerChange(
        kind="split",
        seller_id=seller_id,
        other_seller_id=new.id,
        keys=[key],
        note=note,
        at=now,
        actor_id=actor.id,
    )
    session.add(change)
    session.flush()
    append_event(
        session,
        action="seller.split",
        object_type="seller",
        object_id=seller_id,
        actor=actor,
        now=now,
        request_id=request_id,
        detail={"change_id": change.id, "identifier": key, "new_seller": new.id, "note": note},
    )
    return change


def undo_change(
    session: Session,
    change_id: int,
    *,
    actor: User,
    now: datetime,
    request_id: str | None = None,
) -> SellerChange:
    """Take back a merge or a split, audited; refused when a later change was built on it."""
    change = session.get(SellerChange, change_id)
    if change is None:
        raise SellerChangeRefused(f"there is no seller change {change_id}")
    if change.undone_at is not None:
        raise SellerChangeRefused(f"seller change {change_id} was undone already")
    if change.kind == "merge":
        _undo_merge(session, change)
    else:
        _undo_split(session, change)
    change.undone_at, change.undone_by_id = now, actor.id
    session.flush()
    append_event(
        session,
        action=f"seller.{change.kind}_undone",
        object_type="seller",
        object_id=change.seller_id,
        actor=actor,
        now=now,
        request_id=request_id,
        detail={
            "change_id": change.id,
            "seller": change.seller_id,
            "other_seller": change.other_seller_id,
            "identifiers": list(change.keys),
        },
    )
    return change


def _undo_merge(session: Session, change: SellerChange) -> None:
    kept = _live(session, change.seller_id)
    absorbed = session.get(Seller, change.other_seller_id)
    assert absorbed is not None  # a foreign key
    if absorbed.merged_into_id != kept.id:
        raise SellerChangeRefused(f"seller {absorbed.id} is no longer merged into seller {kept.id}")
    session.execute(
        update(SellerIdentifier)
        .where(
            SellerIdentifier.seller_id == kept.id,
            SellerIdentifier.key.in_([str(k) for k in change.keys]),
        )
        .values(seller_id=absorbed.id),
        execution_options={"synchronize_session": "fetch"},
    )
    absorbed.merged_into_id, absorbed.merged_at = None, None


def _undo_split(session: Session, change: SellerChange) -> None:
    original = _live(session, change.seller_id)
    (key,) = (str(k) for k in change.keys)
    split_off = _live(session, change.other_seller_id)
    if _keys_of(session, split_off.id) != [key]:
        raise SellerChangeRefused(
            f"seller {split_off.id} holds more than {key[:80]!r} now: split or undo that first"
        )
    row = session.scalar(select(SellerIdentifier).where(SellerIdentifier.key == key))
    assert row is not None  # split_off holds it
    row.seller_id, row.status = original.id, "linked"
    split_off.merged_into_id, split_off.merged_at = original.id, change.at


def seller_changes(session: Session, seller_ids: Iterable[int]) -> list[SellerChange]:
    """Return the analysts' changes that touched these sellers, newest first."""
    ids = list(seller_ids)
    query = (
        select(SellerChange)
        .where(SellerChange.seller_id.in_(ids) | SellerChange.other_seller_id.in_(ids))
        .order_by(SellerChange.id.desc())
    )
    return list(session.scalars(query))
