"""Identifiers that tie listings together: read from the keys extraction stored, never from text."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from storage.listings import IndicatorRecord, shared_identifier_listings
from tests.factories import add_offer

SESSION_ID = "05" + "3f" * 32  # a Session id: 66 hex digits


def contact(text: str, key: str | None, channel: str = "wickr") -> IndicatorRecord:
    """Return a contact indicator as extraction records it: the channel as value, and its key."""
    return IndicatorRecord("contact", 0, len(text), text, channel, key)


PRICE = IndicatorRecord("price", 0, 4, "$120", "USD 120")
WALLET = "btc:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"


def test_listings_sharing_a_session_id_are_linked(session: Session, now: datetime) -> None:
    # Regression: the handle grammar copied into storage stopped at 40 characters.
    key = f"session:{SESSION_ID}"
    first = add_offer(
        session, now, "https://shop.example/a", contact(f"Session: {SESSION_ID}", key)
    )
    second = add_offer(
        session, now, "https://shop.example/b", contact(f"session {SESSION_ID}", key)
    )

    shared = shared_identifier_listings(session, first)

    assert [(s.listing_id, s.identifiers) for s in shared] == [(second, (key,))]


def test_only_listings_with_an_equal_key_are_linked(session: Session, now: datetime) -> None:
    wallet = IndicatorRecord("wallet", 0, 3, WALLET[4:], "BTC:" + WALLET[4:], WALLET)
    first = add_offer(
        session, now, "https://shop.example/a", contact("Wickr: ChemKing", "wickr:chemking"), wallet
    )
    second = add_offer(
        session,
        now,
        "https://shop.example/b",
        contact("wickr me: chemking", "wickr:chemking"),
        wallet,
        PRICE,
    )
    add_offer(
        session, now, "https://shop.example/c", contact("Wickr: chemqueen", "wickr:chemqueen")
    )
    add_offer(session, now, "https://shop.example/d", contact("tg: chemking", "telegram:chemking"))

    shared = shared_identifier_listings(session, first)

    assert [(s.listing_id, s.identifiers) for s in shared] == [(second, (WALLET, "wickr:chemking"))]
    assert (shared[0].url, shared[0].source_name) == ("https://shop.example/b", "Invented shop")


def test_indicators_without_a_key_link_nothing(session: Session, now: datetime) -> None:
    # A channel named without a handle, and a price: the same words, no identifier.
    first = add_offer(session, now, "https://shop.example/a", contact("wickr", None), PRICE)
    add_offer(session, now, "https://shop.example/b", contact("wickr", None), PRICE)

    assert shared_identifier_listings(session, first) == []


def test_the_lookup_searches_the_key_index(session: Session, now: datetime) -> None:
    first = add_offer(session, now, "https://shop.example/a", contact("Wickr: a", "wickr:chemking"))
    add_offer(session, now, "https://shop.example/b", contact("Wickr: b", "wickr:chemking"))
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        statements.append((statement, params))

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert shared_identifier_listings(session, first) != []
    finally:
        event.remove(engine, "before_cursor_execute", record)

    # The first statement finds the other listings; no LIKE scan, no cap on what it reads.
    lookup, params = statements[0]
    assert " LIKE " not in lookup.upper() and " LIMIT " not in lookup.upper()
    plan = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {lookup}", params).all()
    assert any("USING INDEX ix_indicators_key (key=?)" in row[-1] for row in plan), plan
