"""The trends page: weeks asked for and refused, counts by week, what was first seen with links to
its first listings, the sources' health, names rendered inert, and the chart as a PNG."""

from __future__ import annotations

import io
import struct
from datetime import timedelta
from pathlib import Path

import lxml.html
import pytest
from flask import Flask
from flask.testing import FlaskClient
from matplotlib.image import imread
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.views.trends import DEFAULT_WEEKS, MAX_WEEKS, weekly_chart
from storage import crawl_stats
from storage.crawls import finish_crawl_run, start_crawl_run
from storage.db import transaction
from storage.listings import AnalysisRecord, MentionRecord, store_listing
from storage.models import Case, ListingVersion
from storage.sources import upsert_source
from storage.substances import CandidateRecord, WeeklyCounts, record_candidates
from tests.factories import add_capture
from tests.review.review_testkit import NOW, Clock, Seed, assert_inert, parse, signed_in

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PAYLOADS = [
    line
    for line in (Path(__file__).parents[1] / "fixtures" / "xss_payloads.txt")
    .read_text(encoding="utf-8")
    .splitlines()
    if line
]


def alert(page: lxml.html.HtmlElement) -> str:
    return str(page.xpath("string(//ul[@role='alert']/li)"))


def week_rows(page: lxml.html.HtmlElement) -> list[str]:
    return [str(week) for week in page.xpath("//tr[@class='week']/@data-week")]


def by_week(page: lxml.html.HtmlElement, kind: str, key: str) -> dict[str, tuple[int, int]]:
    """Return a substance's or class's (listings, cases) per week, as its row lists them."""
    (row,) = page.xpath(f"//tr[@class='{kind}'][@data-key=$key]", key=key)
    return {
        str(item.get("data-week")): (int(item.get("data-listings")), int(item.get("data-cases")))
        for item in row.xpath(".//ul[contains(@class, 'week-counts')]/li")
    }


def version_of(factory: sessionmaker[Session], listing_id: int) -> int:
    with factory() as session:
        return (
            session.scalars(
                select(ListingVersion.id)
                .where(ListingVersion.listing_id == listing_id)
                .order_by(ListingVersion.id)
            ).first()
            or 0
        )


# ---------------------------------------------------------------- the weeks asked for


def test_the_default_is_the_last_weeks_up_to_this_one(analyst: FlaskClient, seed: Seed) -> None:
    response = analyst.get("/trends")

    assert response.status_code == 200
    page = parse(response)
    assert week_rows(page) == [f"2026-W{n}" for n in range(48, 48 - DEFAULT_WEEKS, -1)]
    assert "(so far)" in page.xpath("string(//tr[@data-week='2026-W48']/td[@class='week-name'])")
    assert page.xpath("//img[@id='trend-chart']/@src") == [
        f"/trends/chart.png?weeks={DEFAULT_WEEKS}"
    ]
    assert alert(page) == ""


@pytest.mark.parametrize("weeks", ["1", "3", "01", "0004", str(MAX_WEEKS)])
def test_a_number_of_weeks_can_be_chosen(analyst: FlaskClient, seed: Seed, weeks: str) -> None:
    response = analyst.get(f"/trends?weeks={weeks}")

    assert response.status_code == 200
    page = parse(response)
    assert len(week_rows(page)) == int(weeks)
    assert page.xpath("//input[@id='weeks']/@value") == [str(int(weeks))]
    assert page.xpath("//img[@id='trend-chart']/@src") == [f"/trends/chart.png?weeks={int(weeks)}"]


@pytest.mark.parametrize(
    ("weeks", "shown"),
    [
        ("0", "'0'"),
        ("000", "'000'"),
        ("53", "'53'"),
        ("-1", "'-1'"),
        ("1.5", "'1.5'"),
        ("abc", "'abc'"),
        ("%EF%BC%92", "'\uff12'"),  # a full-width two: str.isdigit() says yes
        ("9" * 5000, repr("9" * 40)),
        ("%3Cscript%3E", "'<script>'"),
    ],
)
def test_a_bad_number_of_weeks_is_said_and_the_default_shown(
    analyst: FlaskClient, seed: Seed, weeks: str, shown: str
) -> None:
    response = analyst.get(f"/trends?weeks={weeks}")

    assert response.status_code == 400
    page = parse(response)
    assert alert(page) == (
        f"Weeks are a whole number from 1 to {MAX_WEEKS}, not {shown}; "
        f"showing the last {DEFAULT_WEEKS}."
    )
    assert len(week_rows(page)) == DEFAULT_WEEKS
    assert_inert(page)  # the value typed is shown as text
    chart = analyst.get(f"/trends/chart.png?weeks={weeks}")
    assert chart.status_code == 400
    assert "Weeks are a whole number" in parse(chart).xpath("string(//p[@class='message'])")


