"""Sellers: listings linked by the identifiers they share, and analysts' merges and splits."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.models.base import Base

if TYPE_CHECKING:
    from storage.models.sources import User

# What an identifier is to sellers: "linked" (it links the listings that carry it), "split"
# (an analyst took it off a seller: it stays on a seller of its own and links nothing by
# itself), "common" (shared by too many unrelated listings: it links nothing, on no seller).
IDENTIFIER_STATUSES = ("linked", "split", "common")
SELLER_CHANGE_KINDS = ("merge", "split")


class Seller(Base):
    """A seller: the identifiers (handles, phones, e-mails, wallets) one party posts under.

    A seller merged into another keeps its row and id (``merged_into_id``), so a link to it
    still leads somewhere and an analyst's merge can be undone.
    """

    __tablename__ = "sellers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The identifier key it was first seen by ("telegram:bluecedar_rc").
    name: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("sellers.id"), index=True)
    merged_at: Mapped[datetime | None]

    identifiers: Mapped[list[SellerIdentifier]] = relationship(
        back_populates="seller", order_by="SellerIdentifier.id"
    )


class SellerIdentifier(Base):
    """An identifier key as sellers know it: which seller it belongs to, or that it is common."""

    __tablename__ = "seller_identifiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(320), unique=True)
    seller_id: Mapped[int | None] = mapped_column(ForeignKey("sellers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="linked")
    first_seen: Mapped[datetime]
    # When it was found common, and how many unrelated listings and sources carried it then.
    excluded_at: Mapped[datetime | None]
    excluded_listings: Mapped[int | None] = mapped_column(Integer)
    excluded_sources: Mapped[int | None] = mapped_column(Integer)

    seller: Mapped[Seller | None] = relationship(back_populates="identifiers")


class SellerChange(Base):
    """An analyst's merge of two sellers or split of an identifier off one, and its undo.

    merge: ``other_seller_id`` went into ``seller_id``; split: ``key`` left ``seller_id`` for
    the new ``other_seller_id``. ``keys`` are the identifiers the change moved.
    """

    __tablename__ = "seller_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    other_seller_id: Mapped[int] = mapped_column(ForeignKey("sellers.id"), index=True)
    keys: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    undone_at: Mapped[datetime | None]
    undone_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    actor: Mapped[User] = relationship(foreign_keys=[actor_id])
    undone_by: Mapped[User | None] = relationship(foreign_keys=[undone_by_id])
