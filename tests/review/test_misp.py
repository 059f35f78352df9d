"""A confirmed case exported as a MISP event, checked with PyMISP's own loader and templates."""

from __future__ import annotations

import json
from pathlib import Path

import pymisp
import pytest
from flask.testing import FlaskClient
from pymisp import MISPEvent
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.misp import TEMPLATES, misp_event
from storage.cases import cases_with_details
from storage.db import transaction
from storage.models import AuditEvent, Case
from tests.review.review_testkit import Seed
from tests.review.test_exports import seller_case  # noqa: F401  (a fixture)

DESCRIBE_TYPES = json.loads(
    (Path(pymisp.__file__).parent / "data" / "describeTypes.json").read_text()
)["result"]
OBJECT_TEMPLATES = Path(pymisp.__file__).parent / "data" / "misp-objects" / "objects"


def set_state(factory: sessionmaker[Session], case_id: int, state: str) -> None:
    with transaction(factory) as session:
        session.get(Case, case_id).state = state


def loaded(event: dict) -> MISPEvent:
    misp = MISPEvent()
    misp.load(json.dumps(event))
    return misp


def event_of(factory: sessionmaker[Session], case_id: int, state: str = "confirmed") -> dict:
    """Put a case in a state and return its MISP event."""
    set_state(factory, case_id, state)
    with factory() as session:
        (case,) = cases_with_details(session, [case_id])
        return misp_event(case)


def test_a_confirmed_case_is_an_event_misp_loads(
    factory: sessionmaker[Session],
    seller_case: int,  # noqa: F811
) -> None:
    event = loaded(event_of(factory, seller_case))
    with factory() as session:
        listing = session.get(Case, seller_case).listing
        url, digests = listing.url, {v.capture.payload_sha256 for v in listing.versions}

    values = {(a.type, a.value) for a in event.attributes}
    assert ("url", url) in values
    assert {("sha256", d) for d in digests} <= values
    assert ("phone-number", "+12025550143") in values
    assert ("email", "sales@shop.example") in values
    assert ("btc", "bc1qsynthwatchtestwallet0000000000000000") in values
    substances = [a.comment for a in event.attributes if a.type == "text"]
    assert substances == ["substance named: cathinone"]
    # Every attribute's type is one MISP knows, in a category that admits it.
    for attribute in event.attributes:
        assert attribute.type in DESCRIBE_TYPES["types"]
        assert attribute.type in DESCRIBE_TYPES["category_type_mappings"][attribute.category]
    accounts = {
        (
            o.get_attributes_by_relation("account-type")[0].value,
            o.get_attributes_by_relation("username")[0].value,
        )
        for o in event.objects
        if o.name == "user-account"
    }
    assert accounts == {("wickr", "chemking"), ("telegram", "chem_king")}
    (coin,) = [o for o in event.objects if o.name == "coin-address"]
    assert coin.get_attributes_by_relation("symbol")[0].value == "ETH"
    assert event.tags[0].name == "tlp:amber"
    assert 'synthwatch:substance-class="cathinone"' in [t.name for t in event.tags]
    assert event.distribution == 0


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_the_objects_name_misp_s_own_templates(name: str) -> None:
    definition = json.loads((OBJECT_TEMPLATES / name / "definition.json").read_text())
    template_uuid, version, meta_category = TEMPLATES[name]

    assert definition["uuid"] == template_uuid
    assert definition["meta-category"] == meta_category
    # A newer template of the same name still loads our objects; an older one would not.
    assert definition["version"] >= int(version)


def test_objects_hold_what_their_templates_require(
    factory: sessionmaker[Session],
    seller_case: int,  # noqa: F811
) -> None:
    event = loaded(event_of(factory, seller_case))

    assert event.objects
    for misp_object in event.objects:
        misp_object.to_dict(strict=True)  # raises InvalidMISPObject when a field is missing


def test_the_same_case_gives_the_same_ids(
    factory: sessionmaker[Session],
    seller_case: int,  # noqa: F811
) -> None:
    first = event_of(factory, seller_case, "approved")
    second = event_of(factory, seller_case, "approved")

    assert first == second
    assert first["Event"]["analysis"] == "2"


def test_the_download_is_audited(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = seed.cases["cathinone"]
    set_state(factory, case_id, "confirmed")

    response = analyst.get(f"/cases/{case_id}/misp.json")

    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    event = loaded(response.get_json())
    assert event.info.startswith(f"SynthWatch case {case_id}:")
    with factory() as session:
        audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "export.misp")).one()
    assert audit.object_id == str(case_id)
    assert audit.detail["event_uuid"] == str(event.uuid)
    assert b"MISP event" in analyst.get(f"/cases/{case_id}").data


def test_a_case_nobody_confirmed_is_not_shared(analyst: FlaskClient, seed: Seed) -> None:
    case_id = seed.cases["cathinone"]

    response = analyst.get(f"/cases/{case_id}/misp.json")

    assert response.status_code == 409
    assert b"only a confirmed case" in response.data
    assert b"MISP event" not in analyst.get(f"/cases/{case_id}").data


def test_an_unknown_case_is_a_404(analyst: FlaskClient) -> None:
    assert analyst.get("/cases/999999/misp.json").status_code == 404


def test_signed_out_gets_no_event(client: FlaskClient, seed: Seed) -> None:
    response = client.get(f"/cases/{seed.cases['cathinone']}/misp.json")

    assert response.status_code in (302, 401, 403)
