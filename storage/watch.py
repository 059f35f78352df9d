"""Watch rules and the alerts they raise: one per rule and case, for new matches only.

A rule holds conditions, each optional, all of which must hold (AND): a substance (concept
id), a substance class, a search (``storage.text_search``'s grammar, matched as the queue's
search filter matches), a seller (``storage.sellers``; a seller merged into another is followed
to it), a source, "names a substance never seen before" (never named before by another listing
on offer, ``storage.substances.on_offer``), and a score the case reaches. They are read on the
case's listing's latest version; dismissed cases never match.

*New* matches only: a case matches a rule when it was opened, or its listing got a new
version, at or after the rule's ``since`` (when it was saved, its conditions last changed or
it was enabled again) — what matched before that raises nothing. Each match is an alert row,
unique per (rule, case) in the schema and inserted with ``ON CONFLICT DO NOTHING``: a recrawl,
a changed version or two matchers at once never raise a second one.

Matching (``match_rules``) runs apart from the crawl's store path, from ``synthwatch alerts
send`` (which the scheduler runs every 15 minutes), so storing pages costs nothing more. Each
rule looks only at cases changed since its last check (``checked_at``) less ``MATCH_OVERLAP``,
which covers a crawl batch stamped before it committed; the unique pair makes the overlap free.
The caller owns the transaction: alerts and their outbox rows commit together.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from storage.audit import append_event
from storage.errors import StorageError
from storage.models import (
    EMAIL_CHANNEL,
    Case,
    Indicator,
    Listing,
    ListingVersion,
    Mention,
    Seller,
    SellerIdentifier,
    Source,
    User,
    WatchAlert,
    WatchRule,
)
from storage.seller_pages import sellers_of_listing
from storage.sellers import active_seller
from storage.substances import on_offer, substances_of_versions
from storage.text_search import SearchQuery, SearchSyntaxError, parse_search, text_matches

log = logging.getLogger(__name__)

MAX_NAME_CHARS = 120
MAX_RULES_PER_USER = 50
# A crawl batch is stamped with its pages' fetch times and commits seconds later; an hour covers
# that and clocks of crawl machines a little off.
MATCH_OVERLAP = timedelta(hours=1)
# New alerts one matching run makes per rule at most; the rest come on the next run.
MAX_ALERTS_PER_RUN = 200
CONDITIONS = (
    "concept_id",
    "substance_class",
    "search",
    "seller_id",
    "source_id",
    "novel_substance",
    "min_score",
)


class WatchRuleError(StorageError):
    """A watch rule that can't be saved as given; the message says what to change."""


@dataclass(frozen=True, slots=True)
class RuleSpec:
    """What a rule is made of, as a form or a test gives it (``check_rule`` tidies it)."""

    name: str
    concept_id: str | None = None
    substance_class: str | None = None
    search: str | None = None
    seller_id: int | None = None
    source_id: str | None = None
    novel_substance: bool = False
    min_score: float | None = None
    channels: tuple[str, ...] = ()

    def conditions(self) -> dict[str, Any]:
        """Return the conditions set, by name (the audit rows' detail)."""
        values = {name: getattr(self, name) for name in CONDITIONS}
        return {name: value for name, value in values.items() if value not in (None, False)}


def spec_of(rule: WatchRule) -> RuleSpec:
    """Return what a stored rule is made of."""
    return RuleSpec(
        name=rule.name,
        concept_id=rule.concept_id,
        substance_class=rule.substance_class,
        search=rule.search,
        seller_id=rule.seller_id,
        source_id=rule.source_id,
        novel_substance=rule.novel_substance,
        min_score=rule.min_score,
        channels=tuple(rule.channels),
    )