# ---------------------------------------------------------------- what it counts


def test_classes_and_substances_are_counted_by_week(analyst: FlaskClient, seed: Seed) -> None:
    page = parse(analyst.get("/trends?weeks=2"))

    # The seed: four offers opened cases this week, etizolam's the week before.
    cases = {
        str(row.get("data-week")): row.xpath("string(td[@class='cases-opened score'])")
        for row in page.xpath("//tr[@class='week']")
    }
    assert cases == {"2026-W48": "4", "2026-W47": "1"}
    assert by_week(page, "substance", "fentanyl") == {"2026-W48": (1, 1)}
    assert by_week(page, "substance", "etizolam") == {"2026-W47": (1, 1)}
    assert by_week(page, "class", "nitazene") == {"2026-W48": (1, 1)}
    # Fentanyl and the XSS listing's "img" are both opioids: two listings, counted once each.
    assert by_week(page, "class", "opioid") == {"2026-W48": (2, 2)}
    (fentanyl,) = page.xpath("//tr[@class='substance'][@data-key='fentanyl']")
    assert fentanyl.xpath("string(td[contains(@class, 'listings')])") == "1"
    badges = page.xpath("//tr[@data-week='2026-W47']//li[@class and @data-key]/text()")
    assert [" ".join(b.split()) for b in badges] == ["designer benzodiazepine 1 · 1"]
    # The news page names nitazenes and offers nothing.
    assert page.xpath("//tr[@class='substance'][@data-key='nitazenes']") == []


def test_a_dismissed_case_leaves_the_substance_counts_but_not_the_cases_opened(
    analyst: FlaskClient, seed: Seed, factory: sessionmaker[Session]
) -> None:
    with transaction(factory) as session:
        case = session.get(Case, seed.cases["nitazene"])
        assert case is not None
        case.state = "dismissed"

    page = parse(analyst.get("/trends?weeks=1"))

    assert page.xpath("//tr[@class='substance'][@data-key='protonitazene']") == []
    assert page.xpath("string(//tr[@data-week='2026-W48']/td[@class='cases-opened score'])") == "4"


def test_substances_first_seen_link_their_first_listings(analyst: FlaskClient, seed: Seed) -> None:
    page = parse(analyst.get("/trends?weeks=1"))

    concepts = page.xpath("//tr[@class='new-substance']/@data-concept")
    # Etizolam was on offer the week before: not new in this one week.
    assert "etizolam" not in concepts and {"fentanyl", "protonitazene"} <= set(concepts)
    (links,) = [
        row.xpath(".//ul[@class='first-listings']//a")
        for row in page.xpath("//tr[@class='new-substance'][@data-concept='fentanyl']")
    ]
    assert [(a.get("href"), a.text) for a in links] == [
        (f"/listings/{seed.listings['fentanyl']}", "Fentanyl powder 99%")
    ]
    assert "etizolam" in parse(analyst.get("/trends?weeks=2")).xpath(
        "//tr[@class='new-substance']/@data-concept"
    )


