"""The case page's evidence, versions diff, shared contacts and sandboxed capture; queue filters."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.capture_html import inert_page
from review.diff import text_diff
from review.highlight import PAGE_CHARS
from storage.db import transaction
from storage.listings import MAX_STORED_SPANS, AnalysisRecord, IndicatorRecord, MentionRecord
from storage.models import AuditEvent, Capture, Case, Indicator
from tests.factories import add_listing
from tests.review.evidence_testkit import add_evidence_case
from tests.review.review_testkit import NOW, Seed, parse, post, signed_in


def test_verified_evidence_and_the_sandboxed_capture(
    analyst: FlaskClient, factory: sessionmaker[Session], home: Path, seed: Seed
) -> None:
    found = add_evidence_case(factory, home)

    page = parse(analyst.get(f"/cases/{found.case_id}"))

    assert page.xpath("string(//p[contains(@class, 'check')]/strong)") == "Verified"
    (frame,) = page.xpath("//iframe[@class='capture-frame']")
    assert frame.get("sandbox") == ""
    assert frame.get("src") == f"/cases/{found.case_id}/captures/{found.capture_ids[0]}"
    captured = analyst.get(frame.get("src"))
    assert captured.status_code == 200
    csp = captured.headers["Content-Security-Policy"]
    assert csp.startswith("sandbox;") and "default-src 'none'" in csp
    assert "unsafe-inline" not in csp and "frame-ancestors 'self'" in csp
    assert captured.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert captured.headers["Cache-Control"] == "no-store"
    shown = parse(captured)
    assert shown.xpath("string(//h1)") == "Carfentanil HCl, 99%"
    assert shown.xpath("//script | //style | //link | //iframe | //form | //input | //img") == []
    assert shown.xpath("//*[@href or @src or @onload or @action]") == []
    assert shown.xpath("string(//a/@title)") == "link to javascript:alert(2)"


def test_a_view_of_evidence_is_audited(
    analyst: FlaskClient, factory: sessionmaker[Session], home: Path, seed: Seed
) -> None:
    found = add_evidence_case(factory, home)

    analyst.get(f"/cases/{found.case_id}/captures/{found.capture_ids[0]}")

    with factory() as session:
        (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "evidence.viewed"))
    assert (event.actor, event.object_type, event.object_id) == (
        "ana",
        "capture",
        str(found.capture_ids[0]),
    )
    assert event.detail == {"case_id": found.case_id, "status": "verified"}


def test_changed_evidence_shows_a_mismatch(
    analyst: FlaskClient, factory: sessionmaker[Session], home: Path, seed: Seed
) -> None:
    found = add_evidence_case(factory, home)
    with transaction(factory) as session:
        session.get(Capture, found.capture_ids[0]).payload_sha256 = "0" * 64

    page = parse(analyst.get(f"/cases/{found.case_id}"))

    assert page.xpath("string(//p[contains(@class, 'check')]/strong)") == "Hash mismatch"


def test_missing_evidence_is_said_so(analyst: FlaskClient, seed: Seed) -> None:
    page = parse(analyst.get(f"/cases/{seed.cases['fentanyl']}"))
    capture = analyst.get(page.xpath("//iframe/@src")[0])

    assert page.xpath("string(//p[contains(@class, 'check')]/strong)") == "Not verifiable"
    assert "can't be shown" in parse(capture).xpath("string(//p)")


def test_a_capture_of_another_case_is_not_found(
    analyst: FlaskClient, factory: sessionmaker[Session], home: Path, seed: Seed
) -> None:
    found = add_evidence_case(factory, home)

    response = analyst.get(f"/cases/{seed.cases['fentanyl']}/captures/{found.capture_ids[0]}")

    assert response.status_code == 404


def test_a_capture_outside_the_evidence_folder_is_never_read(
    analyst: FlaskClient, factory: sessionmaker[Session], home: Path, seed: Seed
) -> None:
    found = add_evidence_case(factory, home)
    secret = home.parent / "secret.warc.gz"
    secret.write_bytes((home / found.warc_file).read_bytes())
    with transaction(factory) as session:
        session.get(Capture, found.capture_ids[0]).warc_file = "../secret.warc.gz"

    page = parse(analyst.get(f"/cases/{found.case_id}"))

    assert "outside SYNTHWATCH_HOME" in page.xpath("string(//p[contains(@class, 'check')])")


def test_the_diff_of_two_versions(
    analyst: FlaskClient, factory: sessionmaker[Session], home: Path, seed: Seed
) -> None:
    found = add_evidence_case(
        factory,
        home,
        pages=[
            ("Carfentanil 99% in 1g bags. Wickr: chemking", b"<p>v1</p>"),
            ("Carfentanil 99.5% in 10g bags. Wickr: chemking", b"<p>v2</p>"),
        ],
    )

    page = parse(analyst.get(f"/cases/{found.case_id}"))

    section = page.xpath("//section[@class='diff']")[0]
    assert section.xpath(".//del/text()") == ["99%", "1g"]
    assert section.xpath(".//ins/text()") == ["99.5%", "10g"]
    first = parse(analyst.get(page.xpath("//section[@class='versions']//li[2]/a/@href")[0]))
    assert first.xpath("//section[@class='diff']") == []  # the first version has no predecessor


def test_text_diff_escapes_and_counts() -> None:
    diff = text_diff("a <b> c", "a <i> c d")

    assert str(diff.html) == (
        'a <del class="diff-del">&lt;b&gt;</del><ins class="diff-ins">&lt;i&gt;</ins> c'
        '<ins class="diff-ins"> d</ins>'
    )
    assert (diff.removed, diff.added) == (1, 2)
    assert text_diff("same", "same").unchanged


def test_listings_sharing_a_contact_are_linked(
    analyst: FlaskClient, factory: sessionmaker[Session], home: Path, seed: Seed
) -> None:
    first = add_evidence_case(factory, home, url="http://127.0.0.1:8421/item/a")
    second = add_evidence_case(
        factory,
        home,
        url="http://127.0.0.1:8421/item/b",
        pages=[("Carfentanil, bulk. WICKR ME: ChemKing", b"<p>b</p>")],
    )
    add_evidence_case(
        factory,
        home,
        url="http://127.0.0.1:8421/item/c",
        pages=[("Carfentanil, bulk. Wickr: chemqueen", b"<p>c</p>")],
    )
    with transaction(factory) as session:
        contacts = ((first.case_id, "Wickr: chemking"), (second.case_id, "WICKR ME: ChemKing"))
        for case_id, text in contacts:
            version = session.get(Case, case_id).listing.versions[-1]
            start = version.text.index(text)
            end = start + len(text)
            version.indicators.append(
                Indicator(
                    kind="contact",
                    start=start,
                    end=end,
                    text=text,
                    value="wickr",
                    key="wickr:chemking",
                )
            )

    page = parse(analyst.get(f"/cases/{first.case_id}"))

    shared = page.xpath("//section[@class='shared']//li")
    # The seeded fentanyl listing names "wickr: chemking" too; chemqueen is someone else.
    assert [li.xpath("string(a/@href)") for li in shared] == [
        f"/cases/{seed.cases['fentanyl']}",
        f"/cases/{second.case_id}",
    ]
    assert {li.xpath("string(span[@class='shared-ids'])") for li in shared} == {"wickr:chemking"}


# ---------------------------------------------------------------- queue filters


def rows(client: FlaskClient, query: str) -> list[int]:
    page = parse(client.get(f"/?{query}"))
    return [int(i) for i in page.xpath("//tr[@class='case']/@data-case-id")]


def test_the_queue_filters_by_class_source_date_and_assignee(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    post(analyst, f"/cases/{seed.cases['nitazene']}/assign")

    assert rows(analyst, "class=nitazene") == [seed.cases["nitazene"]]
    assert rows(analyst, "source=demo-market") == rows(analyst, "")
    unknown = analyst.get("/?source=elsewhere")  # named, not an empty queue
    assert unknown.status_code == 400
    assert "There is no source 'elsewhere'" in parse(unknown).xpath("string(//ul[@role='alert'])")
    last_week = (NOW - timedelta(days=7)).date().isoformat()
    assert rows(analyst, f"until={last_week}") == [seed.cases["old"]]
    assert seed.cases["old"] not in rows(analyst, f"since={NOW.date().isoformat()}")
    assert rows(analyst, "assignee=me") == [seed.cases["nitazene"]]
    assert rows(analyst, "assignee=ana") == [seed.cases["nitazene"]]
    assert seed.cases["nitazene"] not in rows(analyst, "assignee=none")
    page = parse(analyst.get("/?assignee=me"))
    assert page.xpath("string(//tr[@class='case']/td[@class='assignee'])") == "ana"
    assert page.xpath("//select[@name='assignee']/option[@selected]/@value") == ["me"]


@pytest.mark.parametrize("query", ["since=2026-13-01", "until=soon", "assignee=ghost"])
def test_the_queue_refuses_bad_filters(analyst: FlaskClient, seed: Seed, query: str) -> None:
    assert analyst.get(f"/?{query}").status_code == 400


def test_paging_keeps_the_filters(
    analyst: FlaskClient, seed: Seed, monkeypatch: pytest.MonkeyPatch
) -> None:
    from review.views import queue as queue_view

    monkeypatch.setattr(queue_view, "PAGE_SIZE", 1)

    page = parse(analyst.get("/?source=demo-market&class=opioid"))

    assert page.xpath("//a[@rel='next']/@href") == [
        "/?page=2&class=opioid&source=demo-market&state=new"
    ]
    exports = page.xpath("//a[@class='export']/@href")
    assert "/exports/cases.csv?class=opioid&source=demo-market&state=new" in exports


def test_the_queue_carries_what_keyboard_triage_needs(analyst: FlaskClient, seed: Seed) -> None:
    page = parse(analyst.get("/"))

    assert page.xpath("//script/@src") == ["/static/triage.js", "/static/clusters.js"]
    (row,) = page.xpath(f"//tr[@data-case-id='{seed.cases['fentanyl']}']")
    assert row.get("data-transition-url") == f"/cases/{seed.cases['fentanyl']}/transition"
    assert row.get("data-assign-url") == f"/cases/{seed.cases['fentanyl']}/assign"
    assert page.xpath("//form[@id='triage-form']//input[@name='csrf_token']/@value")
    assert page.xpath("//dialog[@id='dismiss-dialog']//select[@name='reason']/option")
    assert row.get("data-moves") == "confirmed dismissed assign"


def test_legal_reviewers_get_only_the_assign_key(app: Flask, seed: Seed) -> None:
    page = parse(signed_in(app, "lee").get("/?state=new"))

    assert set(page.xpath("//tr[@class='case']/@data-moves")) == {"assign"}
    assert page.xpath("//form[@id='bulk-form']//button/@value") == ["assign"]


def test_inert_page_shows_text_and_non_html_plainly() -> None:
    assert "<pre>{&#34;a&#34;: 1}</pre>" in inert_page(b'{"a": 1}', "application/json", url="u")
    assert "Not shown" in inert_page(b"\x89PNG", "image/png", url="u")
    latin = inert_page("<p>caf\xe9</p>".encode("latin-1"), "text/html; charset=latin-1", url="u")
    assert "café" in latin


def add_long_case(
    factory: sessionmaker[Session],
    seed: Seed,
    texts: list[str],
    mentions: Sequence[MentionRecord] = (),
    indicators: Sequence[IndicatorRecord] = (),
) -> int:
    """Store a flagged listing with one version per text, the spans on the last; its case id."""
    analysis = AnalysisRecord(
        score=7.5,
        offer=True,
        mentions=list(mentions),
        indicators=list(indicators),
        reasons=[{"text": "sells fentanyl by weight", "weight": 3.0}],
    )
    with transaction(factory) as session:
        for n, text in enumerate(texts):
            stored = add_listing(
                session,
                "http://127.0.0.1:8421/item/long",
                NOW + timedelta(hours=n),
                source_id=seed.source_id,
                run_id=seed.run_ids[0],
                text=text,
                analysis=analysis,
            )
        assert stored.case is not None
        return stored.case.id


def fentanyl_at(start: int) -> MentionRecord:
    return MentionRecord("fentanyl", "Fentanyl", "opioid", "", start, start + 8, "fentanyl", 0.95)


def test_a_long_listing_with_many_spans_renders_in_parts_with_a_capped_count(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    unit = "buy fentanyl 10g now, ok "  # 25 characters
    text = unit * 8_000  # 200,000 characters
    mentions = [fentanyl_at(25 * n + 4) for n in range(7_500)]
    indicators = [
        IndicatorRecord("quantity", 25 * n + 13, 25 * n + 16, "10g", "10 g") for n in range(7_500)
    ]
    case_id = add_long_case(factory, seed, [text], mentions, indicators)

    page = parse(analyst.get(f"/cases/{case_id}"))

    assert page.xpath("normalize-space(//p[@class='spans-capped'])").startswith(
        f"Showing {MAX_STORED_SPANS:,} of 15,000 marked spans"
    )
    (shown,) = page.xpath("//div[@class='listing-text']")
    assert shown.text_content() == text[:PAGE_CHARS]
    assert len(shown.xpath(".//mark")) == MAX_STORED_SPANS
    nav = page.xpath("//nav[@class='text-parts']")
    assert (
        len(nav) == 2 and "Part 1 of 4: characters 1 to 50,000 of 200,000" in nav[0].text_content()
    )
    assert nav[0].xpath("a/@rel") == ["next"]
    last = parse(analyst.get(nav[0].xpath("a/@href")[0].replace("part=2", "part=4")))
    assert last.xpath("string(//div[@class='listing-text'])") == text[150_000:]
    assert last.xpath("//nav[@class='text-parts'][1]/a/@rel") == ["prev"]
    assert last.xpath("string(//section[@class='reasons']//span[@class='reason-text'])") == (
        "sells fentanyl by weight"
    )


def test_a_span_across_a_part_edge_is_marked_in_both_parts(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    text = "x" * 49_995 + " " + "y" * 49_004  # the first part ends at the only space
    wide = IndicatorRecord("contact", 49_990, 50_010, text[49_990:50_010], "wickr")
    case_id = add_long_case(factory, seed, [text], indicators=[wide])

    first = parse(analyst.get(f"/cases/{case_id}"))
    second = parse(analyst.get(f"/cases/{case_id}?part=2"))

    assert first.xpath("//div[@class='listing-text']/mark/text()") == ["xxxxx "]
    assert second.xpath("//div[@class='listing-text']/mark/text()") == ["y" * 14]
    assert second.xpath("string(//div[@class='listing-text'])") == "y" * 49_004
    assert first.xpath("//p[@class='spans-capped']") == []


@pytest.mark.parametrize(("part", "status"), [("3", 404), ("0", 400), ("x", 400)])
def test_a_part_that_is_not_there_is_refused(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed, part: str, status: int
) -> None:
    case_id = add_long_case(factory, seed, ["word " * 20_000])

    assert analyst.get(f"/cases/{case_id}?part={part}").status_code == status


def test_texts_longer_than_a_part_are_not_compared(
    analyst: FlaskClient, factory: sessionmaker[Session], seed: Seed
) -> None:
    case_id = add_long_case(factory, seed, ["old " * 20_000, "new " * 20_000])

    page = parse(analyst.get(f"/cases/{case_id}"))

    (section,) = page.xpath("//section[@class='diff']")
    assert "too long to compare word by word here (80,000 and 80,000" in section.text_content()
    assert section.xpath(".//del | .//ins") == []


def test_a_diff_too_costly_to_align_word_by_word_is_one_replacement() -> None:
    before = " ".join(f"a{n % 7}" for n in range(3_000))
    after = " ".join(f"b{n % 5}" for n in range(3_000))

    diff = text_diff("same start " + before + " same end", "same start " + after + " same end")

    assert str(diff.html).startswith('same start <del class="diff-del">a0 a1')
    assert str(diff.html).endswith("b4</ins> same end")
    assert (diff.removed, diff.added) == (3_000, 3_000)
