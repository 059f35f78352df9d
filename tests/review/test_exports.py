"""Exports of the queue: CSV and JSON with the current filters, and a valid STIX 2.1 bundle."""

from __future__ import annotations

import csv
import io
import json
import uuid

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from stix2validator import ValidationOptions, validate_instance

from review.exports import (
    CSV_COLUMNS,
    STIX_SCO_NAMESPACE,
    pattern_string,
    spreadsheet_safe,
    stix_bundle,
)
from storage.cases import cases_with_details
from storage.db import transaction
from storage.models import AuditEvent, Case, Indicator
from tests.review.review_testkit import NOW, XSS_URL, Seed, post


def test_csv_holds_the_filtered_cases(analyst: FlaskClient, seed: Seed) -> None:
    response = analyst.get("/exports/cases.csv?state=new&class=nitazene")

    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(r["case_id"]) for r in rows] == [seed.cases["nitazene"]]
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[0]["substances"] == "Protonitazene"
    assert rows[0]["classes"] == "nitazene"
    assert rows[0]["indicators"] == "analogue; disclaimer; price"


def test_csv_cells_never_start_a_formula(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    with transaction(factory) as session:
        case = session.get(Case, seed.cases["cathinone"])
        case.listing.versions[-1].title = '=HYPERLINK("http://evil.example","x")'

    rows = list(
        csv.DictReader(io.StringIO(analyst.get("/exports/cases.csv").get_data(as_text=True)))
    )

    titles = {r["title"] for r in rows}
    assert '\'=HYPERLINK("http://evil.example","x")' in titles
    assert all(not t.startswith(("=", "+", "-", "@")) for t in titles)
    assert spreadsheet_safe(-1.5) == -1.5  # numbers stay numbers


def test_json_holds_cases_with_evidence_and_decisions(analyst: FlaskClient, seed: Seed) -> None:
    post(analyst, f"/cases/{seed.cases['fentanyl']}/transition", {"to": "confirmed"})

    document = analyst.get("/exports/cases.json?state=all").get_json()

    assert document["filters"] == {"state": "all"}
    assert document["count"] == len(document["cases"]) == 5
    first = document["cases"][0]
    assert first["case_id"] == seed.cases["fentanyl"]
    assert first["state"] == "confirmed"
    assert first["decisions"] == [
        {"from": "new", "to": "confirmed", "by": "ana", "at": NOW.isoformat(), "note": ""}
    ]
    assert first["evidence"]["payload_sha256"] == "ab" * 32
    assert first["listing"]["versions"] == 2
    assert [s["concept_id"] for s in first["substances"]] == ["fentanyl"]


def test_an_export_is_audited_with_its_filters(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    analyst.get("/exports/cases.csv?state=new&source=demo-market")

    with factory() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "export.cases"))
    assert (event.actor, event.object_id) == ("ana", "csv")
    assert event.detail["filters"] == {"state": "new", "source": "demo-market"}
    assert len(event.detail["cases"]) == 5
    assert event.request_id


@pytest.mark.parametrize("query", ["since=yesterday", "state=lost", "assignee=nobody-here"])
def test_an_export_with_a_bad_filter_is_refused(analyst: FlaskClient, query: str) -> None:
    assert analyst.get(f"/exports/cases.json?{query}").status_code == 400


def test_an_unknown_format_is_a_404(analyst: FlaskClient) -> None:
    assert analyst.get("/exports/cases.xlsx").status_code == 404


def validate(bundle: dict) -> None:
    results = validate_instance(bundle, ValidationOptions(version="2.1", strict=True))
    errors = [str(e) for r in ([results] if not isinstance(results, list) else results)
              for e in getattr(r, "errors", [])]  # fmt: skip
    assert results.is_valid, errors


def test_the_stix_bundle_is_valid_stix_2_1(analyst: FlaskClient, seed: Seed) -> None:
    response = analyst.get("/exports/cases.stix?state=all")

    assert response.mimetype == "application/stix+json"
    bundle = json.loads(response.get_data(as_text=True))
    validate(bundle)
    kinds = [o["type"] for o in bundle["objects"]]
    assert kinds.count("indicator") == kinds.count("observed-data") == 5
    assert kinds.count("report") == 1
    report = next(o for o in bundle["objects"] if o["type"] == "report")
    ids = {o["id"] for o in bundle["objects"]}
    assert set(report["object_refs"]) <= ids
    # The attack string URL is data in a pattern, quoted, never code.
    patterns = [o["pattern"] for o in bundle["objects"] if o["type"] == "indicator"]
    assert f"[url:value = '{XSS_URL}']" in patterns


