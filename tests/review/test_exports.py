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

from review.exports import CSV_COLUMNS, spreadsheet_safe
from review.stix import STIX_SCO_NAMESPACE, pattern_string, stix_bundle
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


# stix2-validator knows only the core observable types as observables, so it wants a UUIDv4 id
# for an observable of an extension definition, where STIX 2.1 (section 2.9) says UUIDv5.
EXTENSION_SCOS = ("cryptocurrency-wallet--", "phone-number--")


def validate(bundle: dict) -> None:
    results = validate_instance(bundle, ValidationOptions(version="2.1", strict=True))
    errors = [str(e) for r in ([results] if not isinstance(results, list) else results)
              for e in getattr(r, "errors", [])]  # fmt: skip
    errors = [e for e in errors if not (e.startswith(EXTENSION_SCOS) and "not a valid UUIDv4" in e)]
    assert errors == []


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


# Invented identifiers: a 555-01xx number, a reserved .example domain, made-up wallets.
WALLET = "btc:bc1qsynthwatchtestwallet0000000000000000"
ETH_WALLET = "eth:0x" + "5e" * 20
SELLER_CONTACTS = (
    ("Wickr: ChemKing", "wickr:chemking"),
    ("t.me/chem_king", "telegram:chem_king"),
    ("call +1 202 555 0143", "phone:+12025550143"),
    ("Mail Sales@Shop.example", "email:sales@shop.example"),
    ("BTC bc1qsynthwatchtestwallet0000000000000000", WALLET),
    ("ETH 0x5e5e...", ETH_WALLET),
    ("wickr chemking", "wickr:chemking"),  # the same handle again: listed once
)
HIDDEN_TITLE = "4-M\u200bMC\u2060 crys\u202etals\ufe0f \u3164in\tstock"


@pytest.fixture
def seller_case(factory: sessionmaker[Session], seed: Seed) -> int:
    """The cathinone case, with a seller's identifiers, prices and a title hiding characters."""
    case_id = seed.cases["cathinone"]
    add_contacts(factory, case_id, *SELLER_CONTACTS)
    with transaction(factory) as session:
        version = session.get(Case, case_id).listing.versions[-1]
        version.title = HIDDEN_TITLE
        version.fields = {"seller": "Chem\u200bKing", "price": "=1+1 EUR"}
        for text, value in (
            ("20 EUR/g", "EUR 20/g"),
            ("€20 a gram", "EUR 20/g"),
            ("$500", "USD 500"),
        ):
            version.indicators.append(
                Indicator(kind="price", start=0, end=3, text=text, value=value)
            )
    return case_id


def test_csv_carries_seller_identifiers_prices_and_labels(
    analyst: FlaskClient, seller_case: int
) -> None:
    body = analyst.get("/exports/cases.csv?state=all").get_data(as_text=True)

    (row,) = [r for r in csv.DictReader(io.StringIO(body)) if r["case_id"] == str(seller_case)]
    assert row["title"] == "4-MMC crystals in stock"
    assert row["substances"] == "Mephedrone"
    assert row["classes"] == "cathinone"
    assert row["seller"] == "ChemKing"
    assert row["handles"] == "wickr:chemking; telegram:chem_king"
    assert row["phones"] == "'+12025550143"  # text, not the number 12025550143 nor a formula
    assert row["emails"] == "sales@shop.example"
    assert row["wallets"] == f"{WALLET}; {ETH_WALLET}"
    assert row["prices"] == "EUR 20/g; USD 500"
    assert row["listed_price"] == "'=1+1 EUR"  # quoted: a spreadsheet would run it


