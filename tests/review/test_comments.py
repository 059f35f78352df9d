"""The comment thread of a case: who may comment, what is kept, the audit row, bad input."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.comments import MAX_COMMENT_CHARS, BadComment, comment_on_case
from review.triage import UndoRefused, last_changes, undo
from review.workflow import NotPermitted, UnknownCase, transition
from storage.audit import verify_chain
from storage.db import transaction
from storage.models import AuditEvent, CaseComment
from tests.review.review_testkit import (
    NOW,
    XSS_TITLE,
    Clock,
    Seed,
    assert_inert,
    parse,
    post,
    signed_in,
)
from tests.review.test_workflow import user

TEXT = "Same wickr handle as case 7.\nAsked the team in NL to check the shipping note."


def comments(factory: sessionmaker[Session]) -> list[tuple[str, str]]:
    with factory() as session:
        rows = session.scalars(select(CaseComment).order_by(CaseComment.id))
        return [(c.author.username, c.body) for c in rows]


def flash_errors(page: lxml.html.HtmlElement) -> list[str]:
    return [" ".join(li.text_content().split()) for li in page.xpath("//li[@class='flash-error']")]


# ---------------------------------------------------------------- the rule


def test_a_comment_is_kept_and_audited_with_its_hash(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    with transaction(factory) as session:
        comment = comment_on_case(
            session,
            case_id,
            "  " + TEXT.replace("\n", "\r\n") + "\n",
            actor=user(session, "ana"),
            now=NOW,
        )
        comment_id = comment.id

    assert comments(factory) == [("ana", TEXT)]
    with factory() as session:
        (row,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "case.commented"))
        assert (row.object_type, row.object_id, row.actor) == ("case", str(case_id), "ana")
        assert row.detail == {
            "comment_id": comment_id,
            "length": len(TEXT),
            "sha256": hashlib.sha256(TEXT.encode()).hexdigest(),
        }
        assert verify_chain(session) is None


@pytest.mark.parametrize("state", ["new", "escalated", "dismissed"])
def test_analysts_and_legal_comment_in_any_state(
    factory: sessionmaker[Session], seed: Seed, state: str
) -> None:
    case_id = seed.cases["fentanyl"]
    with transaction(factory) as session:
        ana = user(session, "ana")
        if state == "escalated":
            transition(session, case_id, "confirmed", actor=ana, now=NOW)
            transition(session, case_id, "escalated", actor=ana, now=NOW)
        elif state == "dismissed":
            transition(session, case_id, "dismissed", actor=ana, now=NOW, note="duplicate")
        comment_on_case(session, case_id, "from the analyst", actor=ana, now=NOW)
        comment_on_case(session, case_id, "from legal", actor=user(session, "lee"), now=NOW)

    assert comments(factory) == [("ana", "from the analyst"), ("lee", "from legal")]


@pytest.mark.parametrize("who", ["adm", "old"])
def test_admins_and_disabled_users_do_not_comment(
    factory: sessionmaker[Session], seed: Seed, who: str
) -> None:
    with pytest.raises(NotPermitted), transaction(factory) as session:
        comment_on_case(session, seed.cases["fentanyl"], TEXT, actor=user(session, who), now=NOW)
    assert comments(factory) == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "needs some text"),
        (" \r\n\t ", "needs some text"),
        ("x" * (MAX_COMMENT_CHARS + 1), f"{MAX_COMMENT_CHARS + 1} characters; at most"),
    ],
)
def test_an_empty_or_too_long_comment_is_refused(
    factory: sessionmaker[Session], seed: Seed, body: str, message: str
) -> None:
    with pytest.raises(BadComment, match=message), transaction(factory) as session:
        comment_on_case(session, seed.cases["fentanyl"], body, actor=user(session, "ana"), now=NOW)
    with factory() as session:
        assert (
            session.scalars(
                select(AuditEvent.id).where(AuditEvent.action == "case.commented")
            ).all()
            == []
        )
    assert comments(factory) == []


def test_line_breaks_count_once_towards_the_limit(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    body = ("y" * 99 + "\r\n") * (MAX_COMMENT_CHARS // 100)  # 4,000 characters as typed

    with transaction(factory) as session:
        comment_on_case(session, seed.cases["fentanyl"], body, actor=user(session, "ana"), now=NOW)

    assert len(comments(factory)[0][1]) == MAX_COMMENT_CHARS - 1  # the last break is trimmed


def test_no_comment_on_a_case_that_does_not_exist(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    with pytest.raises(UnknownCase), transaction(factory) as session:
        comment_on_case(session, 999_999, TEXT, actor=user(session, "ana"), now=NOW)


def test_a_comment_counts_as_acting_on_the_case_for_undo(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = seed.cases["fentanyl"]
    with transaction(factory) as session:
        transition(session, case_id, "confirmed", actor=user(session, "ana"), now=NOW)
        events = last_changes(session, [case_id])
        comment_on_case(
            session, case_id, "I'll take it from here", actor=user(session, "lee"), now=NOW
        )

    with pytest.raises(UndoRefused, match="lee acted on case"), transaction(factory) as session:
        undo(session, events, actor=user(session, "ana"), now=NOW)


# ---------------------------------------------------------------- through the app


def test_the_case_page_shows_the_thread_oldest_first(
    app: Flask, analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed, clock: Clock
) -> None:
    case_id = seed.cases["fentanyl"]
    first = post(analyst, f"/cases/{case_id}/comments", {"body": TEXT})
    clock.advance(timedelta(minutes=5))
    legal = signed_in(app, "lee")
    post(legal, f"/cases/{case_id}/comments", {"body": f"Checked. {XSS_TITLE}"})

    with factory() as session:
        ids = session.scalars(select(CaseComment.id).order_by(CaseComment.id)).all()
    assert first.status_code == 302
    assert first.headers["Location"] == f"/cases/{case_id}#comment-{ids[0]}"
    page = parse(analyst.get(f"/cases/{case_id}"))
    thread = page.xpath("//section[@class='comments']//li[@class='comment']")
    assert [li.get("id") for li in thread] == [f"comment-{i}" for i in ids]
    assert [li.xpath("string(.//strong[@class='comment-author'])") for li in thread] == [
        "ana",
        "lee",
    ]
    # The text as typed: line breaks kept (shown pre-wrapped), markup escaped, not run.
    assert thread[0].xpath("string(.//p[@class='comment-body'])") == TEXT
    assert thread[1].xpath("string(.//p[@class='comment-body'])") == f"Checked. {XSS_TITLE}"
    assert_inert(page)
    assert thread[1].xpath(".//time/@datetime") == [(NOW + timedelta(minutes=5)).isoformat()]
    # In the audit trail, in order with the rest, each linked to its comment.
    history = page.xpath("//section[@class='history']//li")
    links = [a.get("href") for li in history for a in li.xpath(".//a")]
    assert links == [f"#comment-{i}" for i in ids]
    assert [li.xpath("string(.//span[@class='action-name'])") for li in history][-2:] == [
        "case.commented",
        "case.commented",
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("   ", "The comment was not added: a comment needs some text."),
        ("z" * 4001, "The comment was not added: the comment is 4001 characters; at most 4000."),
    ],
)
def test_a_bad_comment_shows_the_page_again_with_the_text(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed, body: str, message: str
) -> None:
    case_id = seed.cases["fentanyl"]

    response = post(analyst, f"/cases/{case_id}/comments", {"body": body})

    assert response.status_code == 400
    page = parse(response)
    assert flash_errors(page) == [message]
    assert page.xpath("string(//textarea[@name='body'])") == body
    assert page.xpath("//article[@class='case-detail']/@data-case-id") == [str(case_id)]
    assert comments(factory) == []


def test_the_comment_form_is_a_required_bounded_textarea(analyst: FlaskClient, seed: Seed) -> None:
    page = parse(analyst.get(f"/cases/{seed.cases['fentanyl']}"))

    (area,) = page.xpath("//form[@class='comment-form']//textarea[@name='body']")
    assert area.get("required") is not None
    assert area.get("maxlength") == str(MAX_COMMENT_CHARS)
    assert (
        page.xpath("string(//section[@class='comments']//p[@class='empty'])") == "No comment yet."
    )


def test_an_admin_posting_a_comment_is_refused_and_audited(
    admin: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    response = post(admin, f"/cases/{seed.cases['fentanyl']}/comments", {"body": TEXT})

    assert response.status_code == 403
    assert comments(factory) == []
    with factory() as session:
        denied = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.denied")).all()
        assert [e.actor for e in denied] == ["adm"]


def test_a_comment_on_a_missing_case_is_a_404(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    assert post(analyst, "/cases/999999/comments", {"body": TEXT}).status_code == 404
    assert comments(factory) == []
