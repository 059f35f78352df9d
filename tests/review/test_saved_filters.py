"""Saved queue filters: what is kept, which names are refused, whose filters a user reaches."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.db import transaction
from storage.models import AuditEvent, SavedFilter
from storage.saved_filters import add_saved_filter
from tests.review.review_testkit import NOW, Seed, parse, post, signed_in


def errors(response: object) -> list[str]:
    page = parse(response)  # type: ignore[arg-type]
    return [" ".join(li.text_content().split()) for li in page.xpath("//li[@class='flash-error']")]


def filters(factory: sessionmaker[Session]) -> list[tuple[int, str, str]]:
    with factory() as session:
        rows = session.scalars(select(SavedFilter).order_by(SavedFilter.id))
        return [(row.user_id, row.name, row.query) for row in rows]


def events(factory: sessionmaker[Session], action: str) -> list[AuditEvent]:
    with factory() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def save(client: FlaskClient, name: str, query: str) -> object:
    return post(client, "/filters", {"name": name, "query": query})


def saved_id(factory: sessionmaker[Session], name: str) -> int:
    with factory() as session:
        found = session.scalar(select(SavedFilter.id).where(SavedFilter.name == name))
        assert found is not None
        return found


def test_saving_keeps_the_filter_as_the_queue_read_it(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    # A page number and keys the queue does not know are not part of a filter.
    query = f"page=2&dir=asc&bogus=1&source={seed.source_id}&sort=score&state=all"

    response = save(analyst, "  Demo market, lowest first ", query)

    kept = f"source={seed.source_id}&sort=score&dir=asc&state=all"
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response.headers["Location"] == f"/?{kept}"  # type: ignore[attr-defined]
    assert filters(factory) == [(seed.users["ana"], "Demo market, lowest first", kept)]
    [event] = events(factory, "user.filter_saved")
    assert event.actor == "ana" and event.object_type == "saved_filter"
    assert event.detail == {"name": "Demo market, lowest first", "query": kept}
    notices = parse(analyst.get(f"/?{kept}")).xpath("string(//ul[@role='status'])")
    assert "Filter “Demo market, lowest first” saved." in notices


def test_the_queue_lists_saved_filters_and_opens_them(
    analyst: FlaskClient, factory: sessionmaker[Session]
) -> None:
    save(analyst, "escalated", "state=escalated")
    save(analyst, "all by state", "sort=state&state=all")
    escalated = saved_id(factory, "escalated")

    page = parse(analyst.get("/"))
    links = page.xpath("//nav[@class='saved-filter-list']/a[@class='saved-filter']")
    assert [(a.text, a.get("href")) for a in links] == [
        ("all by state", f"/filters/{saved_id(factory, 'all by state')}"),
        ("escalated", f"/filters/{escalated}"),
    ]
    assert page.xpath("//nav[@class='saved-filter-list']//*[@aria-current]") == []
    # The save form carries the query the queue shows now.
    assert page.xpath(
        "string(//form[contains(@class, 'save-filter')]/input[@name='query']/@value)"
    ) == ("state=new")

    opened = analyst.get(f"/filters/{escalated}")

    assert opened.status_code == 302 and opened.headers["Location"] == "/?state=escalated"
    queue = parse(analyst.get(opened.headers["Location"]))
    assert queue.xpath("//select[@id='state']/option[@selected]/@value") == ["escalated"]
    assert queue.xpath("//nav[@class='saved-filter-list']/a[@aria-current]/text()") == ["escalated"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "A filter's name has 1 to 80 characters"),
        ("    ", "A filter's name has 1 to 80 characters"),
        ("x" * 81, "A filter's name has 1 to 80 characters"),
        ("two\nlines", "A filter's name can't hold line breaks or control characters"),
    ],
)
def test_a_bad_name_shows_the_queue_again_with_the_message(
    analyst: FlaskClient, factory: sessionmaker[Session], name: str, message: str
) -> None:
    response = save(analyst, name, "state=confirmed&sort=source")

    assert response.status_code == 400  # type: ignore[attr-defined]
    assert errors(response) == [message]
    page = parse(response)  # type: ignore[arg-type]
    assert page.xpath("//select[@id='state']/option[@selected]/@value") == ["confirmed"]
    assert page.xpath("string(//input[@id='filter-name']/@value)") == name  # kept to correct
    assert filters(factory) == []
    assert events(factory, "user.filter_saved") == []


def test_a_name_is_unique_for_each_user(
    app: Flask, analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    assert save(analyst, "mine", "state=new").status_code == 302  # type: ignore[attr-defined]

    again = save(analyst, "mine", "state=all")
    legal = signed_in(app, "lee")
    other = save(legal, "mine", "state=escalated")

    assert again.status_code == 400  # type: ignore[attr-defined]
    assert errors(again) == ["You have a filter named 'mine' already; pick another name"]
    assert parse(again).xpath("string(//input[@id='filter-name']/@value)") == "mine"  # type: ignore[arg-type]
    assert other.status_code == 302  # type: ignore[attr-defined]
    assert filters(factory) == [
        (seed.users["ana"], "mine", "state=new"),
        (seed.users["lee"], "mine", "state=escalated"),
    ]


def test_a_filter_the_queue_cant_use_is_not_saved(
    analyst: FlaskClient, factory: sessionmaker[Session]
) -> None:
    response = save(analyst, "pending", "state=pending&since=2026-13-01")

    assert response.status_code == 400  # type: ignore[attr-defined]
    assert errors(response) == [
        "This filter has values the queue can't use; nothing was saved",
        "There is no case state 'pending'; showing new.",
        "“Flagged from” must be a date such as 2026-11-25, not '2026-13-01'; it was left out.",
    ]
    assert filters(factory) == []


def test_a_saved_filter_is_checked_again_when_opened(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    # Saved when the source existed; it is gone since.
    with transaction(factory) as session:
        saved = add_saved_filter(
            session, user_id=seed.users["ana"], name="gone", query="source=gone&state=new", now=NOW
        )
        filter_id = saved.id

    response = analyst.get(f"/filters/{filter_id}", follow_redirects=True)

    assert response.status_code == 400
    assert errors(response) == ["There is no source 'gone'; showing every source."]


def test_another_users_filter_cant_be_opened_or_deleted(
    app: Flask, analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    save(analyst, "ana's", "state=all")
    filter_id = saved_id(factory, "ana's")
    legal = signed_in(app, "lee")

    opened = legal.get(f"/filters/{filter_id}")
    deleted = post(legal, f"/filters/{filter_id}/delete")

    assert (opened.status_code, deleted.status_code) == (404, 404)
    assert f"You have no saved filter {filter_id}." in parse(opened).xpath("string(//main)")
    assert filters(factory) == [(seed.users["ana"], "ana's", "state=all")]
    assert events(factory, "user.filter_deleted") == []
    assert parse(legal.get("/")).xpath("//a[@class='saved-filter']") == []
    assert parse(legal.get("/settings")).xpath("//tr[@class='saved-filter-row']") == []


def test_a_filter_is_deleted_from_the_settings_page(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    save(analyst, "Demo, by score", f"source={seed.source_id}&sort=score&state=all")
    save(analyst, "kept", "state=all")
    filter_id = saved_id(factory, "Demo, by score")

    page = parse(analyst.get("/settings"))
    [row] = page.xpath(f"//tr[@data-filter-id='{filter_id}']")
    assert row.xpath("string(td[@data-label='Selects'])") == (
        f"source: {seed.source_id} · sort: score · state: all"
    )
    assert row.xpath("string(.//form/@action)") == f"/filters/{filter_id}/delete"

    response = post(analyst, f"/filters/{filter_id}/delete")

    assert response.status_code == 302 and response.headers["Location"] == "/settings"
    assert [name for _user, name, _query in filters(factory)] == ["kept"]
    [event] = events(factory, "user.filter_deleted")
    assert event.actor == "ana" and event.object_id == str(filter_id)
    assert event.detail["name"] == "Demo, by score"
    after = parse(analyst.get("/settings"))
    assert "Saved filter “Demo, by score” deleted." in after.xpath("string(//ul[@role='status'])")
    assert len(after.xpath("//tr[@class='saved-filter-row']")) == 1
    assert post(analyst, f"/filters/{filter_id}/delete").status_code == 404


def test_a_filter_name_is_shown_as_text(
    analyst: FlaskClient, factory: sessionmaker[Session]
) -> None:
    name = '<img src=x onerror="alert(1)">'
    save(analyst, name, "state=new")

    queue, settings = parse(analyst.get("/")), parse(analyst.get("/settings"))

    assert queue.xpath("//a[@class='saved-filter']/text()") == [name]
    assert settings.xpath("//tr[@class='saved-filter-row']//a/text()") == [name]
    assert queue.xpath("//img") == [] and settings.xpath("//img") == []


def test_admins_have_no_filters_to_save(admin: FlaskClient) -> None:
    page = parse(admin.get("/settings"))

    assert page.xpath("//section[@class='saved']") == []
    assert page.xpath("//select[@id='time-zone']")