def test_lexicon_candidates_link_their_first_listings(
    analyst: FlaskClient, seed: Seed, factory: sessionmaker[Session]
) -> None:
    nitazene = version_of(factory, seed.listings["nitazene"])
    cathinone = version_of(factory, seed.listings["cathinone"])
    with transaction(factory) as session:
        term = [CandidateRecord("ZX-42 Pinacone", "ZX-42 Pinacone 5 g $90")]
        record_candidates(session, term, version_id=nitazene, now=NOW - timedelta(hours=1))
        record_candidates(session, term, version_id=cathinone, now=NOW)
        old = [CandidateRecord("QK-7", "QK-7 10 g")]
        record_candidates(session, old, version_id=cathinone, now=NOW - timedelta(days=30))

    page = parse(analyst.get("/trends?weeks=1"))

    (row,) = page.xpath("//tr[@class='candidate']")  # QK-7 was first seen weeks ago
    assert row.xpath("string(.//code)") == "zx-42 pinacone"
    assert row.xpath("string(td[@class='score'])") == "2"
    assert [a.get("href") for a in row.xpath(".//ul[@class='first-listings']//a")] == [
        f"/listings/{seed.listings['nitazene']}",
        f"/listings/{seed.listings['cathinone']}",
    ]
    assert len(parse(analyst.get("/trends?weeks=8")).xpath("//tr[@class='candidate']")) == 2


def test_each_source_shows_its_last_crawl_and_the_weeks_problems(
    analyst: FlaskClient, seed: Seed, factory: sessionmaker[Session]
) -> None:
    with transaction(factory) as session:
        upsert_source(
            session,
            source_id="quiet",
            name="Quiet shop",
            config={},
            scope_fingerprint="q" * 64,
            now=NOW - timedelta(days=90),
        )
        run = start_crawl_run(session, source_id=seed.source_id, now=NOW - timedelta(minutes=10))
        stats = {
            crawl_stats.refused_key("robots"): 2,
            crawl_stats.refused_key("onion"): 1,
            crawl_stats.BLOCKED: 4,
            crawl_stats.ERRORS: 5,
        }
        finish_crawl_run(
            session, run, now=NOW - timedelta(minutes=5), status="finished", stats=stats
        )

    page = parse(analyst.get("/trends?weeks=1"))

    (row,) = page.xpath(f"//tr[@class='source'][@data-source-id='{seed.source_id}']")
    cells = {
        name: row.xpath(f"string(td[contains(@class, '{name}')])")
        for name in ("refused", "blocked", "errors")
    }
    assert cells == {"refused": "3", "blocked": "4", "errors": "5"}
    assert row.xpath("string(.//span[contains(@class, 'run-status')])") == "finished"
    assert row.xpath("string(td[@class='name'])").startswith(
        "Demo Market <b>"
    )  # as text, not markup
    problems = [" ".join(li.text_content().split()) for li in row.xpath(".//li[@class='problem']")]
    assert problems == [
        "1 failed run",
        "4 block pages (CAPTCHA or WAF, not evaded)",
        "5 errors",
    ]
    # Two of this run's, and Scrapy's own count of one in the seed's run earlier today.
    assert row.xpath(".//li[@class='information']/text()") == [
        "3 requests disallowed by robots.txt",
        "1 request refused by the open-web guard (out of scope, .onion, login pages)",
    ]
    # This week's two runs of the seed and this one; last week's run is in the two weeks' view.
    assert "3 runs" in row.xpath("string(td[@class='activity'])")
    wider = parse(analyst.get("/trends?weeks=2"))
    assert "4 runs" in wider.xpath(
        f"string(//tr[@data-source-id='{seed.source_id}']/td[@class='activity'])"
    )
    (quiet,) = page.xpath("//tr[@class='source'][@data-source-id='quiet']")
    assert "never crawled" in quiet.xpath("string(td[@class='last-run'])")
    assert quiet.xpath("string(td[@class='refused score'])") == "—"


def test_the_nav_links_the_page_for_the_roles_that_may_read_it(
    analyst: FlaskClient, legal: FlaskClient, admin: FlaskClient, seed: Seed
) -> None:
    for client, shown in ((analyst, True), (legal, True), (admin, False)):
        page = parse(client.get("/sources"))
        assert bool(page.xpath("//nav[@class='topnav']/a[@href='/trends']")) is shown


# ---------------------------------------------------------------- names rendered inert


