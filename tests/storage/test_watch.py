"""Watch rules: each kind of condition, their AND, new matches only, and exactly one alert per
case and rule across recrawls, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from review.users import create_user
from storage.db import make_session_factory, transaction
from storage.listing_store import MentionRecord
from storage.listings import AnalysisRecord, IndicatorRecord
from storage.models import AuditEvent, Case, User, WatchAlert, WatchRule
from storage.seller_pages import sellers_of_listing
from storage.sources import upsert_source
from storage.watch import (
    MATCH_OVERLAP,
    RuleSpec,
    WatchRuleError,
    check_rule,
    create_rule,
    match_rules,
    rule_alerts,
    rules_of,
    set_rule_active,
    update_rule,
)
from tests.factories import add_listing

NITAZENE = MentionRecord(
    "isotonitazene", "Isotonitazene", "nitazene", "", 0, 14, "isotonitazene", 1.0
)
FENTANYL = MentionRecord("fentanyl", "Fentanyl", "fentanyl", "", 0, 8, "fentanyl", 1.0)


@pytest.fixture
def factory(any_engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(any_engine)


def source(session: Session, now: datetime, source_id: str) -> None:
    upsert_source(
        session,
        source_id=source_id,
        name=f"Invented {source_id}",
        config={"seeds": [f"https://{source_id}.example/"]},
        scope_fingerprint="f" * 64,
        now=now,
    )


def offer(
    session: Session,
    now: datetime,
    path: str,
    *mentions: MentionRecord,
    site: str = "shop",
    text: str = "",
    score: float = 0.9,
    keys: tuple[str, ...] = (),
    is_offer: bool = True,
) -> int:
    """Store an offer of an invented site naming these substances; return its case id (or 0)."""
    source(session, now, site)
    indicators = [IndicatorRecord("contact", 0, len(k), k, k.partition(":")[0], k) for k in keys]
    analysis = AnalysisRecord(
        score=score, offer=is_offer, mentions=list(mentions), indicators=indicators
    )
    stored = add_listing(
        session,
        f"https://{site}.example/{path}",
        now,
        source_id=site,
        text=text or f"{path} {' '.join(m.text for m in mentions)} {' '.join(keys)}",
        title=f"Title of {path}",
        analysis=analysis,
    )
    return stored.case.id if stored.case else 0


def analyst(session: Session, now: datetime, name: str = "ana") -> User:
    user = create_user(
        session, username=name, password="correct horse battery staple", role="analyst", now=now
    )
    user.email = f"{name}@synthwatch.example"
    return user


def alerted(session: Session, rule: WatchRule) -> list[int]:
    return sorted(alert.case_id for alert in rule_alerts(session, rule.id))


def test_each_kind_of_condition_matches_what_it_names(
    factory: sessionmaker[Session], now: datetime
) -> None:
    later = now + timedelta(minutes=5)
    with transaction(factory) as session:
        user = analyst(session, now)
        source(session, now, "shop")
        source(session, now, "forum")
        # An old fentanyl offer makes fentanyl "seen before"; the rules come after it.
        old = offer(
            session, now - timedelta(days=30), "old-fentanyl", FENTANYL, keys=("wickr:chemking",)
        )
        rules = {
            kind: create_rule(session, user, spec, now=now)
            for kind, spec in {
                "substance": RuleSpec("iso", concept_id="isotonitazene"),
                "class": RuleSpec("nitazenes", substance_class="nitazene"),
                "search": RuleSpec("powder", search='"pure powder" OR crystal*'),
                "source": RuleSpec("forum", source_id="forum"),
                "score": RuleSpec("high", min_score=0.95),
                "novel": RuleSpec("novel", novel_substance=True),
                "and": RuleSpec("iso on forum", concept_id="isotonitazene", source_id="forum"),
            }.items()
        }
        seller_id = sellers_of_listing(session, session.get_one(Case, old).listing_id)[0].id
        rules["seller"] = create_rule(
            session, user, RuleSpec("chemking", seller_id=seller_id), now=now
        )
    with transaction(factory) as session:
        iso_shop = offer(session, later, "iso-1", NITAZENE, text="iso pure powder", score=0.8)
        iso_forum = offer(
            session, later + timedelta(seconds=1), "t/9", NITAZENE, site="forum", score=0.97
        )
        fent = offer(
            session, later, "fent-2", FENTANYL, text="crystals", keys=("wickr:chemking",), score=0.5
        )
        news = offer(session, later, "news", NITAZENE, is_offer=False)
    assert news == 0  # not an offer: no case, nothing to alert on
    with transaction(factory) as session:
        report = match_rules(session, now=later + timedelta(minutes=1))
        assert report.rules == 8
        got = {
            kind: alerted(session, session.get_one(WatchRule, r.id)) for kind, r in rules.items()
        }
    assert got["substance"] == sorted([iso_shop, iso_forum])
    assert got["class"] == sorted([iso_shop, iso_forum])
    assert got["search"] == sorted([iso_shop, fent])  # a phrase, and crystal* for "crystals"
    assert got["source"] == [iso_forum]
    assert got["score"] == [iso_forum]
    assert got["seller"] == [fent]  # the old offer matched before the rule: never alerted
    assert got["novel"] == [iso_shop]  # the first listing to name isotonitazene; fentanyl was seen
    assert got["and"] == [iso_forum]


def test_one_alert_per_case_and_rule_across_recrawls(
    factory: sessionmaker[Session], now: datetime
) -> None:
    with transaction(factory) as session:
        user = analyst(session, now)
        rule_id = create_rule(
            session, user, RuleSpec("iso", concept_id="isotonitazene"), now=now
        ).id
    t = now + timedelta(minutes=1)
    with transaction(factory) as session:
        case_id = offer(session, t, "iso", NITAZENE)
    with transaction(factory) as session:
        assert len(match_rules(session, now=t + timedelta(minutes=1)).alerts) == 1
    # Recrawled unchanged, then changed (a new version), matched again and again: nothing new.
    for n, text in enumerate(["", "", "isotonitazene new price", "isotonitazene newer"], 2):
        with transaction(factory) as session:
            offer(session, t + timedelta(hours=n), "iso", NITAZENE, text=text)
        with transaction(factory) as session:
            assert match_rules(session, now=t + timedelta(hours=n, minutes=1)).alerts == []
    with transaction(factory) as session:
        alerts = rule_alerts(session, rule_id)
        assert [a.case_id for a in alerts] == [case_id]
        assert alerts[0].facts["title"] == "Title of iso"
        assert alerts[0].facts["substances"][0]["name"] == "Isotonitazene"
        assert alerts[0].facts["source_id"] == "shop"
        # A second row for the pair is refused by the schema, not only by the matcher.
        with pytest.raises(IntegrityError):
            session.execute(
                insert(WatchAlert).values(
                    rule_id=rule_id,
                    case_id=case_id,
                    version_id=alerts[0].version_id,
                    facts={},
                    created_at=t,
                )
            )


def test_only_matches_new_to_the_rule_alert(factory: sessionmaker[Session], now: datetime) -> None:
    with transaction(factory) as session:
        user = analyst(session, now)
        before = offer(session, now - timedelta(hours=2), "before", NITAZENE)
        create_rule(session, user, RuleSpec("iso", concept_id="isotonitazene"), now=now)
    with transaction(factory) as session:
        assert match_rules(session, now=now + timedelta(minutes=1)).alerts == []
        # The listing changes after the rule was saved: a new match.
        offer(
            session, now + timedelta(minutes=2), "before", NITAZENE, text="restocked isotonitazene"
        )
        (new,) = match_rules(session, now=now + timedelta(minutes=3)).alerts
        assert new.alert.case_id == before


def test_dismissed_disabled_and_changed_rules(
    factory: sessionmaker[Session], now: datetime
) -> None:
    t = now + timedelta(minutes=1)
    with transaction(factory) as session:
        user = analyst(session, now)
        rule = create_rule(session, user, RuleSpec("iso", concept_id="isotonitazene"), now=now)
        dismissed = offer(session, t, "dismissed", NITAZENE)
        session.get_one(Case, dismissed).state = "dismissed"
        set_rule_active(session, rule, False, actor=user, now=t)
        offer(session, t, "while-off", NITAZENE)
        assert match_rules(session, now=t).alerts == []  # a disabled rule raises nothing
        set_rule_active(session, rule, True, actor=user, now=t + timedelta(minutes=1))
        assert match_rules(session, now=t + timedelta(minutes=2)).alerts == []  # before enabling
        later = offer(session, t + timedelta(minutes=3), "later", NITAZENE)
        changed = update_rule(
            session,
            rule,
            RuleSpec("iso or fentanyl", substance_class="nitazene"),
            actor=user,
            now=t + timedelta(minutes=4),
        )
        assert changed
        # The changed conditions start from when they changed: "later" was before that.
        assert match_rules(session, now=t + timedelta(minutes=5)).alerts == []
        after = offer(session, t + timedelta(minutes=6), "after", NITAZENE)
        assert [
            a.alert.case_id for a in match_rules(session, now=t + timedelta(minutes=7)).alerts
        ] == [after]
        assert later != after
        actions = list(
            session.scalars(
                select(AuditEvent.action)
                .where(AuditEvent.object_type == "watch_rule")
                .order_by(AuditEvent.id)
            )
        )
        assert actions == [
            "watch.rule_created",
            "watch.rule_disabled",
            "watch.rule_enabled",
            "watch.rule_changed",
        ]
        # Renaming alone keeps the rule's start: nothing that matched before comes back.
        assert update_rule(
            session,
            rule,
            RuleSpec("renamed", substance_class="nitazene"),
            actor=user,
            now=t + timedelta(minutes=8),
        )
        assert rule.since == t + timedelta(minutes=4)
        assert [row.alerts for row in rules_of(session, user.id)] == [1]


def test_matching_looks_back_only_as_far_as_the_overlap(
    factory: sessionmaker[Session], now: datetime
) -> None:
    with transaction(factory) as session:
        user = analyst(session, now)
        create_rule(session, user, RuleSpec("iso", concept_id="isotonitazene"), now=now)
        assert match_rules(session, now=now + timedelta(hours=5)).alerts == []
        # Stamped inside the overlap before the last check (a batch that committed late): found.
        offer(session, now + timedelta(hours=5) - MATCH_OVERLAP / 2, "late-batch", NITAZENE)
        assert len(match_rules(session, now=now + timedelta(hours=6)).alerts) == 1
        count = session.scalar(select(func.count(WatchAlert.id)))
        assert count == 1


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (RuleSpec("  "), "Give the rule a name."),
        (RuleSpec("x" * 121, concept_id="fentanyl"), "at most 120 characters"),
        (RuleSpec("nothing"), "Set at least one condition"),
        (RuleSpec("bad", search="fentanyl AND"), "AND"),
        (RuleSpec("bad", search="NOT patch"), "NOT"),
        (RuleSpec("bad", min_score=1.5), "between 0 and 1, not 1.5"),
        (RuleSpec("bad", seller_id=999), "no seller 999"),
        (RuleSpec("bad", source_id="nowhere"), "no source 'nowhere'"),
    ],
)
def test_a_rule_that_cannot_be_saved_says_why(
    session: Session, spec: RuleSpec, message: str
) -> None:
    with pytest.raises(WatchRuleError, match=message.replace("(", r"\(")):
        check_rule(session, spec)
