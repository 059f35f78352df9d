from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage.cases import CaseFilter, count_queue, queue_case_ids
from storage.crawls import start_crawl_run
from storage.listings import (
    AnalysisRecord,
    IndicatorRecord,
    MentionRecord,
    StoredListing,
    store_listing,
)
from storage.models import AuditEvent, Capture, ListingVersion, User
from storage.sources import add_approval, approval_state, upsert_source
from storage.users import create_user
from tests import factories
from tests.factories import add_source


def add_capture(session: Session, now: datetime) -> Capture:
    run = start_crawl_run(session, source_id="shop", now=now)
    return factories.add_capture(session, run.id, "https://shop.example/item/1", now)


def offer(score: float = 0.9) -> AnalysisRecord:
    return AnalysisRecord(
        score=score,
        offer=True,
        mentions=[
            MentionRecord(
                concept_id="carfentanil",
                name="Carfentanil",
                substance_class="fentanyl",
                control="US Schedule II",
                start=8,
                end=19,
                text="carfentanil",
                confidence=1.0,
            )
        ],
        indicators=[IndicatorRecord("price", 24, 28, "$120", "USD 120")],
        reasons=[{"text": "names carfentanil", "weight": 0.6}],
    )


def store(
    session: Session,
    capture: Capture,
    text: str,
    analysis: AnalysisRecord,
    now: datetime,
    fields: dict[str, str] | None = None,
) -> StoredListing:
    return store_listing(
        session,
        source_id="shop",
        url=capture.url,
        capture=capture,
        title="Item",
        text=text,
        fields=fields or {},
        analysis=analysis,
        now=now,
    )


def legal_user(session: Session, now: datetime, role: str = "legal") -> User:
    return create_user(session, username=f"ivy-{role}", password_hash="x", role=role, now=now)


def test_approval_is_bound_to_the_scope_fingerprint(session: Session, now: datetime) -> None:
    source = add_source(session, now)
    assert approval_state(session, "shop", "scope-1") == "unapproved"
    add_approval(session, source, approver=legal_user(session, now), legal_basis="Public", now=now)
    assert approval_state(session, "shop", "scope-1") == "approved"
    assert approval_state(session, "shop", "scope-2") == "rescoped"
    assert approval_state(session, "nowhere", "scope-1") == "unknown"


def test_widening_a_source_needs_a_new_approval(session: Session, now: datetime) -> None:
    source = add_source(session, now)
    add_approval(session, source, approver=legal_user(session, now), legal_basis="Public", now=now)
    upsert_source(
        session,
        source_id="shop",
        name="Invented shop",
        config={"seeds": ["https://shop.example/", "https://other.example/"]},
        scope_fingerprint="scope-2",
        now=now,
    )
    assert approval_state(session, "shop", "scope-2") == "rescoped"


def test_an_unchanged_text_keeps_the_version_and_a_changed_one_adds_one(
    session: Session, now: datetime
) -> None:
    add_source(session, now)
    capture = add_capture(session, now)
    first = store(session, capture, "Selling carfentanil for $120", offer(), now)
    later = now + timedelta(days=1)
    same = store(session, capture, "Selling  carfentanil\nfor $120", offer(), later)
    assert not same.new_version and same.version.id == first.version.id
    assert same.listing.first_seen == now and same.listing.last_seen == later
    changed = store(session, capture, "Selling carfentanil for $99", offer(0.95), later)
    assert changed.new_version
    assert len(session.scalars(select(ListingVersion)).all()) == 2
    assert changed.case is not None and changed.case.score == 0.95


def test_a_flagged_listing_opens_one_case_with_an_audit_row(
    session: Session, now: datetime
) -> None:
    add_source(session, now)
    capture = add_capture(session, now)
    stored = store(
        session, capture, "Selling carfentanil for $120", offer(), now, fields={"price": "$120"}
    )
    assert stored.case is not None and stored.case.state == "new"
    assert stored.version.mentions[0].concept_id == "carfentanil"
    assert stored.version.indicators[0].value == "USD 120"
    actions = session.scalars(select(AuditEvent.action)).all()
    assert actions == ["case.opened"]
    assert queue_case_ids(session, CaseFilter(), limit=10) == [stored.case.id]


def test_a_benign_listing_opens_no_case(session: Session, now: datetime) -> None:
    add_source(session, now)
    capture = add_capture(session, now)
    stored = store(
        session,
        capture,
        "Customs seized carfentanil",
        AnalysisRecord(score=0.1, offer=False),
        now,
    )
    assert stored.case is None
    assert count_queue(session, CaseFilter(state=None)) == 0
