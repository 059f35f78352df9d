"""The spans stored per listing version are capped; the counts of what was found are kept."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from storage.db import make_session_factory, transaction
from storage.listings import (
    MAX_STORED_SPANS,
    AnalysisRecord,
    IndicatorRecord,
    MentionRecord,
    found_span_count,
)
from storage.models import ListingVersion
from tests.conftest import NOW
from tests.factories import add_listing, add_source


def mention(start: int, concept: str = "fentanyl", cls: str = "opioid") -> MentionRecord:
    return MentionRecord(concept, concept.title(), cls, "", start, start + 4, "word", 0.9)


def price(start: int) -> IndicatorRecord:
    return IndicatorRecord("price", start, start + 4, "$120", "USD 120")


def stored(session: Session, analysis: AnalysisRecord) -> ListingVersion:
    add_source(session, NOW)
    version = add_listing(session, "https://shop.example/1", NOW, text="x", analysis=analysis)
    session.expire_all()
    return session.get(ListingVersion, version.version.id)  # type: ignore[return-value]


def test_a_version_keeps_at_most_the_cap_and_the_whole_counts(engine: Engine) -> None:
    many = MAX_STORED_SPANS * 4
    analysis = AnalysisRecord(
        score=1.0,
        offer=True,
        mentions=[mention(10 * n) for n in range(many // 2)],
        indicators=[price(10 * n + 5) for n in range(many // 2)],
    )
    with transaction(make_session_factory(engine)) as session:
        version = stored(session, analysis)

        assert len(version.mentions) + len(version.indicators) == MAX_STORED_SPANS
        assert version.span_counts == {
            "mentions": {"opioid": many // 2},
            "indicators": {"price": many // 2},
        }
        assert found_span_count(version) == many
        kept = sorted([m.start for m in version.mentions] + [i.start for i in version.indicators])
        assert kept == [5 * n for n in range(MAX_STORED_SPANS)]  # the earliest, in text order


def test_the_first_of_every_substance_kind_and_identifier_survives_the_cap(engine: Engine) -> None:
    late = 10 * MAX_STORED_SPANS
    contact = IndicatorRecord("contact", late, late + 9, "wickr: ck", "wickr", "wickr:ck")
    analysis = AnalysisRecord(
        score=1.0,
        offer=True,
        mentions=[mention(10 * n) for n in range(MAX_STORED_SPANS)]
        + [mention(late + 20, "protonitazene", "nitazene")],
        indicators=[price(10 * n + 5) for n in range(MAX_STORED_SPANS)] + [contact],
    )
    with transaction(make_session_factory(engine)) as session:
        version = stored(session, analysis)

        assert {m.concept_id for m in version.mentions} == {"fentanyl", "protonitazene"}
        assert [i.key for i in version.indicators if i.kind == "contact"] == ["wickr:ck"]
        assert len(version.mentions) + len(version.indicators) == MAX_STORED_SPANS
        assert version.span_counts == {
            "mentions": {"nitazene": 1, "opioid": MAX_STORED_SPANS},
            "indicators": {"contact": 1, "price": MAX_STORED_SPANS},
        }


def test_under_the_cap_every_span_is_stored_and_counted(engine: Engine) -> None:
    analysis = AnalysisRecord(score=1.0, offer=True, mentions=[mention(0)], indicators=[price(5)])
    with transaction(make_session_factory(engine)) as session:
        version = stored(session, analysis)

        assert [(m.start, m.end) for m in version.mentions] == [(0, 4)]
        assert [(i.start, i.end) for i in version.indicators] == [(5, 9)]
        assert found_span_count(version) == 2


def test_a_version_stored_before_the_cap_counts_its_rows(engine: Engine) -> None:
    analysis = AnalysisRecord(score=1.0, offer=True, mentions=[mention(0), mention(5)])
    with transaction(make_session_factory(engine)) as session:
        version = stored(session, analysis)
        version.span_counts = None  # as migration 0007 leaves the versions already stored

        assert found_span_count(version) == 2