def check_rule(session: Session, spec: RuleSpec) -> RuleSpec:
    """Return the spec tidied, or raise ``WatchRuleError`` naming the first thing wrong.

    Whether a substance or class exists is the lexicon's to say (the caller checks it); the
    search, seller, source, score and name are checked here.
    """
    name = " ".join(spec.name.split())
    if not name:
        raise WatchRuleError("Give the rule a name.")
    if len(name) > MAX_NAME_CHARS:
        raise WatchRuleError(
            f"A rule's name has at most {MAX_NAME_CHARS} characters, not {len(name)}."
        )
    search = None
    if spec.search is not None and spec.search.strip():
        try:
            search = parse_search(spec.search).text
        except SearchSyntaxError as error:
            raise WatchRuleError(str(error)) from error
    if spec.seller_id is not None and session.get(Seller, spec.seller_id) is None:
        raise WatchRuleError(f"There is no seller {spec.seller_id}.")
    if spec.source_id is not None and session.get(Source, spec.source_id) is None:
        raise WatchRuleError(f"There is no source {spec.source_id!r}.")
    if spec.min_score is not None and not 0.0 <= spec.min_score <= 1.0:
        raise WatchRuleError(f"A score threshold is between 0 and 1, not {spec.min_score:g}.")
    tidy = RuleSpec(
        name=name,
        concept_id=spec.concept_id or None,
        substance_class=spec.substance_class or None,
        search=search,
        seller_id=spec.seller_id,
        source_id=spec.source_id or None,
        novel_substance=spec.novel_substance,
        min_score=spec.min_score,
        channels=tuple(dict.fromkeys(spec.channels)),
    )
    if not tidy.conditions():
        raise WatchRuleError(
            "Set at least one condition: a rule without any would alert on every case."
        )
    return tidy


def _apply(rule: WatchRule, spec: RuleSpec) -> None:
    rule.name = spec.name
    for name in CONDITIONS:
        setattr(rule, name, getattr(spec, name))
    rule.channels = list(spec.channels)


def create_rule(
    session: Session, owner: User, spec: RuleSpec, *, now: datetime, request_id: str | None = None
) -> WatchRule:
    """Save a rule of ``owner``'s, matching from now on, audited; the caller commits."""
    spec = check_rule(session, spec)
    count = session.scalar(select(func.count(WatchRule.id)).where(WatchRule.owner_id == owner.id))
    if (count or 0) >= MAX_RULES_PER_USER:
        raise WatchRuleError(
            f"You have {MAX_RULES_PER_USER} watch rules, the most one may have: disable and "
            "change one instead."
        )
    rule = WatchRule(owner_id=owner.id, active=True, since=now, created_at=now, updated_at=now)
    _apply(rule, spec)
    session.add(rule)
    session.flush()
    append_event(
        session,
        action="watch.rule_created",
        object_type="watch_rule",
        object_id=rule.id,
        now=now,
        actor=owner,
        detail={"name": spec.name, "conditions": spec.conditions(), "channels": spec.channels},
        request_id=request_id,
    )
    return rule


def update_rule(
    session: Session,
    rule: WatchRule,
    spec: RuleSpec,
    *,
    actor: User,
    now: datetime,
    request_id: str | None = None,
) -> bool:
    """Change a rule, audited; say whether anything changed. The caller commits.

    Changed conditions match from now on (``since``): cases the old ones let through, or that
    the new ones would have matched before, raise nothing.
    """
    spec = check_rule(session, spec)
    before = spec_of(rule)
    if spec == before:
        return False
    if spec.conditions() != before.conditions():
        rule.since, rule.checked_at = now, None
    _apply(rule, spec)
    rule.updated_at = now
    session.flush()
    append_event(
        session,
        action="watch.rule_changed",
        object_type="watch_rule",
        object_id=rule.id,
        now=now,
        actor=actor,
        detail={
            "name": spec.name,
            "conditions": spec.conditions(),
            "channels": spec.channels,
            "before": {
                "name": before.name,
                "conditions": before.conditions(),
                "channels": before.channels,
            },
        },
        request_id=request_id,
    )
    return True


def set_rule_active(
    session: Session,
    rule: WatchRule,
    active: bool,
    *,
    actor: User,
    now: datetime,
    request_id: str | None = None,
) -> bool:
    """Disable or enable a rule, audited; say whether it changed. Enabled, it matches anew."""
    if rule.active == active:
        return False
    rule.active, rule.updated_at = active, now
    if active:
        rule.since, rule.checked_at = now, None
    session.flush()
    append_event(
        session,
        action="watch.rule_enabled" if active else "watch.rule_disabled",
        object_type="watch_rule",
        object_id=rule.id,
        now=now,
        actor=actor,
        detail={"name": rule.name},
        request_id=request_id,
    )
    return True


def get_rule(session: Session, rule_id: int) -> WatchRule | None:
    """Return a rule by id."""
    return session.get(WatchRule, rule_id)


@dataclass(frozen=True, slots=True)
class RuleRow:
    """A rule as the list of one's rules shows it, with how many alerts it raised."""

    rule: WatchRule
    alerts: int
    last_alert_at: datetime | None


