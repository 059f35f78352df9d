"""Routes in the review app: the trends page's table (escaped), the digest's parts, the exports
(JSON, CSV, STIX, MISP)."""

from __future__ import annotations

import csv
import io

import lxml.html
import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from review.digest.build import build_digest
from review.digest.render import render_html, render_text
from review.digest.routes import place_label, place_name, route_label
from review.misp import misp_event
from review.stix import stix_bundle
from storage.cases import cases_with_details
from storage.db import transaction
from storage.models import Case, Indicator
from tests.review.review_testkit import NOW, WEEK, XSS_IMG, XSS_TITLE, Seed, assert_inert, parse
from tests.review.test_exports import validate
from tests.review.test_misp import DESCRIBE_TYPES, loaded, set_state

ROUTES = {
    "nitazene": ("from:CN", "to:US", "to:EU", "by:EMS"),
    "fentanyl": ("from:CN", "to:US", "to:WORLD", "by:DHL"),
    "xss": (f"from:{XSS_TITLE}", f"by:{XSS_IMG}"),
}


def add_routes(
    factory: sessionmaker[Session], seed: Seed, routes: dict[str, tuple[str, ...]]
) -> None:
    """Give the latest version of seeded listings route indicators, as extraction stores them."""
    with transaction(factory) as session:
        for key, values in routes.items():
            case = session.get(Case, seed.cases[key])
            assert case is not None
            version = case.listing.versions[-1]
            for value in values:
                version.indicators.append(
                    Indicator(kind="route", start=0, end=4, text=version.text[:4], value=value)
                )


@pytest.fixture
def routed(factory: sessionmaker[Session], seed: Seed) -> Seed:
    add_routes(factory, seed, ROUTES)
    return seed


def route_row(page: lxml.html.HtmlElement, origin: str, destination: str) -> lxml.html.HtmlElement:
    (row,) = page.xpath(
        "//table[contains(@class, 'route-table')]//tr[@data-origin=$o][@data-destination=$d]",
        o=origin,
        d=destination,
    )
    return row


# ---------------------------------------------------------------- names


def test_places_are_named_beside_their_codes() -> None:
    assert [place_name(c) for c in ("CN", "US", "KR", "EU", "WORLD", "")] == [
        "China",
        "United States",
        "South Korea",
        "European Union",
        "worldwide",
        "unknown",
    ]
    assert place_name("XX") == "XX" and place_name("<b>") == "<b>"
    assert route_label("CN", "") == "CN China → ?"
    assert route_label("", "WORLD") == "? → worldwide"
    assert place_label("EU") == "EU European Union"


# ---------------------------------------------------------------- trends page


def test_the_trends_page_shows_routes_by_class_and_week_with_names(
    analyst: FlaskClient, routed: Seed
) -> None:
    page = parse(analyst.get("/trends?weeks=2"))

    china_us = route_row(page, "CN", "US")
    assert china_us.xpath("string(td[@class='origin'])") == "CN China"
    assert china_us.xpath("string(td[@class='destination'])") == "US United States"
    assert china_us.xpath("string(td[contains(@class, 'listings')])") == "2"
    classes = {
        str(li.get("data-class")): int(li.get("data-listings"))
        for li in china_us.xpath(".//ul[@class='route-classes']/li")
    }
    assert classes == {"nitazene": 1, "opioid": 1}
    (week,) = china_us.xpath(".//li[@data-class='nitazene']//span[@class='class-week']")
    assert (week.get("data-week"), week.get("data-listings")) == (WEEK, "1")
    assert china_us.xpath(".//ul[contains(@class, 'week-counts')]/li/@data-week") == [WEEK]
    assert route_row(page, "CN", "WORLD").xpath("string(td[@class='destination'])") == "worldwide"
    assert route_row(page, "CN", "EU").xpath("string(td[@class='destination'])") == (
        "EU European Union"
    )
    # The old etizolam listing names no route: nothing from NL.
    assert not page.xpath("//tr[@data-origin='NL']")
    carriers = {
        str(row.get("data-carrier")): row.xpath("string(td[contains(@class, 'listings')])")
        for row in page.xpath("//tr[@class='carrier']")
    }
    assert carriers == {"EMS": "1", "DHL": "1", XSS_IMG: "1"}


def test_a_side_not_named_is_a_question_mark_and_scraped_codes_render_inert(
    analyst: FlaskClient, routed: Seed
) -> None:
    response = analyst.get("/trends?weeks=1")

    page = lxml.html.fromstring(response.get_data(as_text=True))
    assert_inert(page)
    row = route_row(page, XSS_TITLE, "")
    assert row.xpath("string(td[@class='origin'])") == XSS_TITLE
    assert row.xpath("string(td[@class='destination'])") == "?"
    assert XSS_TITLE not in response.get_data(as_text=True)
    assert XSS_IMG in page.xpath("string(//table[@class='carrier-table'])")


def test_without_routes_the_page_says_so(analyst: FlaskClient, seed: Seed) -> None:
    page = parse(analyst.get("/trends"))

    assert not page.xpath("//table[contains(@class, 'route-table')]")
    assert "No listing on offer said where it ships" in page.xpath(
        "string(//section[@class='routes'])"
    )


# ---------------------------------------------------------------- digest


