"""The weekly digest: what it counts for a week, and how it renders (escaped) and previews."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from sqlalchemy.orm import Session, sessionmaker

from review.digest import (
    build_digest,
    format_age,
    iso_week,
    previous_week,
    render_html,
    render_text,
    week_bounds,
    write_preview,
)
from review.errors import WeekError
from tests.review.review_testkit import NOW, WEEK, XSS_IMG, XSS_TITLE, Seed

BASE_URL = "https://review.example"


def test_the_digest_counts_the_new_cases_of_its_week(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW, base_url=BASE_URL + "/")

    assert digest.new_cases == 4
    assert [c.score for c in digest.top_cases] == [9.1, 7.5, 5.0, 4.2]
    top = digest.top_cases[0]
    assert top.title == "Fentanyl powder 99% (50g)"
    assert top.link == f"{BASE_URL}/cases/{seed.cases['fentanyl']}"
    assert top.classes == ("opioid",)
    assert top.source_name == "Demo Market <b>"
    assert seed.cases["old"] not in {c.case_id for c in digest.top_cases}
    assert digest.backlog == 5
    assert digest.oldest_backlog_age == timedelta(days=7)
    assert digest.week_to_date


def test_the_digest_counts_substances_by_listing(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW)

    counts = {s.concept_id: (s.listings, s.mentions) for s in digest.substances}
    # Two versions of the fentanyl listing this week: one listing, two mentions.
    assert counts["fentanyl"] == (1, 2)
    assert counts["protonitazene"] == (1, 1)
    assert "etizolam" not in counts  # seen the week before
    assert digest.substances[0].concept_id == "fentanyl"


def test_the_digest_reports_crawls_with_refused_blocked_and_errors(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW)

    (source,) = digest.sources
    assert source.source_id == seed.source_id
    assert source.runs == 2
    assert source.failed_runs == 1
    assert source.last_status == "failed"
    assert source.pages == 6
    assert source.refused == 4  # guard/refused 3 + robotstxt/forbidden 1; the subkey not again
    assert source.blocked == 2
    assert source.errors == (
        f"run {seed.run_ids[1]}: robots.txt timed out: <b>host disallowed</b>",
    )
    assert source.has_problems


def test_an_empty_week_gives_an_empty_digest(factory: sessionmaker[Session], seed: Seed) -> None:
    with factory() as session:
        digest = build_digest(session, week="2026-W40", now=NOW)

    assert (digest.new_cases, digest.top_cases, digest.substances, digest.sources) == (
        0,
        (),
        (),
        (),
    )
    assert not digest.week_to_date
    assert "No new flagged listings" in render_text(digest)


def test_the_default_week_is_the_week_of_now(factory: sessionmaker[Session], seed: Seed) -> None:
    with factory() as session:
        digest = build_digest(session, week=None, now=NOW)

    assert digest.week == WEEK
    assert digest.start == datetime(2026, 11, 23, tzinfo=UTC)
    assert digest.end == datetime(2026, 11, 30, tzinfo=UTC)


def test_weeks() -> None:
    assert iso_week(NOW) == "2026-W48"
    assert previous_week(NOW) == "2026-W47"
    assert iso_week(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"
    assert week_bounds("2026-W53")[0] == datetime(2026, 12, 28, tzinfo=UTC)


@pytest.mark.parametrize("week", ["2026-48", "2026-W54", "2025-W53", "W48", "2026-W48; DROP"])
def test_a_bad_week_is_refused(week: str) -> None:
    with pytest.raises(WeekError, match="week"):
        week_bounds(week)


def test_ages() -> None:
    assert format_age(None) == "-"
    assert format_age(timedelta(hours=5, minutes=59)) == "5 h"
    assert format_age(timedelta(days=1, hours=3)) == "1 day 3 h"
    assert format_age(timedelta(days=7)) == "7 days 0 h"


def test_the_preview_contains_the_seeded_cases_and_escapes_them(
    factory: sessionmaker[Session], seed: Seed, tmp_path: Path
) -> None:
    with factory() as session:
        path = write_preview(
            session, tmp_path / "out" / "digest-preview.html", now=NOW, week=WEEK, base_url=BASE_URL
        )

    html = path.read_text(encoding="utf-8")
    page = lxml.html.fromstring(html)
    assert page.xpath("//script") == []
    assert [
        e
        for e in page.iter()
        if isinstance(e.tag, str) and any(a.startswith("on") for a in e.attrib)
    ] == []
    assert "<b>host disallowed</b>" not in html
    links = page.xpath("//table[@id='top-cases']//a")
    assert [a.text_content() for a in links] == [
        "Fentanyl powder 99% (50g)",
        "Protonitazene HCl",
        XSS_TITLE,
        "4-MMC crystals",
    ]
    assert links[0].get("href") == f"{BASE_URL}/cases/{seed.cases['fentanyl']}"
    assert page.xpath("string(//*[@id='new-cases'])") == "4"
    assert page.xpath("string(//*[@id='backlog'])") == "5"
    substances = page.xpath("//table[@id='substances']/tbody/tr/td[1]/text()")
    assert "Fentanyl" in substances and XSS_TITLE in substances
    assert XSS_IMG in page.xpath("string(//table[@id='top-cases'])")
    assert "robots.txt timed out: <b>host disallowed</b>" in page.xpath(
        "string(//table[@id='sources'])"
    )


def test_the_text_digest_lists_cases_with_links(factory: sessionmaker[Session], seed: Seed) -> None:
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW, base_url=BASE_URL)

    text = render_text(digest)
    html = render_html(digest)

    assert f"{BASE_URL}/cases/{seed.cases['nitazene']}" in text
    assert "Protonitazene HCl" in text
    assert XSS_TITLE in text  # plain text is not HTML: nothing to escape
    assert XSS_TITLE not in html
    assert digest.subject == "SynthWatch 2026-W48: 4 new flagged listings"