def test_stix_ids_are_stable_and_scos_deterministic(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    with factory() as session:
        cases = cases_with_details(session, [seed.cases["fentanyl"]])
        first, second = stix_bundle(cases, now=NOW), stix_bundle(cases, now=NOW)

    def ids(bundle: dict, kind: str) -> list[str]:
        return [o["id"] for o in bundle["objects"] if o["type"] == kind]

    assert ids(first, "indicator") == ids(second, "indicator")
    url = "http://127.0.0.1:8421/item/0"
    expected = uuid.uuid5(STIX_SCO_NAMESPACE, json.dumps({"value": url}, separators=(",", ":")))
    assert ids(first, "url") == [f"url--{expected}"]


def add_contacts(factory: sessionmaker[Session], case_id: int, *contacts: tuple[str, str]) -> None:
    """Add contact indicators (written text, stored key) to a case's latest version."""
    with transaction(factory) as session:
        version = session.get(Case, case_id).listing.versions[-1]
        for text, key in contacts:
            channel = key.partition(":")[0]
            version.indicators.append(
                Indicator(kind="contact", start=0, end=5, text=text, value=channel, key=key)
            )


def test_an_email_contact_becomes_an_email_observable(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    add_contacts(
        factory, seed.cases["cathinone"], ("Mail Sales@Shop.example", "email:sales@shop.example")
    )
    with factory() as session:
        bundle = stix_bundle(cases_with_details(session, [seed.cases["cathinone"]]), now=NOW)

    validate(bundle)
    emails = [o for o in bundle["objects"] if o["type"] == "email-addr"]
    assert [e["value"] for e in emails] == ["sales@shop.example"]


def test_a_session_id_becomes_an_account_observable(
    app: Flask, factory: sessionmaker[Session], seed: Seed
) -> None:
    # Regression: the handle grammar copied into storage stopped at 40 characters.
    session_id = "05" + "3f" * 32
    add_contacts(
        factory,
        seed.cases["cathinone"],
        (f"Session: {session_id}", f"session:{session_id}"),
        ("Wickr: ChemKing", "wickr:chemking"),
        ("call +1 202 555 0143", "phone:+12025550143"),
    )
    with factory() as session:
        bundle = stix_bundle(cases_with_details(session, [seed.cases["cathinone"]]), now=NOW)

    validate(bundle)
    accounts = {o["id"]: o for o in bundle["objects"] if o["type"] == "user-account"}
    assert {(a["user_id"], a["account_login"]) for a in accounts.values()} == {
        (f"session:{session_id}", session_id),
        ("wickr:chemking", "chemking"),
    }
    observed = next(o for o in bundle["objects"] if o["type"] == "observed-data")
    assert set(accounts) <= set(observed["object_refs"])


def test_pattern_strings_are_escaped() -> None:
    assert pattern_string("a'b\\c") == "'a\\'b\\\\c'"


@pytest.mark.parametrize(
    "cell",
    [
        '=HYPERLINK("http://evil.example","x")',
        " =1+1",
        "\u00a0=1+1",  # no-break space
        "\u3000@SUM(A1)",  # ideographic space
        "\u200b=1+1",  # zero-width space
        "\ufeff+1",  # byte-order mark
        '\uff1dHYPERLINK("http://evil.example")',  # full-width =
        "\uff0b1",  # full-width +
        "\uff0d1",  # full-width -
        "\uff20SUM(A1)",  # full-width @
        "\ufe66cmd",  # small form =
        " \u00a0\uff1d1",  # blanks, then a full-width =
        "\u22121",  # minus sign
        "\t=1",
        "\nx",
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_quoted(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Etizolam 1 mg", " plain text", "\u00a0100 pcs", "", "a=b"])
def test_a_harmless_cell_is_left_alone(cell: str) -> None:
    assert spreadsheet_safe(cell) == cell
