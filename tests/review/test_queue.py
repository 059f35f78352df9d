"""The queue's query values, order and bulk changes, read as parsed HTML."""

from __future__ import annotations

from typing import Any

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from storage.models import Case
from tests.review.review_testkit import Seed, parse, post, signed_in


def case_ids(page: lxml.html.HtmlElement) -> list[int]:
    return [int(i) for i in page.xpath("//tr[@class='case']/@data-case-id")]


def errors(page: lxml.html.HtmlElement) -> list[str]:
    return [li.text_content().strip() for li in page.xpath("//ul[@role='alert']/li")]


def checked(page: lxml.html.HtmlElement) -> set[int]:
    return {int(i) for i in page.xpath("//tr[@class='case']//input[@checked]/@value")}


def states(factory: sessionmaker[Session], ids: list[int]) -> list[str]:
    with factory() as session:
        return [session.get(Case, i).state for i in ids]


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("state=pending", "There is no case state 'pending'; showing new."),
        ("class=bogus", "There is no substance class 'bogus'; showing any class."),
        ("source=elsewhere", "There is no source 'elsewhere'; showing every source."),
        ("assignee=ghost", "There is no user 'ghost'; showing anyone's cases."),
        ("since=2026-13-01", "“Flagged from” must be a date such as 2026-11-25, not '2026-13-01'"),
        ("until=soon", "“to” must be a date such as 2026-11-25, not 'soon'; it was left out."),
        (
            "since=2026-11-30&until=2026-11-01",
            "“Flagged from” (2026-11-30) is after “to” (2026-11-01); the dates were left out.",
        ),
        ("sort=price", "There is no column to sort by 'price'; showing by score."),
        ("dir=up", "There is no sort direction 'up'; showing the usual one."),
    ],
)
def test_a_value_the_queue_cant_use_is_named_and_left_out(
    analyst: FlaskClient, seed: Seed, query: str, message: str
) -> None:
    response = analyst.get(f"/?{query}")

    assert response.status_code == 400
    page = parse(response)
    assert len(errors(page)) == 1 and errors(page)[0].startswith(message)
    assert len(case_ids(page)) == 5  # the new cases, as without the value
    assert page.xpath("//section[@class='error']") == []
    exports = page.xpath("//a[@class='export']/@href")
    assert exports[0] == "/exports/cases.csv?state=new"  # the bad value is not carried on


def test_the_queue_sorts_by_any_column_and_says_which(analyst: FlaskClient, seed: Seed) -> None:
    post(analyst, f"/cases/{seed.cases['cathinone']}/assign")

    by_score = parse(analyst.get("/?sort=score&dir=asc"))
    by_assignee = parse(analyst.get("/?sort=assignee&dir=asc"))
    default = parse(analyst.get("/"))

    scores = [float(s) for s in by_score.xpath("//tr[@class='case']/td[@class='score']/text()")]
    assert scores == sorted(scores)
    assert by_score.xpath("//th[@aria-sort]/@aria-sort") == ["ascending"]
    assert by_score.xpath("string(//th[@aria-sort]/a/@href)") == "/?sort=score&dir=desc&state=new"
    assert case_ids(by_assignee)[0] == seed.cases["cathinone"]  # unassigned ones after
    assert by_assignee.xpath("string(//th[@aria-sort])").startswith("Assignee")
    assert default.xpath("//th[@aria-sort]/@aria-sort") == ["descending"]
    assert by_score.xpath("//a[@class='export']/@href")[0] == (
        "/exports/cases.csv?sort=score&dir=asc&state=new"
    )


def bulk(client: FlaskClient, action: str, ids: list[int], **fields: Any) -> Any:
    return post(
        client,
        "/cases/bulk",
        {"case_ids": [str(i) for i in ids], "action": action, "next": "/?state=new", **fields},
    )


def test_bulk_confirm_asks_first_then_confirms_all(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    ids = [seed.cases["fentanyl"], seed.cases["cathinone"]]

    asked = bulk(analyst, "confirm", ids)

    assert asked.status_code == 200
    page = parse(asked)
    assert page.xpath("string(//form[@id='bulk-confirm']//h2)") == "Confirm 2 cases?"
    assert checked(page) == set(ids)  # the selection, kept
    assert states(factory, ids) == ["new", "new"]
    yes = {
        name: page.xpath(f"//form[@id='bulk-confirm']//input[@name='{name}']/@value")
        for name in ("case_ids", "action", "confirmed", "next")
    }

    done = post(analyst, "/cases/bulk", yes)

    assert done.status_code == 302
    assert done.headers["Location"] == "/?state=new"
    assert states(factory, ids) == ["confirmed", "confirmed"]
    label = parse(analyst.get("/")).xpath("string(//span[@class='undo-label'])")
    assert label == "2 cases confirmed"


def test_bulk_assign_takes_every_selected_case_for_legal_too(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    ids = [seed.cases["fentanyl"], seed.cases["nitazene"]]
    legal = signed_in(app, "lee")

    response = bulk(legal, "assign", ids, confirmed="1")

    assert response.status_code == 302
    with factory() as session:
        assert {session.get(Case, i).assignee_id for i in ids} == {seed.users["lee"]}
    assert bulk(legal, "confirm", ids, confirmed="1").status_code == 403


def test_bulk_dismiss_without_a_reason_shows_the_queue_with_the_selection(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    ids = [seed.cases["fentanyl"], seed.cases["nitazene"]]

    response = bulk(analyst, "dismiss", ids, note="  ", confirmed="1")

    assert response.status_code == 400
    page = parse(response)
    assert errors(page) == ["Dismissing needs a reason: pick one from the list or write one."]
    assert checked(page) == set(ids)
    assert page.xpath("//form[@id='bulk-form']/@data-kept") == ["1"]
    assert page.xpath("//section[@class='error']") == []
    assert states(factory, ids) == ["new", "new"]


def test_a_bulk_change_that_cant_be_made_changes_nothing_and_says_why(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    ids = [seed.cases["fentanyl"], seed.cases["nitazene"]]
    post(analyst, f"/cases/{ids[1]}/transition", {"to": "confirmed"})

    response = bulk(analyst, "confirm", ids, confirmed="1")

    assert response.status_code == 409
    page = parse(response)
    assert errors(page) == [
        f"Nothing was changed: case {ids[1]} is confirmed; it can't become confirmed."
    ]
    assert states(factory, ids) == ["new", "confirmed"]
    nothing = parse(bulk(analyst, "confirm", []))
    assert errors(nothing) == ["Select at least one case first (the boxes in the first column)."]


@pytest.mark.parametrize("direction", ["asc", "desc"])
@pytest.mark.parametrize("column", ["score", "first_seen", "source", "state", "assignee"])
def test_every_column_sorts_both_ways(
    analyst: FlaskClient, seed: Seed, column: str, direction: str
) -> None:
    response = analyst.get(f"/?state=all&sort={column}&dir={direction}")

    assert response.status_code == 200
    page = parse(response)
    assert len(case_ids(page)) == 5
    expected = "ascending" if direction == "asc" else "descending"
    assert page.xpath("//th[@aria-sort]/@aria-sort") == [expected]