def test_a_hidden_formula_in_a_title_is_still_quoted(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    with transaction(factory) as session:
        version = session.get(Case, seed.cases["cathinone"]).listing.versions[-1]
        version.title = '\u200b\u2060=HYPERLINK("http://evil.example")'

    rows = csv.DictReader(io.StringIO(analyst.get("/exports/cases.csv").get_data(as_text=True)))

    assert '\'=HYPERLINK("http://evil.example")' in {r["title"] for r in rows}


def test_json_carries_seller_prices_labels_and_the_raw_title(
    analyst: FlaskClient, seller_case: int
) -> None:
    document = analyst.get("/exports/cases.json?state=all").get_json()

    (record,) = [c for c in document["cases"] if c["case_id"] == seller_case]
    assert record["title"] == "4-MMC crystals in stock"
    assert record["title_raw"] == HIDDEN_TITLE
    assert record["seller"] == {
        "name": "Chem\u200bKing",
        "handles": [
            {"channel": "wickr", "handle": "chemking", "key": "wickr:chemking"},
            {"channel": "telegram", "handle": "chem_king", "key": "telegram:chem_king"},
        ],
        "phones": [{"number": "+12025550143", "key": "phone:+12025550143"}],
        "emails": [{"address": "sales@shop.example", "key": "email:sales@shop.example"}],
        "wallets": [
            {"currency": "btc", "address": WALLET[4:], "key": WALLET},
            {"currency": "eth", "address": ETH_WALLET[4:], "key": ETH_WALLET},
        ],
    }
    assert record["prices"] == [
        {"value": "EUR 20/g", "text": "20 EUR/g"},
        {"value": "USD 500", "text": "$500"},
    ]
    (substance,) = record["substances"]
    assert (substance["label"], substance["class_label"]) == ("Mephedrone", "cathinone")
    assert {i["key"] for i in record["indicators"]} >= {WALLET, "wickr:chemking"}


def test_stix_has_wallets_phones_handles_and_emails_as_observables(
    factory: sessionmaker[Session], seller_case: int
) -> None:
    with factory() as session:
        bundle = stix_bundle(cases_with_details(session, [seller_case]), now=NOW)

    validate(bundle)
    by_type: dict[str, list[dict]] = {}
    for thing in bundle["objects"]:
        by_type.setdefault(thing["type"], []).append(thing)
    (extension,) = by_type["extension-definition"]
    assert extension["extension_types"] == ["new-sco"]
    assert {(w["value"], w["currency"]) for w in by_type["cryptocurrency-wallet"]} == {
        (WALLET[4:], "btc"),
        (ETH_WALLET[4:], "eth"),
    }
    assert [p["value"] for p in by_type["phone-number"]] == ["+12025550143"]
    for observable in by_type["cryptocurrency-wallet"] + by_type["phone-number"]:
        assert observable["extensions"] == {extension["id"]: {"extension_type": "new-sco"}}
        assert uuid.UUID(observable["id"].partition("--")[2]).version == 5
    assert {a["user_id"] for a in by_type["user-account"]} == {
        "wickr:chemking",
        "telegram:chem_king",
    }
    assert [e["value"] for e in by_type["email-addr"]] == ["sales@shop.example"]
    (indicator,) = by_type["indicator"]
    assert indicator["name"] == "4-MMC crystals in stock"
    assert indicator["description"].endswith("offering Mephedrone at EUR 20/g, USD 500.")
    identifiers = {
        o["id"]
        for kind in ("cryptocurrency-wallet", "phone-number", "user-account", "email-addr")
        for o in by_type[kind]
    }
    related = {
        r["target_ref"]
        for r in by_type["relationship"]
        if r["relationship_type"] == "related-to" and r["source_ref"] == indicator["id"]
    }
    assert related == identifiers
    (report,) = by_type["report"]
    assert identifiers | {indicator["id"]} | {r["id"] for r in by_type["relationship"]} <= set(
        report["object_refs"]
    )
    (observed,) = by_type["observed-data"]
    assert identifiers <= set(observed["object_refs"])


def test_stix_relationship_ids_are_stable(factory: sessionmaker[Session], seller_case: int) -> None:
    with factory() as session:
        cases = cases_with_details(session, [seller_case])
        first, second = stix_bundle(cases, now=NOW), stix_bundle(cases, now=NOW)

    def relationships(bundle: dict) -> list[str]:
        return [o["id"] for o in bundle["objects"] if o["type"] == "relationship"]

    assert relationships(first) == relationships(second)
    assert len(set(relationships(first))) == len(relationships(first)) == 1 + 6
