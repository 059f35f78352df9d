"""The seller pages: what a seller's page shows, links to it, an analyst's merge, split and
undo (role-checked, CSRF-protected, audited), a seller as a MISP event, and scraped identifier
values rendered inert."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import lxml.html
import pymisp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from pymisp import MISPEvent
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.db import transaction
from storage.listings import AnalysisRecord, IndicatorRecord, MentionRecord
from storage.models import AuditEvent, Case, Seller, SellerChange, SellerIdentifier
from storage.seller_pages import sellers_of_listing
from storage.sources import upsert_source
from tests.factories import add_listing
from tests.review.review_testkit import NOW, Seed, assert_inert, parse, post, signed_in

DESCRIBE_TYPES = json.loads(
    (Path(pymisp.__file__).parent / "data" / "describeTypes.json").read_text()
)["result"]
PAYLOADS = [
    line
    for line in (Path(__file__).parents[1] / "fixtures" / "xss_payloads.txt")
    .read_text(encoding="utf-8")
    .splitlines()
    if line
]
PHONE = "phone:+447700900482"


@dataclass(frozen=True)
class Sellers:
    seller: int  # two handles on two sites, one phone
    other: int  # one handle elsewhere
    ad: int  # listing ids
    thread: int
    lone: int


def site(session: Session, source_id: str, name: str) -> None:
    upsert_source(
        session,
        source_id=source_id,
        name=name,
        config={"seeds": [f"http://127.0.0.1:8421/{source_id}/"]},
        scope_fingerprint="c" * 64,
        now=NOW - timedelta(days=3),
    )


def listing(session: Session, source_id: str, path: str, title: str, *keys: str) -> int:
    text = f"Isotonitazene 10mg tablets. Contact: {' '.join(keys)}"
    indicators = [
        IndicatorRecord("contact", text.index(k), text.index(k) + len(k), k, "", k) for k in keys
    ]
    mention = MentionRecord(
        "isotonitazene", "Isotonitazene", "nitazene", "CI", 0, 13, "Isotonitazene", 0.95
    )
    analysis = AnalysisRecord(score=8.0, offer=True, mentions=[mention], indicators=indicators)
    stored = add_listing(
        session,
        f"http://127.0.0.1:8421/{source_id}/{path}",
        NOW - timedelta(hours=2),
        source_id=source_id,
        text=text,
        title=title,
        analysis=analysis,
    )
    return stored.listing.id


@pytest.fixture
def sellers(factory: sessionmaker[Session], seed: Seed) -> Sellers:
    with transaction(factory) as session:
        site(session, "demo-classifieds", "Demo classifieds")
        site(session, "demo-forum", "Demo forum")
        ad = listing(
            session, "demo-classifieds", "ad/20415", "Iso tabs", "telegram:bluecedar_rc", PHONE
        )
        thread = listing(
            session, "demo-forum", "thread/3106", "Iso best price", "wickr:nightjar_supply", PHONE
        )
        lone = listing(session, "demo-forum", "thread/3107", "Other vendor", "wickr:lone_vendor")
        (seller,) = sellers_of_listing(session, ad)
        (other,) = sellers_of_listing(session, lone)
        return Sellers(seller.id, other.id, ad, thread, lone)


def test_the_seller_page_shows_what_links_the_listings(
    analyst: FlaskClient, sellers: Sellers, factory: sessionmaker[Session]
) -> None:
    page = parse(analyst.get(f"/sellers/{sellers.seller}"))

    identifiers = page.xpath("//li[@class='seller-identifier']/@data-key")
    assert identifiers == ["telegram:bluecedar_rc", PHONE, "wickr:nightjar_supply"]
    phone = page.xpath(f"//li[@data-key='{PHONE}']")[0].text_content()
    assert "phone +447700900482" in phone and "2 listings" in phone
    rows = page.xpath("//tr[@class='seller-listing']/@data-listing-id")
    assert rows == [str(sellers.ad), str(sellers.thread)]
    sites = page.xpath("string(//section[@class='seller-sites'])")
    assert "Demo classifieds · 1 listing" in sites and "Demo forum · 1 listing" in sites
    assert page.xpath("//section[@class='seller-substances']//li/@data-concept") == [
        "isotonitazene"
    ]
    with factory() as session:
        cases = {
            c.listing_id: c.id
            for c in session.scalars(select(Case).where(Case.listing_id.in_([sellers.ad])))
        }
    assert page.xpath("//a[@class='case-link']/@href")[0] == f"/cases/{cases[sellers.ad]}"
    timeline = [li.get("class") for li in page.xpath("//ol[@class='seller-timeline']/li")]
    assert timeline.count("timeline-first-seen") == 2
    assert timeline.count("timeline-case-opened") == 2
    # The case and listing pages link to the seller.
    case_page = parse(analyst.get(f"/cases/{cases[sellers.ad]}"))
    assert case_page.xpath("//a[@class='seller-link']/@href") == [f"/sellers/{sellers.seller}"]
    listing_page = parse(analyst.get(f"/listings/{sellers.lone}"))
    assert listing_page.xpath("//a[@class='seller-link']/@href") == [f"/sellers/{sellers.other}"]


def test_the_list_finds_a_seller_by_part_of_an_identifier(
    analyst: FlaskClient, sellers: Sellers
) -> None:
    page = parse(analyst.get("/sellers?q=900482"))
    assert page.xpath("//tr[@class='seller']/@data-seller-id") == [str(sellers.seller)]
    row = page.xpath("//tr[@class='seller']")[0]
    assert [td.text_content().strip() for td in row.xpath("td")[2:5]] == ["2", "2", "2"]
    everyone = parse(analyst.get("/sellers")).xpath("//tr[@class='seller']/@data-seller-id")
    assert str(sellers.other) in everyone and len(everyone) == 3  # the seed's one too
    nothing = parse(analyst.get("/sellers?q=%25"))
    assert nothing.xpath("//tr[@class='seller']") == []  # % is a character, not a wildcard


def test_an_analyst_merges_two_sellers_and_undoes_it(
    analyst: FlaskClient, sellers: Sellers, factory: sessionmaker[Session]
) -> None:
    response = post(
        analyst, f"/sellers/{sellers.seller}/merge", {"other": str(sellers.other), "note": "same"}
    )

    assert response.status_code == 302
    page = parse(analyst.get(response.headers["Location"]))
    assert str(sellers.lone) in page.xpath("//tr[@class='seller-listing']/@data-listing-id")
    assert "merged into seller" in page.text_content()
    # The merged seller's page leads to the one it became part of.
    moved = analyst.get(f"/sellers/{sellers.other}")
    assert moved.status_code == 302 and moved.headers["Location"] == f"/sellers/{sellers.seller}"
    with factory() as session:
        change = session.scalars(select(SellerChange)).one()
        (audit,) = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "seller.merged")
        ).all()
        assert audit.actor == "ana" and audit.detail["merged"] == sellers.other
        assert audit.detail["identifiers"] == ["wickr:lone_vendor"]

    undo = post(analyst, f"/sellers/changes/{change.id}/undo")

    assert undo.status_code == 302
    with factory() as session:
        assert [s.id for s in sellers_of_listing(session, sellers.lone)] == [sellers.other]
        assert session.get(SellerChange, change.id).undone_at is not None  # type: ignore[union-attr]
        actions = session.scalars(
            select(AuditEvent.action).where(AuditEvent.object_type == "seller")
        ).all()
        assert actions == ["seller.merged", "seller.merge_undone"]
    again = post(analyst, f"/sellers/changes/{change.id}/undo")
    assert again.status_code == 409 and b"undone already" in again.data.lower()


def test_an_analyst_splits_an_identifier_off_and_undoes_it(
    analyst: FlaskClient, sellers: Sellers, factory: sessionmaker[Session]
) -> None:
    response = post(analyst, f"/sellers/{sellers.seller}/split", {"key": PHONE})

    assert response.status_code == 302
    with factory() as session:
        row = session.scalar(select(SellerIdentifier).where(SellerIdentifier.key == PHONE))
        assert row is not None and row.status == "split" and row.seller_id != sellers.seller
        split_off = row.seller_id
        change = session.scalars(select(SellerChange)).one()
    page = parse(analyst.get(f"/sellers/{split_off}"))
    assert page.xpath("//li[@class='seller-identifier']/@data-key") == [PHONE]
    assert "split off by an analyst" in page.text_content()

    assert post(analyst, f"/sellers/changes/{change.id}/undo").status_code == 302
    with factory() as session:
        row = session.scalar(select(SellerIdentifier).where(SellerIdentifier.key == PHONE))
        assert row is not None and (row.status, row.seller_id) == ("linked", sellers.seller)


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"other": "abc"}, 400, b"must be a number"),
        ({"other": "0"}, 400, b"must be a number"),
        ({"other": "999999"}, 409, b"there is no seller 999999"),
        ({"other": "SELF"}, 409, b"merged with itself"),
    ],
)
def test_a_merge_that_cannot_be_made_says_why(
    analyst: FlaskClient, sellers: Sellers, form: dict[str, str], status: int, message: bytes
) -> None:
    data = {k: str(sellers.seller) if v == "SELF" else v for k, v in form.items()}
    response = post(analyst, f"/sellers/{sellers.seller}/merge", data)
    assert response.status_code == status
    assert message in response.data.lower()


def state(factory: sessionmaker[Session]) -> list[object]:
    with factory() as session:
        return [
            [(s.id, s.merged_into_id) for s in session.scalars(select(Seller))],
            [(i.key, i.seller_id, i.status) for i in session.scalars(select(SellerIdentifier))],
            session.scalars(select(SellerChange.id)).all(),
        ]


def test_a_legal_reviewer_reads_but_changes_nothing(
    app: Flask, sellers: Sellers, factory: sessionmaker[Session]
) -> None:
    legal = signed_in(app, "lee")
    assert legal.get(f"/sellers/{sellers.seller}").status_code == 200
    page = parse(legal.get(f"/sellers/{sellers.seller}"))
    assert page.xpath("//form[contains(@class, 'merge-seller')]") == []
    before = state(factory)

    response = post(legal, f"/sellers/{sellers.seller}/merge", {"other": str(sellers.other)})

    assert response.status_code == 403
    assert state(factory) == before
    with factory() as session:
        denied = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.denied"))
        assert [e.object_id for e in denied] == ["sellers.merge"]


@pytest.mark.parametrize("token", ["missing", "forged"])
def test_a_merge_without_the_session_s_token_changes_nothing(
    analyst: FlaskClient, sellers: Sellers, factory: sessionmaker[Session], token: str
) -> None:
    form = {"other": str(sellers.other)}
    if token == "forged":
        form["csrf_token"] = "IjEyMzQ1Njc4OTAi.forged.signature"
    before = state(factory)

    response = analyst.post(f"/sellers/{sellers.seller}/merge", data=form)

    assert response.status_code == 400
    assert state(factory) == before


def test_a_seller_with_a_confirmed_case_is_a_misp_event(
    analyst: FlaskClient, sellers: Sellers, factory: sessionmaker[Session]
) -> None:
    assert analyst.get(f"/sellers/{sellers.seller}/misp.json").status_code == 409
    with transaction(factory) as session:
        case = session.scalars(select(Case).where(Case.listing_id == sellers.thread)).one()
        case.state = "confirmed"
        case_id = case.id
    assert b"MISP event" in analyst.get(f"/sellers/{sellers.seller}").data

    response = analyst.get(f"/sellers/{sellers.seller}/misp.json")

    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    event = MISPEvent()
    event.load(response.get_data(as_text=True))
    assert event.info.startswith(f"SynthWatch seller {sellers.seller}:")
    values = {(a.type, a.value) for a in event.attributes}
    assert ("phone-number", "+447700900482") in values
    urls = {v for t, v in values if t == "url"}
    assert urls == {"http://127.0.0.1:8421/demo-forum/thread/3106"}  # the confirmed one only
    assert any(t == "sha256" for t, _ in values)
    for attribute in event.attributes:
        assert attribute.type in DESCRIBE_TYPES["category_type_mappings"][attribute.category]
    accounts = {
        o.get_attributes_by_relation("username")[0].value
        for o in event.objects
        if o.name == "user-account"
    }
    assert accounts == {"bluecedar_rc", "nightjar_supply"}
    for misp_object in event.objects:
        misp_object.to_dict(strict=True)
    assert 'synthwatch:substance-class="nitazene"' in [t.name for t in event.tags]
    assert any(a.comment.startswith(f"case {case_id}:") for a in event.attributes)
    with factory() as session:
        audit = session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "export.misp", AuditEvent.object_type == "seller"
            )
        ).one()
        assert audit.object_id == str(sellers.seller)
        assert audit.detail["event_uuid"] == str(event.uuid)
    # The same seller gives the same ids.
    assert analyst.get(f"/sellers/{sellers.seller}/misp.json").get_json() == response.get_json()


def test_unknown_sellers_and_changes_are_404s_and_409s(analyst: FlaskClient, seed: Seed) -> None:
    assert analyst.get("/sellers/999999").status_code == 404
    assert analyst.get("/sellers/999999/misp.json").status_code == 404
    assert post(analyst, "/sellers/changes/999999/undo").status_code == 409


def test_identifier_values_and_seller_names_render_inert(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    with transaction(factory) as session:
        site(session, "xss-a", "XSS A")
        site(session, "xss-b", "XSS B")
        for number, payload in enumerate(PAYLOADS):
            key = f"telegram:{payload}"[:320]
            # Each payload on two sites beside a phone of its own: one seller named after it.
            phone = f"phone:+4477009{number:05d}"
            listing(session, "xss-a", f"p/{number}", payload, key, phone)
            listing(session, "xss-b", f"p/{number}", payload, f"email:{payload}"[:320], phone)
        seller_ids = [
            s.id for s in session.scalars(select(Seller).where(Seller.name.like("telegram:%")))
        ]
        session.add(
            SellerIdentifier(
                key=f"telegram:{PAYLOADS[0]}x",
                status="common",
                first_seen=NOW,
                excluded_at=NOW,
                excluded_listings=9,
                excluded_sources=2,
            )
        )
    assert len(seller_ids) == len(PAYLOADS)
    analyst = signed_in(app, "ana")
    for path in ("/sellers", "/sellers?page=2", "/sellers/common", f"/sellers?q={PAYLOADS[0]}"):
        response = analyst.get(path)
        assert response.status_code == 200, path
        assert_inert(lxml.html.fromstring(response.get_data(as_text=True)))
    for seller_id in seller_ids:
        response = analyst.get(f"/sellers/{seller_id}")
        assert response.status_code == 200
        page = lxml.html.fromstring(response.get_data(as_text=True))
        try:
            assert_inert(page)
        except AssertionError as error:
            raise AssertionError(f"seller {seller_id}: {error}") from error
        name = page.xpath("string(//span[@class='seller-name'])")
        with factory() as session:
            seller = session.get(Seller, seller_id)
            assert seller is not None
            assert name == "telegram " + seller.name.partition(":")[2]  # shown as text
