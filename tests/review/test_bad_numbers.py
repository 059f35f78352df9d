"""Numbers no database id can be: answered with the error page (404 or 400), never a 500."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from review.views.ids import MAX_ID
from tests.review.review_testkit import Seed, parse, post

HUGE = "99999999999999999999"  # past SQLite's 64-bit integers
LONG = "9" * 5000  # past what int() converts at all


def error_code(response) -> str:
    """Return the status code the error page itself shows."""
    return parse(response).xpath("string(//section[@class='error']//span[@class='code'])")


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"/cases/{HUGE}", 404),
        (f"/cases/{LONG}", 404),
        (f"/cases/{MAX_ID + 1}", 404),
        (f"/cases/{MAX_ID}", 404),  # the largest id there can be: looked up, not found
        (f"/cases/{MAX_ID}/captures/{HUGE}", 404),
        (f"/cases/{HUGE}/captures/1", 404),
        (f"/cases/{HUGE}/referral.zip", 404),
    ],
)
def test_the_analyst_pages_refuse_impossible_numbers(
    analyst: FlaskClient, seed: Seed, path: str, status: int
) -> None:
    response = analyst.get(path)

    assert response.status_code == status
    assert error_code(response) == str(status)


@pytest.mark.parametrize(
    ("page", "status", "message"),
    [
        (HUGE, 200, f"There is no page {HUGE}; this is the last one, page 1."),
        (LONG, 200, f"There is no page {LONG[:40]}; this is the last one, page 1."),
        ("999", 200, "There is no page 999; this is the last one, page 1."),
        ("abc", 400, "Pages are numbered from 1, not 'abc'; showing the first page."),
        ("0", 400, "Pages are numbered from 1, not '0'; showing the first page."),
        # A full-width digit two: str.isdigit() says yes, int() too.
        ("%EF%BC%92", 400, "Pages are numbered from 1, not '\uff12'; showing the first page."),
    ],
)
def test_the_queue_shows_a_page_it_has_and_says_why(
    analyst: FlaskClient, seed: Seed, page: str, status: int, message: str
) -> None:
    response = analyst.get(f"/?page={page}")

    assert response.status_code == status
    html = parse(response)
    assert html.xpath("string(//ul[@role='alert']/li)") == message
    assert len(html.xpath("//tr[@class='case']")) == 5  # the queue, not an error page
    assert html.xpath("//section[@class='error']") == []


@pytest.mark.parametrize(("version", "status"), [(HUGE, 400), (LONG, 400), ("-1", 400), ("x", 400)])
def test_a_case_version_must_be_an_id(
    analyst: FlaskClient, seed: Seed, version: str, status: int
) -> None:
    response = analyst.get(f"/cases/{seed.cases['fentanyl']}?version={version}")

    assert response.status_code == status
    assert "version must be a number" in parse(response).xpath("string(//main)").lower()


def test_a_case_capture_past_any_id_is_not_found(analyst: FlaskClient, seed: Seed) -> None:
    response = analyst.get(f"/cases/{seed.cases['fentanyl']}/captures/{HUGE}")

    assert response.status_code == 404
    assert error_code(response) == "404"


def test_the_audit_log_refuses_a_page_past_any_row(admin: FlaskClient, seed: Seed) -> None:
    response = admin.get(f"/audit?page={HUGE}")

    assert response.status_code == 404
    assert error_code(response) == "404"


def test_actions_on_impossible_case_ids_are_refused(analyst: FlaskClient, seed: Seed) -> None:
    transition = post(analyst, f"/cases/{HUGE}/transition", {"to": "confirmed"})
    bulk = post(
        analyst, "/cases/bulk", {"case_ids": [HUGE], "action": "dismiss", "reason": "duplicate"}
    )

    assert (transition.status_code, bulk.status_code) == (404, 400)
    assert error_code(bulk) == "400"
    assert "a case id must be a number" in parse(bulk).xpath("string(//main)").lower()