def test_the_digest_lists_the_weeks_top_routes_in_both_parts(
    factory: sessionmaker[Session], routed: Seed
) -> None:
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW)
    html, text = render_html(digest), render_text(digest)
    page = lxml.html.fromstring(html)

    assert (digest.routes[0].origin, digest.routes[0].destination) == ("CN", "US")
    assert digest.routes_total == 4
    (row,) = page.xpath("//table[@id='routes']//tr[@data-origin='CN'][@data-destination='US']")
    assert [" ".join(c.text_content().split()) for c in row.xpath("td")] == [
        "CN China",
        "US United States",
        "2",
        "nitazene 1, opioid 1",
    ]
    assert "EMS 1" in page.xpath("string(//*[@id='carriers'])")
    assert "   2  CN China -> US United States [nitazene 1, opioid 1]" in text
    assert "   1  CN China -> worldwide [opioid 1]" in text
    assert "   1  CN China -> EU European Union [nitazene 1]" in text
    assert "Carriers and methods: " in text and "EMS 1" in text
    # Scraped codes: escaped in HTML, as written in plain text.
    assert_inert(page)
    assert XSS_TITLE not in html and XSS_IMG not in html
    assert XSS_TITLE in page.xpath("string(//table[@id='routes'])")
    assert f"{XSS_TITLE} -> ?" in text


def test_a_week_without_routes_says_so(factory: sessionmaker[Session], seed: Seed) -> None:
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW)

    assert digest.routes == () and digest.carriers == ()
    assert "No listing on offer said where it ships" in render_text(digest)
    assert 'id="routes"' not in render_html(digest)


def test_the_digest_keeps_the_top_routes_and_counts_the_rest(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    many = tuple(f"to:{code}" for code in ("DE", "FR", "ES", "IT", "PT", "PL", "NL", "BE", "AT"))
    add_routes(factory, seed, {"nitazene": ("from:CN", *many), "cathinone": ("to:DE", "to:FR")})
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW)

    assert len(digest.routes) == 10 and digest.routes_total == 11
    assert [(r.destination, r.total) for r in digest.routes[:2]] == [("DE", 1), ("FR", 1)]
    assert "...and 1 more on the trends page." in render_text(digest)


# ---------------------------------------------------------------- exports


def test_json_and_csv_carry_the_routes(analyst: FlaskClient, routed: Seed) -> None:
    document = analyst.get("/exports/cases.json?state=all").get_json()
    body = analyst.get("/exports/cases.csv?state=all").get_data(as_text=True)

    records = {c["case_id"]: c for c in document["cases"]}
    assert records[routed.cases["nitazene"]]["routes"] == {
        "from": ["CN"],
        "to": ["US", "EU"],
        "by": ["EMS"],
    }
    assert records[routed.cases["cathinone"]]["routes"] == {"from": [], "to": [], "by": []}
    rows = {int(r["case_id"]): r for r in csv.DictReader(io.StringIO(body))}
    fentanyl = rows[routed.cases["fentanyl"]]
    assert (fentanyl["ships_from"], fentanyl["ships_to"], fentanyl["carriers"]) == (
        "CN",
        "US; WORLD",
        "DHL",
    )
    assert rows[routed.cases["cathinone"]]["ships_to"] == ""


def test_stix_has_the_routes_as_locations_related_to_the_indicator(
    factory: sessionmaker[Session], routed: Seed
) -> None:
    ids = [routed.cases["nitazene"], routed.cases["fentanyl"], routed.cases["xss"]]
    with factory() as session:
        bundle = stix_bundle(cases_with_details(session, ids), now=NOW)

    validate(bundle)
    locations = {o["id"]: o for o in bundle["objects"] if o["type"] == "location"}
    # One object per place across cases; worldwide and a code naming no country are none.
    assert sorted(
        (o.get("country", ""), o.get("region", ""), o["name"]) for o in locations.values()
    ) == [
        ("", "europe", "European Union"),
        ("CN", "", "China"),
        ("US", "", "United States"),
    ]
    indicator = next(
        o
        for o in bundle["objects"]
        if o["type"] == "indicator" and "offering Protonitazene" in o["description"]
    )
    assert indicator["description"].endswith(
        "Ships from China (CN) to United States (US), European Union (EU) by EMS."
    )
    related = {
        (r["description"], locations[r["target_ref"]]["name"])
        for r in bundle["objects"]
        if r["type"] == "relationship"
        and r["source_ref"] == indicator["id"]
        and r["target_ref"] in locations
    }
    assert related == {
        ("ships from", "China"),
        ("ships to", "United States"),
        ("ships to", "European Union"),
    }
    (report,) = [o for o in bundle["objects"] if o["type"] == "report"]
    assert set(locations) <= set(report["object_refs"])
    fentanyl = next(
        o
        for o in bundle["objects"]
        if o["type"] == "indicator" and "offering Fentanyl" in o["description"]
    )
    assert "to United States (US), worldwide by DHL." in fentanyl["description"]


def test_misp_has_each_route_as_a_text_attribute_misp_loads(
    factory: sessionmaker[Session], routed: Seed
) -> None:
    add_routes(factory, routed, {"nitazene": ("to:CN",)})  # from and to China: two attributes
    set_state(factory, routed.cases["nitazene"], "confirmed")
    with factory() as session:
        (case,) = cases_with_details(session, [routed.cases["nitazene"]])
        event = loaded(misp_event(case))

    routes = [
        (a.value, a.comment)
        for a in event.attributes
        if a.type == "text" and not a.comment.startswith("substance")
    ]
    assert routes == [
        ("CN", "ship-from country: China"),
        ("US", "ship-to country: United States"),
        ("EU", "ship-to: European Union"),
        ("CN", "ship-to country: China"),
        ("EMS", "carrier or shipping method"),
    ]
    for attribute in event.attributes:
        assert attribute.type in DESCRIBE_TYPES["category_type_mappings"][attribute.category]
    assert len({a.uuid for a in event.attributes}) == len(event.attributes)
