"""Watch rules (``storage.watch``): one's own rules, made, changed, disabled and enabled, each
rule's alerts with their deliveries, and, for admins, the alert outbox.

Analysts and legal reviewers keep rules of their own; another user's rule is a 404 to them. A
form with a value the rule can't use (a substance or class the lexicon does not know, a search
that can't be read, a threshold outside 0 to 1, an unknown seller, source or channel) is shown
again with the reason and what was typed, with a 400; nothing changed. Each change is an audit
row (``watch.rule_created``, ``watch.rule_changed``, ``watch.rule_disabled``,
``watch.rule_enabled``) written by storage in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from nlp import CLASSES, load_lexicon
from review.alerts.settings import AlertSettings
from review.auth import allow, current_user
from review.context import db, now, request_id
from review.errors import SettingsError
from storage.alert_outbox import deliveries_of_alerts, delivery_rows
from storage.models import ALERT_DELIVERY_STATUSES, EMAIL_CHANNEL, User, WatchRule
from storage.sources import source_names
from storage.watch import (
    RuleSpec,
    WatchRuleError,
    create_rule,
    get_rule,
    rule_alerts,
    rules_of,
    set_rule_active,
    update_rule,
)

bp = Blueprint("watch", __name__)

RULE_ROLES = ("analyst", "legal")
MAX_FIELD_CHARS = 300
OUTBOX_PAGE = 200


def _user() -> User:
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    return user


@cache
def _substances() -> dict[str, tuple[str, str]]:
    """Return each lexicon concept by id and by lower-case name: (id, name)."""
    found: dict[str, tuple[str, str]] = {}
    for concept in load_lexicon():
        found.setdefault(concept.name.lower(), (concept.id, concept.name))
        found[concept.id] = (concept.id, concept.name)
    return found


def substance_name(concept_id: str | None) -> str:
    """Return a concept's name for a page (its id when the lexicon lost it)."""
    if concept_id is None:
        return ""
    return _substances().get(concept_id, (concept_id, concept_id))[1]


def _channels() -> tuple[tuple[str, ...], str | None]:
    """Return the channels a rule may name, and why only e-mail when the setting is broken."""
    try:
        return AlertSettings.from_env().channel_names, None
    except SettingsError as error:
        return (EMAIL_CHANNEL,), str(error)


@dataclass
class RuleForm:
    """What a rule's form holds, as typed, and the spec read from it (or what was wrong)."""

    values: dict[str, Any]
    spec: RuleSpec | None = None
    problems: list[str] = field(default_factory=list)


def form_of(rule: WatchRule | None, *, has_email: bool = False) -> dict[str, Any]:
    """Return the form's values of a stored rule (or of a new one: e-mail when one has it)."""
    if rule is None:
        return {
            "name": "",
            "substance": "",
            "class": "",
            "search": "",
            "seller": "",
            "source": "",
            "novel": False,
            "min_score": "",
            "channels": [EMAIL_CHANNEL] if has_email else [],
        }
    return {
        "name": rule.name,
        "substance": substance_name(rule.concept_id),
        "class": rule.substance_class or "",
        "search": rule.search or "",
        "seller": str(rule.seller_id) if rule.seller_id is not None else "",
        "source": rule.source_id or "",
        "novel": rule.novel_substance,
        "min_score": f"{rule.min_score:g}" if rule.min_score is not None else "",
        "channels": list(rule.channels),
    }


def read_form(user: User) -> RuleForm:
    """Read a rule's form; each value it can't use is named in ``problems``."""
    get = request.form.get
    values: dict[str, Any] = {
        key: get(key, "").strip()[:MAX_FIELD_CHARS]
        for key in ("name", "substance", "class", "search", "seller", "source", "min_score")
    }
    values["novel"] = get("novel") == "1"
    values["channels"] = request.form.getlist("channels")
    form = RuleForm(values)
    problems = form.problems
    concept_id = None
    if values["substance"]:
        found = _substances().get(values["substance"]) or _substances().get(
            values["substance"].lower()
        )
        if found is None:
            problems.append(
                f"There is no substance “{values['substance'][:60]}” in the lexicon: give its "
                "name or id, such as isotonitazene."
            )
        else:
            concept_id = found[0]
    if values["class"] and values["class"] not in CLASSES:
        problems.append(f"There is no substance class “{values['class'][:60]}”.")
    seller_id = None
    if values["seller"]:
        if values["seller"].isdigit() and 0 < int(values["seller"]) < 2**31:
            seller_id = int(values["seller"])
        else:
            problems.append(f"A seller is a number, such as 12, not “{values['seller'][:40]}”.")
    min_score = None
    if values["min_score"]:
        try:
            min_score = float(values["min_score"])
        except ValueError:
            min_score = None
        if min_score is None or not 0.0 <= min_score <= 1.0:
            problems.append(
                "“Score at least” is a number from 0 to 1, such as 0.8, not "
                f"“{values['min_score'][:40]}”."
            )
            min_score = None
    channels, _broken = _channels()
    unknown = [c for c in values["channels"] if c not in channels]
    if unknown:
        problems.append(f"There is no alert channel “{unknown[0][:40]}”.")
    if EMAIL_CHANNEL in values["channels"] and not user.email:
        problems.append(
            "You have no e-mail address to get alerts at: untick e-mail, or ask an admin to "
            "set one (synthwatch digest subscribe)."
        )
    source_id = values["source"] or None
    if source_id is not None and source_id not in dict(source_names(db())):
        problems.append(f"There is no source “{source_id[:60]}”.")
    if not problems:
        form.spec = RuleSpec(
            name=values["name"],
            concept_id=concept_id,
            substance_class=values["class"] or None,
            search=values["search"] or None,
            seller_id=seller_id,
            source_id=source_id,
            novel_substance=values["novel"],
            min_score=min_score,
            channels=tuple(c for c in channels if c in values["channels"]),
        )
    return form