def test_scraped_names_and_source_names_render_inert(
    app: Flask, seed: Seed, factory: sessionmaker[Session]
) -> None:
    with transaction(factory) as session:
        for number, payload in enumerate(PAYLOADS):
            source_id = f"xss-{number}"
            upsert_source(
                session,
                source_id=source_id,
                name=payload,
                config={},
                scope_fingerprint="e" * 64,
                now=NOW - timedelta(days=1),
            )
            run = start_crawl_run(session, source_id=source_id, now=NOW - timedelta(hours=3))
            url = f"http://127.0.0.1:8421/xss/{number}"
            text = f"Buy {payload} 5 g"
            start = text.index(payload)
            stored = store_listing(
                session,
                source_id=source_id,
                url=url,
                capture=add_capture(session, run.id, url, NOW - timedelta(hours=3)),
                title=payload,
                text=text,
                fields={},
                analysis=AnalysisRecord(
                    score=5.0,
                    offer=True,
                    mentions=[
                        MentionRecord(
                            payload[:100],
                            payload[:200],
                            payload[:40],
                            "",
                            start,
                            start + len(payload),
                            payload,
                            0.9,
                        )
                    ],
                ),
                now=NOW - timedelta(hours=3),
            )
            record_candidates(
                session,
                [CandidateRecord(payload, payload)],
                version_id=stored.version.id,
                now=NOW - timedelta(hours=3),
            )
            finish_crawl_run(
                session,
                run,
                now=NOW - timedelta(hours=2),
                status="failed",
                stats={},
                error=payload,
            )
    analyst = signed_in(app, "ana")

    response = analyst.get("/trends?weeks=1")

    assert response.status_code == 200
    page = lxml.html.fromstring(response.get_data(as_text=True))
    assert_inert(page)
    text = page.text_content()
    for payload in PAYLOADS[:20]:
        assert " ".join(payload.split()) in " ".join(text.split()), payload
    assert len(page.xpath("//tr[@class='source']")) == len(PAYLOADS) + 1
    chart = analyst.get("/trends/chart.png?weeks=1")  # the names as legend text, not mathtext
    assert chart.status_code == 200 and chart.data.startswith(PNG_SIGNATURE)


# ---------------------------------------------------------------- the chart


def png_size(data: bytes) -> tuple[int, int]:
    """Return the width and height of a PNG from its IHDR chunk."""
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def coloured_pixels(data: bytes) -> int:
    """Count the pixels that are neither white nor grey: the lines of the classes."""
    pixels = imread(io.BytesIO(data), format="png")
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    spread = pixels[..., :3].max(axis=-1) - pixels[..., :3].min(axis=-1)
    return int(((spread > 0.25) & ((red + green + blue) < 2.7)).sum())


def test_the_chart_is_a_png_of_the_weeks_data(app: Flask, seed: Seed, clock: Clock) -> None:
    analyst = signed_in(app, "ana")

    response = analyst.get("/trends/chart.png?weeks=4")

    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["Cache-Control"] == "no-store"
    assert "img-src 'self'" in response.headers["Content-Security-Policy"]
    assert png_size(response.data) == (720, 520)
    populated = response.data
    assert coloured_pixels(populated) > 500
    assert analyst.get("/trends/chart.png?weeks=4").data == populated  # no timestamp inside

    # A year on, the last four weeks hold nothing: a chart that says so, without lines.
    clock.advance(timedelta(days=365))
    later = signed_in(app, "ana")
    empty = later.get("/trends/chart.png?weeks=4")
    assert empty.status_code == 200 and png_size(empty.data) == (720, 520)
    assert len(empty.data) != len(populated)
    assert coloured_pixels(empty.data) == 0
    page = parse(later.get("/trends?weeks=4"))
    assert page.xpath("string(//section[@class='substances']/p[@class='empty'])") != ""


def test_the_chart_needs_a_role_that_reads_the_queue(app: Flask, seed: Seed) -> None:
    anonymous = app.test_client().get("/trends/chart.png")
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/login")
    admin = signed_in(app, "adm").get("/trends/chart.png")
    assert admin.status_code == 403 and not admin.data.startswith(PNG_SIGNATURE)


def test_class_names_are_drawn_as_written_never_as_mathtext() -> None:
    # "$\\frac{$" fails matplotlib's mathtext parser when the text is read as mathtext.
    names = ["$\\frac{$", "price $5 and $", "a_b^c", "x" * 200]
    classes = [WeeklyCounts(name, name, name, (n, 0, 1), (0, n, 0)) for n, name in enumerate(names)]

    png = weekly_chart(["2026-W46", "2026-W47", "2026-W48"], classes)

    assert png_size(png) == (720, 520) and coloured_pixels(png) > 500
