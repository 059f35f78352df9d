"""The weekly digest: what it counts for a week, and how it renders (escaped) and previews."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from sqlalchemy.orm import Session, sessionmaker

from review.digest.build import (
    Reader,
    build_digest,
    iso_week,
    previous_week,
    week_bounds,
    weeks_before,
    what_changed,
)
from review.digest.render import (
    format_age,
    render_html,
    render_text,
    subject_line,
    write_preview,
)
from review.errors import WeekError
from storage.cases import CaseSummary, DecisionTag
from tests.review.digest_testkit import FORUM_NAME, XSS_TERM, DigestSeed, seed_digest
from tests.review.review_testkit import NOW, WEEK, XSS_IMG, XSS_TITLE, Seed

BASE_URL = "https://review.example"


@pytest.fixture
def history(factory: sessionmaker[Session]) -> DigestSeed:
    return seed_digest(factory)


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
    # The kinds an analyst reads first (price, quantity, purity, ...), then the rest; four at most.
    assert [i.kind for i in top.indicators] == ["purity", "shipping", "contact", "bulk"]
    assert top.indicators[0].value == "99%"
    assert seed.cases["old"] not in {c.case_id for c in digest.top_cases}
    assert digest.backlog == 5
    assert digest.oldest_backlog_age == timedelta(days=7)
    assert digest.week_to_date


def test_the_digest_counts_substances_by_listing_on_offer(
    factory: sessionmaker[Session], seed: Seed
) -> None:
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW)

    counts = {s.concept_id: (s.offers, s.mentions) for s in digest.substances}
    # Two versions of the fentanyl listing this week: one listing, two mentions.
    assert counts["fentanyl"] == (1, 2)
    assert counts["protonitazene"] == (1, 1)
    assert "etizolam" not in counts  # seen the week before


def test_news_and_harm_reduction_pages_naming_fentanyl_do_not_count(
    factory: sessionmaker[Session], history: DigestSeed
) -> None:
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW)

    counts = {s.concept_id: s.offers for s in digest.substances}
    # Four listings named fentanyl this week: the seeded offer, the W47 listing with a case that
    # now names it, and a news report and a naloxone page, which are no offers.
    assert counts["fentanyl"] == 2
    # An analyst dismissed the mephedrone case: it was no offer after all.
    assert "mephedrone" not in counts
    assert "mephedrone" not in {s.concept_id for s in digest.first_seen}


def test_the_digest_counts_decisions_by_kind(
    factory: sessionmaker[Session], history: DigestSeed
) -> None:
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW)

    assert dict(digest.decisions) == {
        "confirmed": 1,
        "dismissed": 1,
        "escalated": 2,
        "approved": 0,
        "rejected": 0,
        "referred": 0,
    }
    assert digest.decisions_total == 4  # last week's confirmation is not counted
    assert digest.backlog == 2
    assert digest.oldest_backlog_age == timedelta(hours=1)


def test_substances_trend_against_the_mean_of_the_four_weeks_before(
    factory: sessionmaker[Session], history: DigestSeed
) -> None:
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW)

    (trend,) = digest.trends  # the others are in one listing only: no trend
    assert (trend.concept_id, trend.this_week, trend.before_mean) == ("fentanyl", 2, 0.25)
    assert digest.chart_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert digest.chart_data_uri.startswith("data:image/png;base64,iVBOR")
    # One table: the substance that is up first, then the ones first seen (all the others).
    assert [s.note for s in digest.substances] == ["up"] + ["first seen"] * 3
    assert digest.substances[0].concept_id == "fentanyl"
    first = {s.concept_id for s in digest.first_seen}
    assert "protonitazene" in first
    assert "fentanyl" not in first  # on offer in W44
    assert "etizolam" not in first  # seen in W47, not this week
    assert [c.term for c in digest.candidates] == [XSS_TERM, "bromazolam-x"]
    assert digest.candidates_total == 2


def test_the_digest_reports_failed_blocked_robots_and_unscheduled_sources(
    factory: sessionmaker[Session], history: DigestSeed
) -> None:
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW)

    forum = next(s for s in digest.sources if s.source_id == "forum")
    assert (forum.robots, forum.robots_unreachable, forum.blocked) == (2, 1, 1)
    assert (forum.error_count, forum.refused, forum.interrupted_runs) == (3, 1, 1)
    assert forum.source_name == FORUM_NAME and forum.has_problems
    assert forum.problem_notes == (
        "1 interrupted run",
        "robots.txt unreachable 1 time (the host stays disallowed until it answers)",
        "1 block page (CAPTCHA or WAF, not evaded)",
        "3 errors",
    )
    assert forum.information == (
        "2 requests disallowed by robots.txt",
        "1 request refused by the open-web guard (out of scope, .onion, login pages)",
    )
    demo = next(s for s in digest.sources if s.source_id == history.base.source_id)
    assert demo.runs == 5 and demo.failed_runs == 1 and demo.pages == 9
    assert demo.robots == 1  # Scrapy's robotstxt/forbidden
    assert demo.errors == (
        f"run {history.base.run_ids[1]}: robots.txt timed out: <b>host disallowed</b>",
    )
    missed = {m.source_id: m for m in digest.missed_schedules}
    assert set(missed) == {"quiet", "waiting"}  # the forum ran its once a week
    assert (missed["quiet"].expected, missed["quiet"].runs) == (3, 0)  # Mon-Wed noon at 06:00
    assert missed["waiting"].note == "not approved by a legal reviewer yet"
    assert [(p.job, p.status) for p in digest.ledger_problems] == [
        ("crawl of Quiet shop", "failed")
    ]
    assert digest.source_problems == 2 + 2 + 1
    assert [(u.week, u.username) for u in digest.undelivered] == [("2026-W45", "ana")]


def test_legal_readers_get_the_cases_waiting_for_them_but_not_their_own(
    factory: sessionmaker[Session], history: DigestSeed
) -> None:
    cases = history.base.cases
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW)
    lee = Reader(history.users["lee"], "lee", "legal")
    lou = Reader(history.users["lou"], "lou", "legal")
    ana = Reader(history.users["ana"], "ana", "analyst")

    assert [w.case.case_id for w in digest.waiting_for(lou)] == [cases["nitazene"], cases["old"]]
    assert [w.case.case_id for w in digest.waiting_for(lee)] == [cases["nitazene"]]  # old: his
    assert digest.waiting_for(ana) == ()
    assert len(digest.waiting_for(None)) == 2  # a preview shows the section
    assert subject_line(digest, reader=lou) == (
        "SynthWatch 2026-W48: 4 new flagged listings, 2 waiting for your decision"
    )
    assert subject_line(digest, reader=ana, late=True) == (
        "[late] SynthWatch 2026-W48: 4 new flagged listings"
    )
    page = lxml.html.fromstring(render_html(digest, reader=lou))
    assert page.xpath("//table[@id='waiting']//a/@href") == [
        f"http://127.0.0.1:8000/cases/{cases['nitazene']}",
        f"http://127.0.0.1:8000/cases/{cases['old']}",
    ]
    assert "waiting for your decision" not in render_html(digest, reader=ana).lower()
    assert (
        lxml.html.fromstring(render_html(digest, reader=ana)).xpath("//*[@id='waiting-section']")
        == []
    )


def test_both_parts_of_a_seeded_week(factory: sessionmaker[Session], history: DigestSeed) -> None:
    cases = history.base.cases
    with factory() as session:
        digest = build_digest(session, week=WEEK, now=NOW, base_url=BASE_URL)
    reader = Reader(history.users["lou"], "lou", "legal")
    html = render_html(digest, reader=reader, late_due=datetime(2026, 11, 23, 7, tzinfo=UTC))
    text = render_text(digest, reader=reader, late_due=datetime(2026, 11, 23, 7, tzinfo=UTC))
    page = lxml.html.fromstring(html)

    assert page.xpath("string(//*[@id='new-cases'])") == "4"
    assert page.xpath("string(//*[@id='decisions-total'])") == "4"
    assert page.xpath("string(//*[@id='backlog'])") == "2"
    assert page.xpath("string(//*[@id='oldest'])") == "1 h"
    assert page.xpath("string(//*[@data-kind='escalated'])") == "2"
    assert "was due Mon 23 Nov 2026 07:00 UTC" in page.xpath("string(//*[@id='late'])")
    assert page.xpath("//img[@id='trend-chart']/@src")[0].startswith("data:image/png;base64,")
    assert page.xpath(
        "//table[@id='substances']//tr[td[@class='note']='up']//*[@class='name']/text()"
    ) == ["Fentanyl"]
    cells = page.xpath("//table[@id='substances']//tr[@data-concept='fentanyl']/td")
    assert [" ".join(c.itertext()) for c in cells] == ["Fentanyl opioid", "2", "0.25", "up"]
    assert page.xpath("//*[@id='ledger-problems']/li/text()")[0].startswith("crawl of Quiet shop")
    assert XSS_TERM in page.xpath("string(//table[@id='candidates'])")
    assert "Quiet shop" in page.xpath("string(//*[@id='missed-schedules'])")
    assert "crawl:quiet" not in html and "(quiet," not in html  # ids are for machines
    assert "550 5.1.1" in page.xpath("string(//*[@id='undelivered'])")
    assert FORUM_NAME in page.xpath("string(//table[@id='sources'])")
    assert page.xpath("//table[@id='top-cases']//a/@href")[0] == (
        f"{BASE_URL}/cases/{cases['fentanyl']}"
    )

    for expected in (
        "New flagged listings: 4",
        "Decisions:            4",
        "Waiting for review:   2 (oldest 1 h)",
        "WAITING FOR YOUR DECISION",
        f"{BASE_URL}/cases/{cases['nitazene']}",
        f"{BASE_URL}/cases/{cases['fentanyl']}",
        "indicators: purity (99%); shipping; contact (wickr); bulk (10 g)",
        " 9.10  Fentanyl powder 99% (50g)",
        "new: new listing; not reviewed yet",
        "escalated: new listing; confirmed and escalated by ana this week; waiting for a legal "
        "decision",
        "   2 /  0.25  Fentanyl (opioid): up",
        "   1 /  0.00  Protonitazene (nitazene): first seen",
        f"   7  {XSS_TERM} (new)",
        "LATE: this digest was due Mon 23 Nov 2026 07:00 UTC",
        "Quiet shop (cron:0 6 * * *): 0 of 3 scheduled runs",
        "! crawl of Quiet shop at Tue 24 Nov 06:00 UTC: failed (exit code 1)",
        "! 2026-W45 to ana after 1 attempt: 550 5.1.1",
        f"! {FORUM_NAME}: 1 run, last interrupted, 0 pages\n    to look at: 1 interrupted run;",
        "    2 requests disallowed by robots.txt; 1 request refused by the open-web guard",
        "Generated 2026-11-25 12:00 UTC by SynthWatch for lou, subscribed",
    ):
        assert expected in text, expected
    assert "<" + "b>iso" in text  # plain text is not HTML: nothing to escape
    assert "&lt;" not in text


def test_the_html_part_keeps_scraped_markup_inert(
    factory: sessionmaker[Session], history: DigestSeed
) -> None:
    with factory() as session:
        html = render_html(build_digest(session, week=WEEK, now=NOW))
    page = lxml.html.fromstring(html)

    assert page.xpath("//script") == []
    assert page.xpath("//b | //i | //svg") == []
    assert [
        e
        for e in page.iter()
        if isinstance(e.tag, str) and any(a.startswith("on") for a in e.attrib)
    ] == []
    assert XSS_TITLE not in html and XSS_IMG not in html and XSS_TERM not in html
    assert XSS_IMG in page.xpath("string(//table[@id='top-cases'])")
    assert XSS_TITLE in [a.text_content() for a in page.xpath("//table[@id='top-cases']//a")]
    # Every link goes to the review app: none comes from a crawled page.
    assert {h.split("/cases/")[0] for h in page.xpath("//a/@href")} == {
        "http://127.0.0.1:8000/",
        "http://127.0.0.1:8000",
    }


def test_an_empty_week_gives_an_empty_digest(factory: sessionmaker[Session], seed: Seed) -> None:
    with factory() as session:
        digest = build_digest(session, week="2026-W40", now=NOW)

    assert (digest.new_cases, digest.top_cases, digest.substances, digest.sources) == (
        0,
        (),
        (),
        (),
    )
    assert (digest.trends, digest.chart_png, digest.decisions_total) == ((), b"", 0)
    assert not digest.week_to_date
    assert "No new flagged listings" in render_text(digest)
    assert "trend-chart" not in render_html(digest)


def test_the_default_week_is_the_week_of_now(factory: sessionmaker[Session], seed: Seed) -> None:
    with factory() as session:
        digest = build_digest(session, week=None, now=NOW)

    assert digest.week == WEEK
    assert digest.start == datetime(2026, 11, 23, tzinfo=UTC)
    assert digest.end == datetime(2026, 11, 30, tzinfo=UTC)


def test_each_top_case_says_what_changed() -> None:
    start, end = week_bounds(WEEK)
    summary = CaseSummary(
        case_id=7,
        state="referred",
        score=8.0,
        title="t",
        url="u",
        source_id="s",
        source_name="S",
        first_seen=start - timedelta(days=20),
        created_at=start + timedelta(days=1),
        substances=(),
    )
    decisions = (
        DecisionTag("confirmed", start + timedelta(days=2), "ana"),
        DecisionTag("escalated", start + timedelta(days=2, hours=1), "ana"),
        DecisionTag("approved", start + timedelta(days=3), "lee"),
        DecisionTag("referred", end + timedelta(hours=2), "lee"),
    )

    assert what_changed(summary, decisions, start=start, end=end) == (
        "listed since 03 Nov 2026; confirmed and escalated by ana, approved by lee this week; "
        "referred by lee since; already referred"
    )
    fresh = replace(summary, state="new", first_seen=start + timedelta(hours=1))
    assert what_changed(fresh, (), start=start, end=end) == "new listing; not reviewed yet"


def test_weeks() -> None:
    assert iso_week(NOW) == "2026-W48"
    assert previous_week(NOW) == "2026-W47"
    assert iso_week(datetime(2027, 1, 1, tzinfo=UTC)) == "2026-W53"
    assert week_bounds("2026-W53")[0] == datetime(2026, 12, 28, tzinfo=UTC)
    assert weeks_before("2027-W01", 2) == ["2026-W53", "2026-W52"]


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
    substances = page.xpath("//table[@id='substances']/tbody/tr//*[@class='name']/text()")
    assert "Fentanyl" in substances and XSS_TITLE in substances
    assert "robots.txt timed out: <b>host disallowed</b>" in page.xpath(
        "string(//table[@id='sources'])"
    )
    # A preview shows the legal reviewers' section too.
    assert page.xpath("//*[@id='waiting-section']")
