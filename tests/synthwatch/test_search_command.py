"""`synthwatch search QUERY`: the listings a query matches with their snippets, as text or
JSON, filtered like the listings page, each search an audit row of the person at the command
line; a query that can't be read is a one-line error. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from storage.crawls import start_crawl_run
from storage.db import make_session_factory, transaction
from storage.listings import AnalysisRecord, store_listing
from storage.models import AuditEvent
from storage.sources import upsert_source
from synthwatch.cli import main
from tests.conftest import NOW
from tests.factories import add_capture

# Invented listings: (title, text, fields, score, flagged).
LISTINGS = {
    "pills": (
        "Pressed pills M30",
        "Pressed pills, blue M30, fentanyl inside. Stealth shipping EU.",
        {"seller": "pillman"},
        8.0,
        True,
    ),
    "powder": ("Fentanyl HCl powder", "Fentanyl HCl 99%, 5g minimum.", {}, 9.0, True),
    "news": (
        "Seizure of pressed pills",
        "Customs seized pressed pills said to contain fentanyl.",
        {},
        0.4,
        False,
    ),
    # Scraped text may carry terminal escapes and direction overrides: never printed raw.
    "escapes": (
        "Carfentanil \x1b[2J\x1b]0;owned\x07 offer",
        "carfentanil\u202e drop \x1b[31mred\x1b[0m \x9b31m now",
        {},
        7.0,
        True,
    ),
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, any_engine: Engine) -> dict[str, int]:
    """A store holding the invented listings on SQLite or PostgreSQL; their ids by key."""
    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv(
        "SYNTHWATCH_DATABASE_URL", any_engine.url.render_as_string(hide_password=False)
    )
    monkeypatch.setattr("synthwatch.commands.common.getpass.getuser", lambda: "opsuser")
    ids = {}
    with transaction(make_session_factory(any_engine)) as session:
        for source in ("shop", "forum"):
            upsert_source(
                session,
                source_id=source,
                name=f"The {source}",
                config={},
                scope_fingerprint="a" * 64,
                now=NOW,
            )
        run = start_crawl_run(session, source_id="shop", now=NOW)
        for key, (title, text, fields, score, flagged) in LISTINGS.items():
            url = f"http://127.0.0.1:8421/{key}"
            stored = store_listing(
                session,
                source_id="forum" if key == "news" else "shop",
                url=url,
                capture=add_capture(session, run.id, url, NOW),
                title=title,
                text=text,
                fields=fields,
                analysis=AnalysisRecord(score=score, offer=flagged),
                now=NOW,
            )
            ids[key] = stored.listing.id
    return ids


def searches(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as session:
        query = select(AuditEvent).where(AuditEvent.action == "search").order_by(AuditEvent.id)
        return list(session.scalars(query))


def test_text_mode_prints_id_source_score_title_and_marked_snippet(
    home: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", '"pressed pills" fentanyl']) == 0

    captured = capsys.readouterr()
    assert captured.out.splitlines() == [
        f"{home['pills']}\tThe shop\t8.00\t[Pressed pills] M30",
        "\t[Pressed pills], blue M30, [fentanyl] inside. Stealth shipping EU.",
        f"{home['news']}\tThe forum\t0.40\tSeizure of [pressed pills]",
        "\tCustoms seized [pressed pills] said to contain [fentanyl].",
    ]
    assert "2 listings match '\"pressed pills\" fentanyl'" in captured.err


def test_json_mode_gives_segments_counts_and_cases(
    home: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "fentanyl OR carfent*", "--json", "--limit", "2"]) == 0

    document = json.loads(capsys.readouterr().out)
    assert document["query"] == "fentanyl OR carfent*"
    assert document["total"] == 4
    assert [r["listing_id"] for r in document["results"]] == [home["powder"], home["pills"]]
    powder = document["results"][0]
    assert powder["title_segments"] == [["Fentanyl", True], [" HCl powder", False]]
    assert powder["snippet"] == {
        "where": "text",
        "cut_before": False,
        "cut_after": False,
        "segments": [["Fentanyl", True], [" HCl 99%, 5g minimum.", False]],
    }
    assert powder["case_id"] is not None and powder["case_state"] == "new"


def test_filters_narrow_like_the_listings_page(
    home: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "fentanyl", "--json", "--flag", "unflagged"]) == 0
    unflagged = json.loads(capsys.readouterr().out)
    assert main(["search", "fentanyl", "--json", "--source", "shop", "--case", "with"]) == 0
    shop = json.loads(capsys.readouterr().out)

    assert [r["listing_id"] for r in unflagged["results"]] == [home["news"]]
    assert [r["listing_id"] for r in shop["results"]] == [home["powder"], home["pills"]]
    assert shop["filters"] == {"source": "shop", "case": "with"}


def test_scraped_control_characters_never_reach_the_terminal(
    home: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "carfentanil"]) == 0
    text = capsys.readouterr().out
    assert main(["search", "carfentanil", "--json"]) == 0
    as_json = capsys.readouterr().out

    for output in (text, as_json):
        assert not any(c in output for c in "\x1b\x07\x9b\u202e"), output
    assert f"{home['escapes']}\tThe shop\t7.00\t[Carfentanil]" in text
    assert "[carfentanil] drop" in text
    assert json.loads(as_json)["results"][0]["title"].startswith("Carfentanil \x1b[2J")


def test_every_search_is_audited_as_the_person_at_the_command_line(
    home: dict[str, int], any_engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["search", "fentanyl", "--limit", "1"]) == 0
    assert main(["--as", "dana.ops", "search", "pressed pills", "--flag", "flagged"]) == 0

    rows = searches(any_engine)
    assert [(r.actor, r.object_type, r.object_id, r.actor_id) for r in rows] == [
        ("cli:opsuser", "search", "cli", None),
        ("cli:dana.ops", "search", "cli", None),
    ]
    # The count is of every match, not only the ones the limit printed.
    assert rows[0].detail == {"query": "fentanyl", "filters": {}, "results": 3}
    assert rows[1].detail == {
        "query": "pressed pills",
        "filters": {"flag": "flagged"},
        "results": 1,
    }


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('"pressed pills', "is not closed"),
        ("NOT fentanyl", "alone matches nearly every listing"),
        ("f*", "a prefix needs at least 2"),
        ("  ", "Nothing to search for"),
    ],
)
def test_a_query_that_cant_be_read_is_a_one_line_error(
    home: dict[str, int],
    any_engine: Engine,
    capsys: pytest.CaptureFixture[str],
    query: str,
    message: str,
) -> None:
    assert main(["search", query]) == 2

    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("error: search ")
    assert message in captured.err and "Traceback" not in captured.err
    assert len(captured.err.strip().splitlines()) == 1
    assert searches(any_engine) == []


def test_a_bad_limit_is_a_usage_error(
    home: dict[str, int], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["search", "fentanyl", "--limit", "0"])

    assert stopped.value.code == 2
    assert "must be a whole number from 1 to 1000" in capsys.readouterr().err