def _render_list(form: dict[str, Any], *, status: int = 200) -> Response:
    user = _user()
    channels, broken = _channels()
    page = render_template(
        "watch.html",
        rows=rules_of(db(), user.id),
        form=form,
        sources=source_names(db()),
        classes=CLASSES,
        channels=channels,
        broken=broken,
        substance_name=substance_name,
        has_email=bool(user.email),
    )
    return make_response(page, status)


def _own(rule_id: int) -> WatchRule:
    rule = get_rule(db(), rule_id)
    if rule is None or rule.owner_id != _user().id:
        abort(404, description=f"you have no watch rule {rule_id}")
    return rule


def _render_rule(rule: WatchRule, form: dict[str, Any], *, status: int = 200) -> Response:
    alerts = rule_alerts(db(), rule.id)
    channels, broken = _channels()
    page = render_template(
        "watch_rule.html",
        rule=rule,
        form=form,
        alerts=alerts,
        deliveries=deliveries_of_alerts(db(), [a.id for a in alerts]),
        sources=source_names(db()),
        classes=CLASSES,
        channels=channels,
        broken=broken,
        substance_name=substance_name,
        has_email=bool(_user().email),
    )
    return make_response(page, status)


def _refused(problems: list[str]) -> None:
    db().rollback()
    for problem in problems:
        flash(problem, "error")


@bp.get("/watch")
@allow(*RULE_ROLES)
def index() -> Response:
    """List one's watch rules, with the form to add one."""
    return _render_list(form_of(None, has_email=bool(_user().email)))


@bp.post("/watch/new")
@allow(*RULE_ROLES)
def create() -> Response:
    """Save a new rule; it matches cases opened or changed from now on."""
    user = _user()
    form = read_form(user)
    if form.spec is not None:
        try:
            rule = create_rule(db(), user, form.spec, now=now(), request_id=request_id())
        except WatchRuleError as error:
            form.problems.append(str(error))
    if form.problems:
        _refused(form.problems)
        return _render_list(form.values, status=400)
    db().commit()
    flash(f"Watch rule “{rule.name}” saved: it alerts on cases new to it from now on.", "success")
    return redirect(url_for("watch.detail", rule_id=rule.id))


@bp.get("/watch/<int:rule_id>")
@allow(*RULE_ROLES)
def detail(rule_id: int) -> Response:
    """Show one of one's rules, to change it, and its alerts with their deliveries."""
    rule = _own(rule_id)
    return _render_rule(rule, form_of(rule))


@bp.post("/watch/<int:rule_id>/edit")
@allow(*RULE_ROLES)
def edit(rule_id: int) -> Response:
    """Change one of one's rules; changed conditions match from now on."""
    rule = _own(rule_id)
    user = _user()
    form = read_form(user)
    changed = False
    if form.spec is not None:
        try:
            changed = update_rule(
                db(), rule, form.spec, actor=user, now=now(), request_id=request_id()
            )
        except WatchRuleError as error:
            form.problems.append(str(error))
    if form.problems:
        _refused(form.problems)
        return _render_rule(_own(rule_id), form.values, status=400)
    db().commit()
    flash(f"Watch rule “{rule.name}” {'saved' if changed else 'unchanged'}.", "success")
    return redirect(url_for("watch.detail", rule_id=rule.id))


def _set_active(rule_id: int, active: bool) -> Response:
    rule = _own(rule_id)
    set_rule_active(db(), rule, active, actor=_user(), now=now(), request_id=request_id())
    db().commit()
    word = "enabled: it alerts on cases new to it from now on" if active else "disabled"
    flash(f"Watch rule “{rule.name}” {word}.", "success")
    return redirect(url_for("watch.detail", rule_id=rule.id))


@bp.post("/watch/<int:rule_id>/disable")
@allow(*RULE_ROLES)
def disable(rule_id: int) -> Response:
    """Stop a rule raising alerts."""
    return _set_active(rule_id, False)


@bp.post("/watch/<int:rule_id>/enable")
@allow(*RULE_ROLES)
def enable(rule_id: int) -> Response:
    """Let a disabled rule raise alerts again, for what is new from now on."""
    return _set_active(rule_id, True)


@bp.get("/alerts/outbox")
@allow("admin")
def outbox() -> str:
    """List alert deliveries, newest first, optionally of one status."""
    status = request.args.get("status") or None
    if status is not None and status not in ALERT_DELIVERY_STATUSES:
        known = ", ".join(ALERT_DELIVERY_STATUSES)
        abort(400, description=f"unknown status {status[:40]!r}: one of {known}")
    rows = delivery_rows(db(), status=status, limit=OUTBOX_PAGE)
    return render_template(
        "alert_outbox.html",
        rows=rows,
        status=status,
        statuses=ALERT_DELIVERY_STATUSES,
        failed=sum(1 for row, *_ in rows if row.status == "failed"),
    )
