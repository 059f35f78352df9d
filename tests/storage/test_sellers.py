"""Sellers: listings linked across sources by shared identifiers, common values left out, and
analysts' merges and splits with their undo, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from review.users import create_user
from storage import sellers
from storage.audit import verify_chain
from storage.db import make_session_factory, transaction
from storage.listings import AnalysisRecord, IndicatorRecord
from storage.migrate import upgrade
from storage.models import AuditEvent, Seller, SellerIdentifier, User
from storage.seller_changes import (
    SellerChangeRefused,
    merge_sellers,
    split_identifier,
    undo_change,
)
from storage.seller_pages import (
    common_identifiers,
    seller_profile,
    seller_summaries,
    sellers_of_listing,
)
from storage.sellers import CommonLimits, active_seller
from storage.sources import upsert_source
from tests.conftest import downgrade
from tests.factories import add_listing


@pytest.fixture
def factory(any_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(any_engine)


@pytest.fixture(autouse=True)
def default_limits() -> Iterator[None]:
    """Each test reads the limits of its own environment."""
    sellers.default_limits.cache_clear()
    yield
    sellers.default_limits.cache_clear()


def contact(key: str) -> IndicatorRecord:
    channel, _, value = key.partition(":")
    return IndicatorRecord("contact", 0, len(value), value, channel, key)


def offer(
    session: Session, now: datetime, source: str, path: str, *keys: str, text: str = ""
) -> int:
    """Store an offer of an invented site carrying these identifier keys; return its id."""
    upsert_source(
        session,
        source_id=source,
        name=f"Invented {source}",
        config={"seeds": [f"https://{source}.example/"]},
        scope_fingerprint="f" * 64,
        now=now,
    )
    analysis = AnalysisRecord(score=0.9, offer=True, indicators=[contact(k) for k in keys])
    url = f"https://{source}.example/{path}"
    stored = add_listing(
        session,
        url,
        now,
        source_id=source,
        text=text or " ".join(keys) or path,
        title=path,
        analysis=analysis,
    )
    return stored.listing.id


def seller_of(session: Session, listing_id: int) -> Seller:
    (seller,) = sellers_of_listing(session, listing_id)
    return seller


def analyst(session: Session, now: datetime) -> User:
    return create_user(session, username="ana", password="correct horse", role="analyst", now=now)


def test_listings_sharing_a_phone_across_sources_are_one_seller(
    factory: sessionmaker[Session], now: datetime
) -> None:
    with transaction(factory) as session:
        ad = offer(session, now, "classifieds", "ad/1", "telegram:bluecedar", "phone:+447700900482")
        later = now + timedelta(hours=1)
        thread = offer(session, later, "forum", "t/9", "wickr:nightjar", "phone:+447700900482")
        other = offer(session, later, "forum", "t/10", "wickr:someone_else")

    with factory() as session:
        seller = seller_of(session, ad)
        assert seller_of(session, thread).id == seller.id
        assert seller_of(session, other).id != seller.id
        assert seller.name == "telegram:bluecedar"
        profile = seller_profile(session, seller)
        assert [i.key for i in profile.identifiers] == [
            "telegram:bluecedar",
            "phone:+447700900482",
            "wickr:nightjar",
        ]
        assert {i.key: i.listings for i in profile.identifiers}["phone:+447700900482"] == 2
        assert [item.listing_id for item in profile.listings] == [ad, thread]
        assert [name for _id, name, _n in profile.sources] == [
            "Invented classifieds",
            "Invented forum",
        ]
        assert profile.first_seen == now and profile.last_seen == later
        assert {e.what for e in profile.timeline} == {"first_seen", "case_opened"}
        assert profile.timeline[0].at == later  # newest first
        page, total = seller_summaries(session, search="900482")
        assert total == 1 and page[0].seller.id == seller.id
        assert (page[0].listings, page[0].sources, page[0].cases) == (2, 2, 2)


def test_a_listing_naming_two_sellers_merges_them_into_the_older(
    factory: sessionmaker[Session], now: datetime
) -> None:
    with transaction(factory) as session:
        first = offer(session, now, "shop", "a", "wickr:alpha")
        second = offer(session, now, "market", "b", "telegram:beta")
        older, newer = seller_of(session, first).id, seller_of(session, second).id
        bridge = offer(session, now, "forum", "c", "telegram:beta", "wickr:alpha", "btc:bc1qbridge")

    with factory() as session:
        assert {seller_of(session, i).id for i in (first, second, bridge)} == {older}
        merged = session.get(Seller, newer)
        assert merged is not None and merged.merged_into_id == older
        assert active_seller(session, newer).id == older  # type: ignore[union-attr]
        keys = session.scalars(
            select(SellerIdentifier.key).where(SellerIdentifier.seller_id == older)
        ).all()
        assert set(keys) == {"wickr:alpha", "telegram:beta", "btc:bc1qbridge"}


def test_a_value_on_many_unrelated_listings_is_common_and_links_nothing(
    factory: sessionmaker[Session], now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHWATCH_SELLER_COMMON_LISTINGS", "3")
    monkeypatch.setenv("SYNTHWATCH_SELLER_COMMON_SOURCES", "2")
    support = "telegram:market_support"
    with transaction(factory) as session:
        ids = [
            offer(session, now, f"site{n % 2}", f"item/{n}", f"wickr:vendor{n}", support)
            for n in range(5)
        ]

    with factory() as session:
        row = session.scalar(select(SellerIdentifier).where(SellerIdentifier.key == support))
        assert row is not None and row.status == "common" and row.seller_id is None
        assert (row.excluded_listings, row.excluded_sources) == (4, 2)
        # The first three listings it had linked came apart again: five vendors, five sellers.
        assert len({seller_of(session, i).id for i in ids}) == 5
        assert seller_of(session, ids[0]).name == "wickr:vendor0"
        (common,) = common_identifiers(session)
        assert common[0].key == support and common[1:] == (5, 2)


def test_one_seller_s_many_listings_under_one_phone_stay_one_seller(
    factory: sessionmaker[Session], now: datetime
) -> None:
    phone = "phone:+447700900123"
    with transaction(factory) as session:
        ids = [offer(session, now, f"site{n % 3}", f"p/{n}", phone) for n in range(12)]
        ids += [offer(session, now, "site0", "q", phone, "wickr:own_handle")]

    with factory() as session:
        assert len({seller_of(session, i).id for i in ids}) == 1
        row = session.scalar(select(SellerIdentifier).where(SellerIdentifier.key == phone))
        assert row is not None and row.status == "linked"


def test_an_example_address_beside_many_sellers_is_common_by_default(
    factory: sessionmaker[Session], now: datetime
) -> None:
    example = "email:you@example.com"
    with transaction(factory) as session:
        ids = [
            offer(session, now, "shop", f"x/{n}", f"telegram:seller{n}", example) for n in range(12)
        ]

    with factory() as session:
        assert len({seller_of(session, i).id for i in ids[-3:]}) == 3
        row = session.scalar(select(SellerIdentifier).where(SellerIdentifier.key == example))
        assert row is not None and row.status == "common"
        assert row.excluded_listings == CommonLimits().listings + 1


def test_a_value_found_common_keeps_an_analyst_s_merge(
    factory: sessionmaker[Session], now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SYNTHWATCH_SELLER_COMMON_LISTINGS", "2")
    support = "telegram:market_support"
    with transaction(factory) as session:
        user = analyst(session, now)
        a = offer(session, now, "shop", "a", "wickr:alpha", support)
        b = offer(session, now, "shop", "b", "wickr:beta", support)
        c = offer(session, now, "shop", "c", "wickr:gamma")
        ab = seller_of(session, a).id
        assert seller_of(session, b).id == ab
        merge_sellers(session, ab, seller_of(session, c).id, actor=user, now=now)
        offer(session, now, "shop", "d", "wickr:delta", support)  # the third vendor: common

        assert seller_of(session, a).id == ab == seller_of(session, c).id
        assert seller_of(session, b).id != ab  # linked only through the support handle


def test_a_bad_limit_is_named() -> None:
    with pytest.raises(Exception, match="SYNTHWATCH_SELLER_COMMON_LISTINGS"):
        CommonLimits.from_env({"SYNTHWATCH_SELLER_COMMON_LISTINGS": "many"})
    assert CommonLimits.from_env({}) == CommonLimits(5, 1)


def test_merge_split_and_their_undo_are_audited(
    factory: sessionmaker[Session], now: datetime
) -> None:
    with transaction(factory) as session:
        user = analyst(session, now)
        a = offer(session, now, "shop", "a", "wickr:alpha", "phone:+447700900001")
        b = offer(session, now, "forum", "b", "telegram:beta")
        seller_a, seller_b = seller_of(session, a).id, seller_of(session, b).id
        merge = merge_sellers(session, seller_a, seller_b, actor=user, now=now, note="same style")
        assert {seller_of(session, i).id for i in (a, b)} == {seller_a}
        with pytest.raises(SellerChangeRefused, match="was merged into"):
            merge_sellers(session, seller_b, seller_a, actor=user, now=now)

        split = split_identifier(session, seller_a, "phone:+447700900001", actor=user, now=now)
        phone = session.scalar(
            select(SellerIdentifier).where(SellerIdentifier.key == "phone:+447700900001")
        )
        assert phone is not None and phone.status == "split"
        assert phone.seller_id == split.other_seller_id
        # A new listing with the split phone beside the handle links nothing through the phone.
        c = offer(session, now, "forum", "c", "wickr:alpha", "phone:+447700900001")
        assert {s.id for s in sellers_of_listing(session, c)} == {seller_a, split.other_seller_id}
        assert session.get(Seller, seller_a).merged_into_id is None  # type: ignore[union-attr]

        undo_change(session, split.id, actor=user, now=now)
        assert phone.status == "linked" and phone.seller_id == seller_a
        with pytest.raises(SellerChangeRefused, match="undone already"):
            undo_change(session, split.id, actor=user, now=now)
        undo_change(session, merge.id, actor=user, now=now)
        assert seller_of(session, b).id == seller_b
        assert seller_of(session, a).id == seller_a

    with factory() as session:
        actions = session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.object_type == "seller")
            .order_by(AuditEvent.id)
        ).all()
        assert actions == [
            "seller.merged",
            "seller.split",
            "seller.split_undone",
            "seller.merge_undone",
        ]
        assert verify_chain(session) is None
        profile = seller_profile(session, session.get(Seller, seller_a))  # type: ignore[arg-type]
        assert sum(e.what == "change" for e in profile.timeline) == 4


def test_changes_that_cannot_be_made_are_refused_in_words(
    factory: sessionmaker[Session], now: datetime
) -> None:
    with transaction(factory) as session:
        user = analyst(session, now)
        a = seller_of(session, offer(session, now, "shop", "a", "wickr:alpha")).id
        b = seller_of(session, offer(session, now, "shop", "b", "wickr:beta")).id
        with pytest.raises(SellerChangeRefused, match="only identifier"):
            split_identifier(session, a, "wickr:alpha", actor=user, now=now)
        with pytest.raises(SellerChangeRefused, match="has no identifier"):
            split_identifier(session, a, "wickr:beta", actor=user, now=now)
        with pytest.raises(SellerChangeRefused, match="with itself"):
            merge_sellers(session, a, a, actor=user, now=now)
        with pytest.raises(SellerChangeRefused, match="no seller 999"):
            merge_sellers(session, a, 999, actor=user, now=now)
        first = merge_sellers(session, a, b, actor=user, now=now)
        c = seller_of(session, offer(session, now, "shop", "c", "wickr:gamma")).id
        merge_sellers(session, c, a, actor=user, now=now)
        # The first merge is built on: it is undone only after the second.
        with pytest.raises(SellerChangeRefused, match="merged into seller"):
            undo_change(session, first.id, actor=user, now=now)


def partition(session: Session) -> set[frozenset[str]]:
    rows = session.execute(
        select(SellerIdentifier.seller_id, SellerIdentifier.key).where(
            SellerIdentifier.seller_id.is_not(None)
        )
    )
    groups: dict[int, set[str]] = {}
    for seller_id, key in rows:
        groups.setdefault(seller_id or 0, set()).add(key)
    return {frozenset(keys) for keys in groups.values()}


def test_migration_0011_links_the_listings_stored_before_it(
    any_engine: Engine, factory: sessionmaker[Session], now: datetime
) -> None:
    example = "email:you@example.com"
    with transaction(factory) as session:
        offer(session, now, "classifieds", "ad/1", "telegram:bluecedar", "phone:+447700900482")
        offer(session, now, "forum", "t/9", "wickr:nightjar", "phone:+447700900482")
        for n in range(7):
            offer(session, now, f"site{n % 2}", f"x/{n}", f"telegram:seller{n}", example)
    with factory() as session:
        before = partition(session)
    assert frozenset({"telegram:bluecedar", "phone:+447700900482", "wickr:nightjar"}) in before

    downgrade(any_engine, "0010")
    upgrade(any_engine)

    with factory() as session:
        assert partition(session) == before
        row = session.scalar(select(SellerIdentifier).where(SellerIdentifier.key == example))
        assert row is not None and row.status == "common" and row.excluded_listings == 7
        (named,) = session.scalars(
            select(Seller.name).where(Seller.name.in_(["telegram:bluecedar", "wickr:nightjar"]))
        ).all()
        assert named == "telegram:bluecedar"  # named after the identifier seen first
