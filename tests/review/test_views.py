"""The queue and the case page, read as parsed HTML; stored attack strings stay inert."""

from __future__ import annotations

import lxml.html
import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from review.views import queue as queue_view
from storage.models import Case
from tests.review.review_testkit import (
    PASSWORD,
    XSS_IMG,
    XSS_TITLE,
    XSS_URL,
    Seed,
    assert_inert,
    login,
    parse,
)


def queue_rows(page: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    return page.xpath("//table[contains(@class, 'cases')]/tbody/tr")


def test_the_queue_lists_new_cases_by_score(analyst: FlaskClient, seed: Seed) -> None:
    rows = queue_rows(parse(analyst.get("/")))

    scores = [float(row.xpath("string(td[@class='score'])")) for row in rows]
    assert scores == [9.1, 7.5, 6.0, 5.0, 4.2]
    first = rows[0]
    assert first.xpath("string(td[@class='title']/a)") == "Fentanyl powder 99% (50g)"
    assert first.xpath("td[@class='title']/a/@href") == [f"/cases/{seed.cases['fentanyl']}"]
    assert first.xpath("string(td[@class='source'])") == "Demo Market <b>"
    assert first.xpath("td[@class='first-seen']/time/@datetime") == ["2026-11-25T11:00:00+00:00"]
    badges = first.xpath("td[@class='substances']//li")
    assert [(b.text, b.get("class")) for b in badges] == [("Fentanyl", "badge cls-opioid")]
    assert "news" not in seed.cases  # not an offer: no case, not in the queue


def test_the_queue_filters_by_state(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    with factory() as session, session.begin():
        case = session.get(Case, seed.cases["nitazene"])
        assert case is not None
        case.state = "dismissed"

    new_titles = [
        r.xpath("string(td[@class='title'])") for r in queue_rows(parse(analyst.get("/")))
    ]
    page = parse(analyst.get("/?state=dismissed"))
    all_rows = queue_rows(parse(analyst.get("/?state=all")))

    assert "Protonitazene HCl" not in new_titles
    assert [r.xpath("string(td[@class='title'])") for r in queue_rows(page)] == [
        "Protonitazene HCl"
    ]
    assert page.xpath("//select[@name='state']/option[@selected]/@value") == ["dismissed"]
    assert len(all_rows) == 5


def test_the_queue_pages(analyst: FlaskClient, seed: Seed, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(queue_view, "PAGE_SIZE", 2)

    first = parse(analyst.get("/"))
    third = parse(analyst.get("/?page=3"))

    assert [r.xpath("string(td[@class='score'])") for r in queue_rows(first)] == ["9.10", "7.50"]
    assert first.xpath("//a[@rel='next']/@href") == ["/?page=2&state=new"]
    assert [r.xpath("string(td[@class='score'])") for r in queue_rows(third)] == ["4.20"]
    assert third.xpath("//a[@rel='next']") == []
    assert queue_rows(third)[0].xpath("string(td[@class='rank'])") == "5"


@pytest.mark.parametrize("query", ["state=pending", "page=0", "page=-1"])
def test_the_queue_refuses_bad_parameters(analyst: FlaskClient, query: str) -> None:
    assert analyst.get(f"/?{query}").status_code == 400


def test_the_legal_role_sees_the_queue_of_escalated_cases_first(
    client: FlaskClient, seed: Seed
) -> None:
    login(client, "lee", PASSWORD)

    page = parse(client.get("/"))
    assert page.xpath("//select[@name='state']/option[@selected]/@value") == ["escalated"]
    assert queue_rows(page) == []
    assert len(queue_rows(parse(client.get("/?state=new")))) == 5


def test_the_case_page_marks_mentions_and_indicators(analyst: FlaskClient, seed: Seed) -> None:
    page = parse(analyst.get(f"/cases/{seed.cases['fentanyl']}"))

    (text,) = page.xpath("//div[@class='listing-text']")
    (mention,) = text.xpath(".//mark[contains(concat(' ', @class, ' '), ' mention ')]")
    assert mention.text_content() == "fentanyl"
    assert mention.get("class") == "mention cls-opioid"
    assert mention.get("data-concept") == "fentanyl"
    indicators = text.xpath(".//mark[contains(@class, 'indicator')]")
    assert [(m.get("class"), m.text_content()) for m in indicators] == [
        ("indicator ind-purity", "99% purity"),
        ("indicator ind-bulk", "10g minimum"),
        ("indicator ind-shipping", "Stealth shipping"),
        ("indicator ind-contact", "wickr: chemking"),
    ]
    assert text.text_content().endswith("Now also in 50g.")


def test_the_case_page_keeps_overlapping_spans_well_nested(
    analyst: FlaskClient, seed: Seed
) -> None:
    page = parse(analyst.get(f"/cases/{seed.cases['nitazene']}"))

    (text,) = page.xpath("//div[@class='listing-text']")
    mentions = text.xpath(".//mark[contains(@class, 'mention')]")
    analogue = text.xpath(".//mark[contains(@class, 'ind-analogue')]")
    assert "".join(m.text_content() for m in mentions) == "Protonitazene"
    assert "".join(m.text_content() for m in analogue) == "nitazene HCl"
    assert text.text_content().startswith("Protonitazene HCl for sale, $250 per 5g.")


def test_the_case_page_shows_score_fields_evidence_and_versions(
    analyst: FlaskClient, seed: Seed
) -> None:
    page = parse(analyst.get(f"/cases/{seed.cases['fentanyl']}"))

    reasons = [
        (
            li.xpath("string(span[@class='reason-text'])"),
            li.xpath("string(span[@class='points'])"),
        )
        for li in page.xpath("//section[@class='reasons']//li")
    ]
    assert reasons == [
        ("names fentanyl (fentanyl class, US Schedule II)", "+2.50"),
        ("states prices: USD 120", "+1.20"),
        ("news report", "-0.75"),
    ]
    fields = dict(
        zip(
            page.xpath("//section[@class='fields']//dt/text()"),
            page.xpath("//section[@class='fields']//dd/text()"),
            strict=True,
        )
    )
    assert fields == {"price": "$120/g", "seller": "chemking", "posted": "2026-11-20"}
    assert page.xpath("string(//code[@class='sha256'])") == "ab" * 32
    assert page.xpath("string(//code[@class='warc'])") == "evidence/run.warc.gz"
    assert page.xpath("//a[@class='listing-url']/@href") == ["http://127.0.0.1:8421/item/0"]
    versions = page.xpath("//section[@class='versions']//li")
    assert len(versions) == 2
    assert versions[0].get("class") == "current"


def test_the_case_page_shows_an_older_version_on_request(analyst: FlaskClient, seed: Seed) -> None:
    latest = parse(analyst.get(f"/cases/{seed.cases['fentanyl']}"))
    older_link = latest.xpath("//section[@class='versions']//li[2]/a/@href")[0]

    older = parse(analyst.get(older_link))

    assert "Now also in 50g" not in older.xpath("string(//div[@class='listing-text'])")
    assert older.xpath("//p[@class='alert']")
    assert analyst.get(f"/cases/{seed.cases['nitazene']}?version=1").status_code == 404


def test_attack_strings_stored_in_a_listing_render_inert(analyst: FlaskClient, seed: Seed) -> None:
    queue_page = parse(analyst.get("/"))
    case_page = parse(analyst.get(f"/cases/{seed.cases['xss']}"))

    assert_inert(queue_page)
    assert_inert(case_page)
    # The payloads are shown as text, so an analyst can read them.
    assert XSS_TITLE in queue_page.xpath("string(//table)")
    assert XSS_TITLE in case_page.xpath("string(//h1)")
    assert XSS_IMG in case_page.xpath("string(//div[@class='listing-text'])")
    assert XSS_IMG in case_page.xpath("string(//section[@class='fields'])")
    assert case_page.xpath("//a[@class='listing-url']") == []
    assert case_page.xpath("string(//code[contains(@class, 'listing-url')])") == XSS_URL
    # Attribute values from the database can't break out of their attribute.
    marks = case_page.xpath("//div[@class='listing-text']//mark[contains(@class, 'mention')]")
    assert {m.get("data-concept") for m in marks} == {'x" onmouseover="alert(1)', "img"}
    assert {m.get("class") for m in marks} == {
        "mention cls-script-alert-4-script",
        "mention cls-opioid",
    }
