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
        (f"/?page={HUGE}", 404),
        (f"/?page={LONG}", 404),
        ("/?page=abc", 400),
        ("/?page=%EF%BC%92", 400),  # a full-width digit two: str.isdigit() says yes, int() too
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


@pytest.mark.parametrize(("version", "status"), [(HUGE, 400), (LONG, 400), ("-1", 400), ("x", 400)])
def test_a_case_version_must_be_an_id(
    analyst: FlaskClient, seed: Seed, version: str, status: int
) -> None:
    response = analyst.get(f"/cases/{seed.cases['fentanyl']}?version={version}")

    assert response.status_code == status
    assert "version must be a number" in parse(response).xpath("string(//main)")


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
    bulk = post(analyst, "/cases/bulk-dismiss", {"case_ids": [HUGE], "reason": "duplicate"})

    assert (transition.status_code, bulk.status_code) == (404, 400)
    assert error_code(bulk) == "400"
    assert "a case id must be a number" in parse(bulk).xpath("string(//main)")
