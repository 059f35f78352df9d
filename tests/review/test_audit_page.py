"""The audit page reads as text: details as key/value pairs, repeated views as one line."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from storage.audit import append_event
from storage.db import transaction
from storage.models import User
from tests.review.review_testkit import NOW, Seed, parse


def add_rows(
    factory: sessionmaker[Session], rows: list[tuple[str, str, dict[str, object]]]
) -> None:
    """Append (username, action, detail) rows, a minute apart, oldest first."""
    with transaction(factory) as session:
        for minute, (username, action, detail) in enumerate(rows):
            user = session.scalars(select(User).where(User.username == username)).one()
            append_event(
                session,
                action=action,
                object_type="capture",
                object_id=7,
                actor=user,
                now=NOW + timedelta(minutes=minute),
                detail=detail,
            )


def test_details_read_as_key_value_text(
    admin: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    detail = {
        "legal_basis": "public <b>site</b>",
        "scope": {"seeds": ["https://a.example/", "https://b.example/"]},
        "signed_in": False,
    }
    add_rows(factory, [("lee", "test.detail", detail)])

    (cell,) = parse(admin.get("/audit?action=test.detail")).xpath("//td[@class='detail']")

    pairs = dict(zip(cell.xpath(".//dt/text()"), cell.xpath(".//dd/text()"), strict=True))
    assert pairs == {
        "legal basis": "public <b>site</b>",
        "scope": "seeds: https://a.example/, https://b.example/",
        "signed in": "no",
    }
    assert "{" not in cell.text_content() and '"' not in cell.text_content()
    assert cell.xpath(".//b") == []


def test_repeated_views_of_one_case_by_one_user_make_one_line(
    admin: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    viewed = "evidence.viewed"
    case_a, case_b = {"case_id": 1, "status": "verified"}, {"case_id": 2, "status": "verified"}
    add_rows(
        factory,
        [("ana", viewed, case_a)] * 3
        + [("ana", viewed, case_b), ("lee", viewed, case_a), ("lee", viewed, case_a)]
        + [("ana", "case.assigned", {}), ("ana", "case.assigned", {})],
    )

    page = parse(admin.get("/audit?object_type=capture"))

    rows = page.xpath("//table[@class='audit-rows']/tbody/tr")
    shown = [(r.xpath("string(td[3])"), r.get("data-count")) for r in rows]
    # Newest first: assignments are never collapsed; lee's two views, ana's on case 2, on case 1.
    assert shown == [("ana", None), ("ana", None), ("lee", "2"), ("ana", None), ("ana", "3")]
    run = rows[-1]
    assert "\u00d7 3" in run.xpath("string(td[4])")  # a multiplication sign
    assert len(run.xpath(".//details[@class='run']//li")) == 3
    assert "case id: 1" in run.xpath("string(.//details//li[1])")
