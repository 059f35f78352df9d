"""The listings page, a listing's own page, and opening a case by hand: who may, what is kept."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.views import listings
from review.workflow import NotPermitted, open_case_by_hand
from storage.models import AuditEvent, Case, User
from tests.review.review_testkit import NOW, Seed, assert_inert, parse, post

REASON = "Offer the scorer missed: the 'news' is a price list"


def rows(client: FlaskClient, query: str = "") -> list[int]:
    """Return the listing ids the listings page shows, in order."""
    response = client.get(f"/listings{query}")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return [int(i) for i in parse(response).xpath("//tr[@class='listing']/@data-listing-id")]


def errors(response: object) -> list[str]:
    page = parse(response)  # type: ignore[arg-type]
    return [" ".join(li.text_content().split()) for li in page.xpath("//li[@class='flash-error']")]


def cases_of(factory: sessionmaker[Session], listing_id: int) -> list[Case]:
    with factory() as session:
        return list(session.scalars(select(Case).where(Case.listing_id == listing_id)))


def opened_by_hand(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as session:
        query = select(AuditEvent).where(AuditEvent.action == "case.opened_by_hand")
        return list(session.scalars(query))


# ---------------------------------------------------------------- the listings page


def test_every_listing_is_listed_with_score_reasons_substances_and_case(
    analyst: FlaskClient, seed: Seed
) -> None:
    page = parse(analyst.get("/listings"))
    by_id = {int(tr.get("data-listing-id")): tr for tr in page.xpath("//tr[@class='listing']")}
    # Every seeded listing, and the week-old one the seed keeps no listing id of.
    assert set(seed.listings.values()) < set(by_id)
    assert len(by_id) == len(seed.listings) + 1
    news = by_id[seed.listings["news"]]
    assert news.xpath("string(td[@class='score'])").strip() == "0.50"
    assert "no case" in news.xpath("string(td[@class='case'])")
    assert news.xpath("td[@class='title']/a/@href") == [f"/listings/{seed.listings['news']}"]

    fentanyl = by_id[seed.listings["fentanyl"]]
    assert fentanyl.xpath("td[@class='case']/a/@href") == [f"/cases/{seed.cases['fentanyl']}"]
    assert fentanyl.xpath("td[@class='substances']//li/text()") == ["Fentanyl"]
    reasons = [
        " ".join(li.text_content().split()) for li in fentanyl.xpath("td[@class='reasons']//li")
    ]
    assert reasons == [
        "names fentanyl (fentanyl class, US Schedule II) +2.50",
        "states prices: USD 120 +1.20",
        "news report -0.75",
    ]
    assert "2026-11-25" in fentanyl.xpath("string(td[@class='first-seen'])")
    assert_inert(page)


def test_top_reasons_are_the_strongest_few_without_the_baseline() -> None:
    stored = [
        {"text": "baseline", "weight": -3.0},
        {"text": "small", "weight": 0.1},
        {"text": "news context", "weight": -2.0},
        {"text": "names fentanyl", "weight": 2.5},
        {"text": "only in a sidebar", "weight": 0.0},
        {"text": "prices", "weight": 1.0},
    ]
    shown = listings.top_reasons(stored)
    assert [(r.text, r.weight) for r in shown] == [
        ("names fentanyl", "+2.50"),
        ("news context", "-2.00"),
        ("prices", "+1.00"),
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?flag=unflagged", ["news"]),
        ("?case=without", ["news"]),
        ("?flag=flagged&case=without", []),
        ("?q=POLICE+warn", ["news"]),
        ("?q=item/1", ["nitazene"]),  # the URL
        ("?q=99%25", ["fentanyl"]),  # a literal % ...
        ("?q=_", []),  # ... and _, not wildcards
        ("?source=demo-market&flag=unflagged", ["news"]),
    ],
)
def test_the_filters_narrow_the_listings(
    analyst: FlaskClient, seed: Seed, query: str, expected: list[str]
) -> None:
    assert rows(analyst, query) == [seed.listings[key] for key in expected]


def test_listings_come_a_page_at_a_time_highest_score_first(
    analyst: FlaskClient, seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listings, "PAGE_SIZE", 2)
    assert rows(analyst, "?page=1") == [seed.listings["fentanyl"], seed.listings["nitazene"]]
    third = parse(analyst.get("/listings?page=3&flag="))
    assert third.xpath("//tr[@class='listing']/@data-listing-id") == [
        str(seed.listings["cathinone"]),
        str(seed.listings["news"]),
    ]
    assert "Page 3 of 3" in third.xpath("string(//nav[@class='pager'])")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("?page=abc", "Pages are numbered from 1, not 'abc': showing page 1."),
        ("?page=0", "Pages are numbered from 1, not '0': showing page 1."),
        ("?page=99999999999999999999", "Pages are numbered from 1"),
        ("?page=999", "There is no page 999: the last is page 1."),
        ("?source=bogus", "There is no source 'bogus': showing every source."),
        ("?flag=maybe", "Flag must be flagged or unflagged, not 'maybe'."),
        ("?case=both", "Case must be with or without, not 'both'."),
        ("?q=" + "x" * 201, "Search for at most 200 characters, not 201."),
    ],
)
def test_a_bad_value_re_renders_the_page_with_a_message(
    analyst: FlaskClient, seed: Seed, query: str, message: str
) -> None:
    response = analyst.get(f"/listings{query}")
    assert response.status_code == 400
    shown = errors(response)
    assert len(shown) == 1 and shown[0].startswith(message), shown
    # The page is still there, without the refused value.
    assert len(parse(response).xpath("//tr[@class='listing']")) == len(seed.listings) + 1


def test_a_bad_value_keeps_the_good_ones(analyst: FlaskClient, seed: Seed) -> None:
    response = analyst.get("/listings?flag=unflagged&source=bogus")
    assert response.status_code == 400
    page = parse(response)
    assert page.xpath("//tr[@class='listing']/@data-listing-id") == [str(seed.listings["news"])]
    assert page.xpath("//select[@id='flag']/option[@selected]/@value") == ["unflagged"]


# ---------------------------------------------------------------- who may see


def test_admins_see_no_listings_and_visitors_must_sign_in(
    app: Flask, admin: FlaskClient, seed: Seed
) -> None:
    listing = seed.listings["news"]
    for path in ("/listings", f"/listings/{listing}"):
        assert admin.get(path).status_code == 403
        anonymous = app.test_client().get(path)
        assert anonymous.status_code == 302
        assert anonymous.headers["Location"].startswith("/login")
    assert "/listings" not in admin.get("/sources").get_data(as_text=True)


def test_the_nav_links_analysts_and_legal_reviewers_to_the_listings(
    analyst: FlaskClient, legal: FlaskClient
) -> None:
    for client in (analyst, legal):
        nav = parse(client.get("/sources")).xpath("//nav[@class='topnav']/a/@href")
        assert "/listings" in nav


# ---------------------------------------------------------------- a listing's page


def test_a_listing_without_a_case_shows_text_reasons_versions_and_evidence(
    analyst: FlaskClient, seed: Seed
) -> None:
    listing = seed.listings["news"]
    response = analyst.get(f"/listings/{listing}")
    assert response.status_code == 200
    page = parse(response)
    assert "police warn about nitazenes" in page.xpath("string(//div[@class='listing-text'])")
    assert "Why it scored 0.50" in page.xpath("string(//section[@class='reasons']/h2)")
    assert page.xpath("//section[@class='versions']//a/@href")[0].startswith(
        f"/listings/{listing}?version="
    )
    # The seeded evidence file does not exist: the page says so instead of failing.
    assert "Not verifiable" in page.xpath("string(//section[@class='evidence'])")
    assert page.xpath("//iframe[@class='capture-frame']/@src")[0].startswith(
        f"/listings/{listing}/captures/"
    )
    assert page.xpath("//form[contains(@class,'open-case')]/@action") == [
        f"/listings/{listing}/case"
    ]
    assert page.xpath("//input[@id='open-reason']/@required") == [""]  # present
    assert_inert(page)


def test_a_listing_with_a_case_links_to_it_instead_of_offering_one(
    analyst: FlaskClient, seed: Seed
) -> None:
    page = parse(analyst.get(f"/listings/{seed.listings['fentanyl']}"))
    assert page.xpath("//a[@class='case-link']/@href") == [f"/cases/{seed.cases['fentanyl']}"]
    assert page.xpath("//form[contains(@class,'open-case')]") == []
    # Its older version is there too, with the diff the case page shows.
    assert len(page.xpath("//section[@class='versions']//li")) == 2
    older = page.xpath("//section[@class='versions']//li[2]/a/@href")[0]
    assert "You are looking at version" in parse(analyst.get(older)).text_content()


def test_legal_reviewers_see_a_listing_but_get_no_form(legal: FlaskClient, seed: Seed) -> None:
    page = parse(legal.get(f"/listings/{seed.listings['news']}"))
    assert page.xpath("//form[contains(@class,'open-case')]") == []
    assert "An analyst can open one." in page.xpath("string(//section[@class='actions'])")


def test_an_unknown_listing_version_or_capture_is_a_404(analyst: FlaskClient, seed: Seed) -> None:
    listing = seed.listings["news"]
    assert analyst.get("/listings/99999").status_code == 404
    assert analyst.get(f"/listings/{listing}?version=99999").status_code == 404
    assert analyst.get(f"/listings/{listing}/captures/99999").status_code == 404
    assert post(analyst, "/listings/99999/case", {"reason": REASON}).status_code == 404


def test_the_captured_page_of_a_listing_with_missing_evidence_renders_and_is_audited(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    listing = seed.listings["news"]
    src = parse(analyst.get(f"/listings/{listing}")).xpath("//iframe/@src")[0]
    response = analyst.get(src)
    assert response.status_code == 200
    assert "can't be shown" in response.get_data(as_text=True)
    assert "sandbox" in response.headers["Content-Security-Policy"]
    with factory() as session:
        viewed = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "evidence.viewed")
        ).all()
    assert [(e.actor, e.detail["listing_id"], e.detail["status"]) for e in viewed] == [
        ("ana", listing, "missing")
    ]


# ---------------------------------------------------------------- opening a case by hand


def test_an_analyst_opens_a_case_with_a_reason_and_it_is_audited(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    listing = seed.listings["news"]
    response = post(analyst, f"/listings/{listing}/case", {"reason": f"  {REASON}  "})

    [case] = cases_of(factory, listing)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/cases/{case.id}"
    assert (case.state, case.score, case.assignee_id) == ("new", 0.5, None)
    [event] = opened_by_hand(factory)
    assert (event.actor, event.object_type, event.object_id) == ("ana", "case", str(case.id))
    assert event.detail["reason"] == REASON
    assert event.detail["listing_id"] == listing
    page = parse(analyst.get(f"/cases/{case.id}"))
    assert f"Case {case.id} opened for listing {listing}." in page.text_content()
    assert "case.opened_by_hand" in page.xpath("string(//section[@class='history'])")
    # The listing now links to its case, and the listings page says so.
    assert rows(analyst, "?case=without") == []


@pytest.mark.parametrize(
    ("reason", "message"),
    [("", "needs a reason"), ("   ", "needs a reason"), ("x" * 501, "at most 500")],
)
def test_opening_a_case_without_a_fitting_reason_re_renders_the_form(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed, reason: str, message: str
) -> None:
    listing = seed.listings["news"]
    response = post(analyst, f"/listings/{listing}/case", {"reason": reason})
    assert response.status_code == 400
    assert any(message in text for text in errors(response)), errors(response)
    page = parse(response)
    assert page.xpath("//input[@id='open-reason']/@value") == [reason]
    assert cases_of(factory, listing) == []
    assert opened_by_hand(factory) == []


def test_a_legal_reviewer_may_not_open_a_case(
    legal: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    listing = seed.listings["news"]
    assert post(legal, f"/listings/{listing}/case", {"reason": REASON}).status_code == 403
    assert cases_of(factory, listing) == []
    with factory() as session:
        denied = session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "auth.denied")
        ).all()
    assert denied == ["lee"]


def test_a_listing_with_a_case_gets_no_second_one(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    listing = seed.listings["fentanyl"]
    response = post(analyst, f"/listings/{listing}/case", {"reason": REASON})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/cases/{seed.cases['fentanyl']}"
    assert [c.id for c in cases_of(factory, listing)] == [seed.cases["fentanyl"]]
    assert opened_by_hand(factory) == []
    page = analyst.get(response.headers["Location"])
    assert errors(page) == [
        f"No case was opened: listing {listing} already has case {seed.cases['fentanyl']}."
    ]


def test_the_workflow_refuses_a_disabled_analyst_and_other_roles(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    with factory() as session:
        for username in ("old", "lee", "adm"):
            actor = session.get(User, seed.users[username])
            assert actor is not None
            with pytest.raises(NotPermitted):
                open_case_by_hand(
                    session, seed.listings["news"], actor=actor, now=NOW, reason=REASON
                )
        assert (
            session.scalars(select(Case).where(Case.listing_id == seed.listings["news"])).all()
            == []
        )
