"""Errors in the user's words: the app's own 403/404/405 pages, a way back that fits the role,
and error messages apart from news of success."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.review.review_testkit import Seed, parse, post, signed_in

# Werkzeug's own sentences, which must never reach a user.
WERKZEUG_WORDS = (
    "The requested URL was not found on the server",
    "You don't have the permission",
    "The method is not allowed for the requested URL",
)


def assert_own_page(response: TestResponse, code: int) -> None:
    assert response.status_code == code
    text = response.get_data(as_text=True)
    assert not any(words in text for words in WERKZEUG_WORDS)
    page = parse(response)
    assert page.xpath("string(//h1/span[@class='code'])") == str(code)
    assert page.xpath("string(//p[@class='message'])").strip()


@pytest.mark.parametrize(
    ("username", "back", "label"),
    [
        ("ana", "/", "Back to the queue"),
        ("lee", "/", "Back to the queue"),
        ("adm", "/audit", "Back to the audit log"),
    ],
)
def test_a_missing_page_leads_back_where_the_role_may_go(
    app: Flask, username: str, back: str, label: str
) -> None:
    response = signed_in(app, username).get("/no/such/page")

    assert_own_page(response, 404)
    (link,) = parse(response).xpath("//a[@class='back']")
    assert (link.get("href"), link.text) == (back, label)
    assert parse(response).xpath("string(//span[@class='username'])") == username


def test_a_visitor_is_offered_to_sign_in(client: FlaskClient) -> None:
    response = client.get("/no/such/page")

    assert_own_page(response, 404)
    (link,) = parse(response).xpath("//a[@class='back']")
    assert (link.get("href"), link.text) == ("/login", "Sign in")


def test_a_forbidden_page_names_the_role(analyst: FlaskClient) -> None:
    response = analyst.get("/audit")

    assert_own_page(response, 403)
    assert "The analyst role may not open this page." in parse(response).xpath("string(//main)")


def test_an_admin_refused_the_queue_is_not_sent_back_to_it(admin: FlaskClient) -> None:
    response = admin.get("/")

    assert_own_page(response, 403)
    assert parse(response).xpath("//a[@class='back']/@href") == ["/audit"]


def test_a_wrong_method_gets_the_apps_page_and_the_allow_header(analyst: FlaskClient) -> None:
    response = analyst.get("/logout")

    assert_own_page(response, 405)
    assert "POST" in response.headers["Allow"]


def test_a_views_own_reason_is_kept_as_a_sentence(analyst: FlaskClient) -> None:
    response = analyst.get("/cases/999")

    assert_own_page(response, 404)
    assert parse(response).xpath("string(//p[@class='message'])") == "There is no case 999."


def test_errors_and_successes_are_told_apart(legal: FlaskClient, seed: Seed) -> None:
    refused = parse(post(legal, f"/sources/{seed.source_id}/suspend", {"reason": " "}))
    (errors,) = refused.xpath("//ul[contains(@class, 'flash-errors')]")
    assert errors.get("role") == "alert"
    assert "needs a reason" in errors.text_content()
    assert refused.xpath("//ul[@role='status']") == []

    post(legal, f"/sources/{seed.source_id}/suspend", {"reason": "site changed"})
    done = parse(legal.get("/sources"))
    (news,) = done.xpath("//ul[contains(@class, 'flashes')]")
    assert news.get("role") == "status" and "flash-errors" not in news.get("class")
    assert news.xpath("li/@class") == ["flash-success"]