def rules_of(session: Session, owner_id: int) -> list[RuleRow]:
    """Return a user's rules, active ones first, newest first, with their alert counts."""
    counts = (
        select(
            WatchAlert.rule_id,
            func.count(WatchAlert.id).label("alerts"),
            func.max(WatchAlert.created_at).label("last"),
        )
        .group_by(WatchAlert.rule_id)
        .subquery()
    )
    query = (
        select(WatchRule, counts.c.alerts, counts.c.last)
        .outerjoin(counts, counts.c.rule_id == WatchRule.id)
        .where(WatchRule.owner_id == owner_id)
        .order_by(WatchRule.active.desc(), WatchRule.id.desc())
    )
    return [RuleRow(rule, alerts or 0, last) for rule, alerts, last in session.execute(query)]


def rule_alerts(session: Session, rule_id: int, *, limit: int = 100) -> list[WatchAlert]:
    """Return a rule's alerts, newest first."""
    query = (
        select(WatchAlert)
        .where(WatchAlert.rule_id == rule_id)
        .order_by(WatchAlert.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


# ---------------------------------------------------------------- matching


@dataclass(frozen=True, slots=True)
class NewAlert:
    """An alert ``match_rules`` raised, with its rule (to build its messages)."""

    alert: WatchAlert
    rule: WatchRule
    owner: User


@dataclass
class MatchReport:
    """What one matching run did."""

    rules: int = 0
    alerts: list[NewAlert] = field(default_factory=list)


def _conditions(
    session: Session, rule: WatchRule, case: Any, listing: Any, latest: Any
) -> list[ColumnElement[bool]] | None:
    """Return the rule's conditions on a case, its listing and latest version; None: none can."""
    found: list[ColumnElement[bool]] = []
    if rule.concept_id is not None:
        found.append(
            select(Mention.id)
            .where(Mention.version_id == latest.id, Mention.concept_id == rule.concept_id)
            .exists()
        )
    if rule.substance_class is not None:
        found.append(
            select(Mention.id)
            .where(Mention.version_id == latest.id, Mention.substance_class == rule.substance_class)
            .exists()
        )
    if rule.search is not None:
        try:
            query: SearchQuery = parse_search(rule.search)
        except SearchSyntaxError:
            # Saved under a grammar that read it: it matches nothing until its owner fixes it.
            log.warning("watch rule %s: its search %r can't be read", rule.id, rule.search)
            return None
        found.append(text_matches(latest.id, query))
    if rule.source_id is not None:
        found.append(listing.source_id == rule.source_id)
    if rule.min_score is not None:
        found.append(case.score >= rule.min_score)
    if rule.seller_id is not None:
        seller = active_seller(session, rule.seller_id)
        if seller is None:
            return None
        keys = select(SellerIdentifier.key).where(SellerIdentifier.seller_id == seller.id)
        found.append(
            select(Indicator.id)
            .join(ListingVersion, Indicator.version_id == ListingVersion.id)
            .where(ListingVersion.listing_id == listing.id, Indicator.key.in_(keys))
            .exists()
        )
    if rule.novel_substance:
        found.append(_names_novel_substance(listing, latest))
    return found


def _names_novel_substance(listing: Any, latest: Any) -> ColumnElement[bool]:
    """A substance of the latest version that no other listing on offer named before this one."""
    here_mention, here_version = aliased(Mention), aliased(ListingVersion)
    other = aliased(Mention)
    first_here = (
        select(func.min(here_version.created_at))
        .select_from(here_mention)
        .join(here_version, here_mention.version_id == here_version.id)
        .where(here_version.listing_id == listing.id, here_mention.concept_id == Mention.concept_id)
        .correlate(listing, Mention)
        .scalar_subquery()
    )
    before = (
        select(other.id)
        .join(ListingVersion, other.version_id == ListingVersion.id)
        .where(
            other.concept_id == Mention.concept_id,
            ListingVersion.listing_id != listing.id,
            ListingVersion.created_at < first_here,
            on_offer(),
        )
        .correlate(listing, Mention)
        .exists()
    )
    return (
        select(Mention.id)
        .where(Mention.version_id == latest.id, ~before)
        .correlate(latest)
        .exists()
    )


def _insert(session: Session) -> Any:
    dialect = session.get_bind().dialect.name
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(WatchAlert)


def match_rule(session: Session, rule: WatchRule, *, now: datetime) -> list[WatchAlert]:
    """Raise the alerts of a rule's new matches; record that it was checked at ``now``."""
    case, listing, latest = aliased(Case), aliased(Listing), aliased(ListingVersion)
    conditions = _conditions(session, rule, case, listing, latest)
    lower = rule.since
    if rule.checked_at is not None and rule.checked_at - MATCH_OVERLAP > lower:
        lower = rule.checked_at - MATCH_OVERLAP
    rule.checked_at = now
    if conditions is None:
        return []
    latest_id = (
        select(func.max(ListingVersion.id))
        .where(ListingVersion.listing_id == listing.id)
        .correlate(listing)
        .scalar_subquery()
    )
    raised = select(WatchAlert.id).where(
        WatchAlert.rule_id == rule.id, WatchAlert.case_id == case.id
    )
    query = (
        select(case.id, latest.id, listing.id)
        .select_from(case)
        .join(listing, case.listing_id == listing.id)
        .join(latest, latest.id == latest_id)
        .where(
            case.state != "dismissed",
            case.updated_at >= lower,
            or_(case.created_at >= rule.since, latest.created_at >= rule.since),
            ~raised.exists(),
            and_(*conditions),
        )
        .order_by(case.id)
        .limit(MAX_ALERTS_PER_RUN)
    )
    matches = list(session.execute(query))
    alerts = []
    for case_id, version_id, listing_id in matches:
        facts = case_facts(session, case_id, version_id, listing_id)
        alert_id = session.scalar(
            _insert(session)
            .values(
                rule_id=rule.id,
                case_id=case_id,
                version_id=version_id,
                facts=facts,
                created_at=now,
            )
            .on_conflict_do_nothing(index_elements=["rule_id", "case_id"])
            .returning(WatchAlert.id)
        )
        if alert_id is not None:
            alerts.append(session.get_one(WatchAlert, alert_id))
    session.flush()
    return alerts


def match_rules(session: Session, *, now: datetime) -> MatchReport:
    """Raise the alerts of every active rule's new matches (see the module doc)."""
    report = MatchReport()
    rules = session.scalars(
        select(WatchRule)
        .join(User, WatchRule.owner_id == User.id)
        .where(WatchRule.active.is_(True), User.active.is_(True))
        .order_by(WatchRule.id)
    )
    for rule in list(rules):
        report.rules += 1
        owner = session.get_one(User, rule.owner_id)
        for alert in match_rule(session, rule, now=now):
            report.alerts.append(NewAlert(alert, rule, owner))
    return report


def case_facts(session: Session, case_id: int, version_id: int, listing_id: int) -> dict[str, Any]:
    """Return what an alert says of a case: title, substances, classes, source, score, sellers."""
    case = session.get_one(Case, case_id)
    version = session.get_one(ListingVersion, version_id)
    listing = session.get_one(Listing, listing_id)
    source = session.get_one(Source, listing.source_id)
    tags = substances_of_versions(session, [version_id]).get(version_id, ())
    sellers = sellers_of_listing(session, listing_id)
    return {
        "case_id": case.id,
        "state": case.state,
        "score": round(case.score, 4),
        "title": version.title,
        "url": listing.url,
        "source_id": source.id,
        "source_name": source.name,
        "substances": [
            {"concept_id": t.concept_id, "name": t.name, "class": t.substance_class} for t in tags
        ],
        "classes": list(dict.fromkeys(t.substance_class for t in tags)),
        "sellers": [{"id": s.id, "name": s.name} for s in sellers],
    }


def alert_channels(rule: WatchRule, owner: User) -> list[tuple[str, str]]:
    """Return the (channel, target) pairs a rule's alert goes to.

    E-mail goes to the owner's address; an owner without one gets an empty target, which the
    sender records as a failure to see, not a message dropped in silence.
    """
    pairs = []
    for channel in rule.channels:
        if channel == EMAIL_CHANNEL:
            pairs.append((channel, owner.email or ""))
        else:
            pairs.append((str(channel), str(channel)))
    return pairs


def alerts_by_id(session: Session, alert_ids: Sequence[int]) -> dict[int, WatchAlert]:
    """Return these alerts by id."""
    if not alert_ids:
        return {}
    query = select(WatchAlert).where(WatchAlert.id.in_(alert_ids))
    return {alert.id: alert for alert in session.scalars(query)}
