"""A user's time zone: picked on the settings page, checked, audited; pages show times in it,
the queue reads its "from" and "to" as days in it, exports keep UTC."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.account import day_start, local_time, zone_names
from storage.models import AuditEvent, User
from tests.review.review_testkit import Seed, parse, post, signed_in

MOMENT = datetime(2026, 12, 7, 15, 5, tzinfo=UTC)


def errors(response: object) -> list[str]:
    page = parse(response)  # type: ignore[arg-type]
    return [" ".join(li.text_content().split()) for li in page.xpath("//li[@class='flash-error']")]


def zone_of(factory: sessionmaker[Session], username: str) -> str:
    with factory() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return user.time_zone


def zone_events(factory: sessionmaker[Session]) -> list[AuditEvent]:
    with factory() as session:
        query = select(AuditEvent).where(AuditEvent.action == "user.time_zone_set")
        return list(session.scalars(query))


def set_zone(client: FlaskClient, name: str) -> None:
    response = post(client, "/settings/time-zone", {"time_zone": name})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]


def case_ids(client: FlaskClient, query: str) -> set[int]:
    response = client.get(f"/?{query}")
    assert response.status_code == 200, errors(response)
    return {int(i) for i in parse(response).xpath("//tr[@class='case']/@data-case-id")}


@pytest.mark.parametrize(
    ("zone", "moment", "shown"),
    [
        ("UTC", MOMENT, "2026-12-07 15:05 UTC"),
        ("Europe/Berlin", MOMENT, "2026-12-07 16:05 CET"),
        ("Europe/Berlin", datetime(2026, 7, 7, 15, 5, tzinfo=UTC), "2026-07-07 17:05 CEST"),
        ("Pacific/Auckland", MOMENT, "2026-12-08 04:05 NZDT"),
        ("Asia/Kolkata", MOMENT, "2026-12-07 20:35 IST"),
        # tzdata has no letters for São Paulo: its offset, said to be one.
        ("America/Sao_Paulo", MOMENT, "2026-12-07 12:05 UTC-03"),
    ],
)
def test_a_time_is_shown_in_iso_order_with_its_zone(
    zone: str, moment: datetime, shown: str
) -> None:
    assert local_time(moment, ZoneInfo(zone)) == shown


def test_a_day_runs_from_local_midnight_to_local_midnight() -> None:
    auckland, berlin = ZoneInfo("Pacific/Auckland"), ZoneInfo("Europe/Berlin")

    assert day_start(date(2026, 11, 26), auckland) == datetime(2026, 11, 25, 11, 0, tzinfo=UTC)
    # The day the clocks go forward in Berlin has 23 hours.
    start, end = day_start(date(2026, 3, 29), berlin), day_start(date(2026, 3, 30), berlin)
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=23)


def test_the_settings_page_offers_every_zone_and_marks_the_users(analyst: FlaskClient) -> None:
    page = parse(analyst.get("/settings"))

    options = page.xpath("//select[@id='time-zone']/option/@value")
    assert options == list(zone_names())
    assert {"UTC", "Europe/Berlin", "America/Sao_Paulo"} <= set(options)
    assert "localtime" not in options and "Factory" not in options
    assert page.xpath("//select[@id='time-zone']/option[@selected]/@value") == ["UTC"]
    assert page.xpath("string(//strong[@class='now'])") == "2026-11-25 12:00 UTC"
    assert page.xpath("//header//a[@class='settings-link']/@href") == ["/settings"]


def test_picking_a_zone_shows_every_time_in_it(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    before = parse(analyst.get("/"))
    assert before.xpath("string(//td[@class='first-seen'])") == "2026-11-25 11:00 UTC"

    response = post(analyst, "/settings/time-zone", {"time_zone": "Europe/Berlin"})

    assert response.status_code == 302 and response.headers["Location"] == "/settings"
    settings = parse(analyst.get("/settings"))
    assert "Times are shown in Europe/Berlin now." in settings.xpath("string(//ul[@role='status'])")
    assert settings.xpath("//select[@id='time-zone']/option[@selected]/@value") == ["Europe/Berlin"]
    queue = parse(analyst.get("/"))
    cells = queue.xpath("//td[@class='first-seen']/time")
    assert {cell.text for cell in cells} == {"2026-11-25 12:00 CET", "2026-11-18 13:00 CET"}
    assert {cell.get("datetime") for cell in cells} == {  # the machine-readable time stays UTC
        "2026-11-25T11:00:00+00:00",
        "2026-11-18T12:00:00+00:00",
    }
    case = parse(analyst.get(f"/cases/{seed.cases['fentanyl']}"))
    shown = [t.text for t in case.xpath("//main//time")]
    assert shown and all(text.endswith(" CET") for text in shown), shown
    assert zone_of(factory, "ana") == "Europe/Berlin"
    [event] = zone_events(factory)
    assert (event.actor, event.object_type, event.object_id) == (
        "ana",
        "user",
        str(seed.users["ana"]),
    )
    assert event.detail == {"from": "UTC", "to": "Europe/Berlin"}


def test_an_admin_reads_the_audit_log_in_their_zone(app: Flask) -> None:
    admin = signed_in(app, "adm")
    set_zone(admin, "Asia/Tokyo")

    page = parse(admin.get("/audit"))

    shown = [t.text for t in page.xpath("//table//time")]
    assert shown and all(text.endswith(" JST") for text in shown), shown


@pytest.mark.parametrize(
    "name", ["Mars/Olympus_Mons", "", "localtime", "../../etc/passwd", "europe/berlin", "x" * 500]
)
def test_a_zone_not_in_the_list_is_refused_with_a_message(
    analyst: FlaskClient, factory: sessionmaker[Session], name: str
) -> None:
    response = post(analyst, "/settings/time-zone", {"time_zone": name})

    assert response.status_code == 400
    [message] = errors(response)
    assert message.startswith("There is no time zone") and message.endswith(
        "pick one from the list"
    )
    assert parse(response).xpath("//select[@id='time-zone']/option[@selected]/@value") == ["UTC"]
    assert zone_of(factory, "ana") == "UTC"
    assert zone_events(factory) == []


def test_from_and_to_are_days_in_the_users_zone(analyst: FlaskClient, seed: Seed) -> None:
    # The five new cases were flagged at 11:00 UTC on 2026-11-25: 00:00 on the 26th in
    # Auckland (NZDT, +13). The old one a week before, 01:00 on the 19th there.
    new = {seed.cases[key] for key in seed.cases if key != "old"}
    everything = new | {seed.cases["old"]}
    assert case_ids(analyst, "state=all") == everything
    assert case_ids(analyst, "state=all&until=2026-11-25") == everything
    assert case_ids(analyst, "state=all&since=2026-11-26") == set()

    set_zone(analyst, "Pacific/Auckland")

    assert case_ids(analyst, "state=all&until=2026-11-25") == {seed.cases["old"]}
    assert case_ids(analyst, "state=all&since=2026-11-26") == new  # from 00:00, inclusive
    assert case_ids(analyst, "state=all&since=2026-11-26&until=2026-11-26") == new
    assert case_ids(analyst, "state=all&since=2026-11-19&until=2026-11-19") == {seed.cases["old"]}
    assert case_ids(analyst, "state=all&since=2026-11-18&until=2026-11-18") == set()


def test_exports_keep_utc_and_select_the_days_of_the_users_zone(
    analyst: FlaskClient, seed: Seed
) -> None:
    set_zone(analyst, "Pacific/Auckland")

    response = analyst.get("/exports/cases.json?state=all&since=2026-11-26")

    assert response.status_code == 200
    exported = json.loads(response.get_data(as_text=True))
    rows = exported["cases"]
    assert {row["case_id"] for row in rows} == {c for k, c in seed.cases.items() if k != "old"}
    assert {row["created_at"] for row in rows} == {"2026-11-25T11:00:00+00:00"}
