"""The audit log, for admins: read it page by page, check its chain, export it and a checkpoint.

An export is JSON lines, one row each with its hashes, so the chain can be checked elsewhere;
the checkpoint names the last row and its hash. Keep checkpoints outside this machine:
``synthwatch audit verify --checkpoint FILE`` then finds rows cut off the end of the log.

The page shows a row's detail as key/value text, and a run of rows repeating one action of one
actor on one case (an analyst paging through a capture: ``evidence.viewed``) as one line with a
count, its rows listed under it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, render_template, request
from werkzeug.wrappers import Response

from review.auth import allow, current_user
from review.context import db, now, request_id, writes
from review.views.ids import page_arg
from storage.audit import (
    AuditFilter,
    append_event,
    audit_actions,
    audit_page,
    checkpoint,
    count_audit,
    event_data,
    iter_events,
    verify_chain,
)
from storage.models import AuditEvent, User

bp = Blueprint("audit", __name__)

PAGE_SIZE = 100
# Actions whose runs (same actor, same case or object, one after the other) make one line.
COLLAPSED_ACTIONS = frozenset({"evidence.viewed"})
# The detail keys that name what a repeated action was about, before the row's own object.
RUN_SUBJECT_KEYS = ("case_id", "listing_id")


@dataclass
class AuditLine:
    """One line of the audit page: a row, and the rows of its run collapsed into it."""

    event: AuditEvent
    details: list[tuple[str, str]]
    repeats: list[AuditEvent] = field(default_factory=list)

    @property
    def events(self) -> list[AuditEvent]:
        """Return every row of the line, newest first."""
        return [self.event, *self.repeats]


def detail_pairs(detail: dict[str, Any] | None) -> list[tuple[str, str]]:
    """Return an audit row's detail as (key, text) pairs that a person reads."""
    return [(key.replace("_", " "), detail_text(value)) for key, value in (detail or {}).items()]


def detail_text(value: object) -> str:
    """Return one detail value as text: lists joined, tables as ``key: value``, no JSON."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(detail_text(item) for item in value) or "none"
    if isinstance(value, dict):
        return "; ".join(f"{k.replace('_', ' ')}: {detail_text(v)}" for k, v in value.items())
    return str(value)


def audit_lines(events: Iterable[AuditEvent]) -> list[AuditLine]:
    """Group the rows of a page into lines, collapsing runs of ``COLLAPSED_ACTIONS``."""
    lines: list[AuditLine] = []
    for event in events:
        last = lines[-1] if lines else None
        if (
            last is not None
            and event.action in COLLAPSED_ACTIONS
            and _run_key(event) == _run_key(last.event)
        ):
            last.repeats.append(event)
        else:
            lines.append(AuditLine(event, detail_pairs(event.detail)))
    return lines


def _run_key(event: AuditEvent) -> tuple[object, ...]:
    detail = event.detail or {}
    subject = next(((k, detail[k]) for k in RUN_SUBJECT_KEYS if k in detail), None)
    return (
        event.action,
        event.actor,
        event.actor_id,
        subject or (event.object_type, event.object_id),
    )


def _user() -> User:
    user = current_user()
    assert user is not None  # the policy let a signed-in user in
    return user


@bp.get("/audit")
@allow("admin")
def index() -> str:
    """Show audit rows, newest first, filtered by action, actor or object; verify on request."""
    page = page_arg(PAGE_SIZE)
    filters = AuditFilter(
        action=request.args.get("action") or None,
        actor=request.args.get("actor") or None,
        object_type=request.args.get("object_type") or None,
        object_id=request.args.get("object_id") or None,
    )
    session = db()
    total = count_audit(session, filters)
    args = {k: v for k, v in request.args.items() if k not in ("page", "verify") and v}
    return render_template(
        "audit.html",
        lines=audit_lines(
            audit_page(session, filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
        ),
        detail_pairs=detail_pairs,
        actions=audit_actions(session),
        filters=filters,
        args=args,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        total=total,
        verified=request.args.get("verify") == "1",
        chain_break=verify_chain(session) if request.args.get("verify") == "1" else None,
    )


@bp.get("/audit/export.jsonl")
@allow("admin")
@writes
def export() -> Response:
    """Download the whole audit log as JSON lines, and audit the download."""
    user = _user()
    session = db()
    lines = [
        json.dumps(event_data(e), ensure_ascii=False, sort_keys=True) for e in iter_events(session)
    ]
    mark = checkpoint(session)
    _audit_export(user, "jsonl", mark.event_id if mark else 0)
    body = "".join(line + "\n" for line in lines)
    return _download(body, "application/x-ndjson", "synthwatch-audit.jsonl")


@bp.get("/audit/checkpoint.json")
@allow("admin")
@writes
def checkpoint_file() -> Response:
    """Download the checkpoint of the log as it is now (its last row and that row's hash)."""
    user = _user()
    mark = checkpoint(db())
    if mark is None:
        abort(404, description="the audit log is empty")
    _audit_export(user, "checkpoint", mark.event_id)
    body = json.dumps(mark.to_dict(), indent=2) + "\n"
    return _download(body, "application/json", f"synthwatch-audit-checkpoint-{mark.event_id}.json")


def _audit_export(user: User, kind: str, last_id: int) -> None:
    session = db()
    append_event(
        session,
        action="audit.exported",
        object_type="audit",
        object_id=kind,
        actor=user,
        now=now(),
        request_id=request_id(),
        detail={"up_to_event": last_id},
    )
    session.commit()


def _download(body: str, mimetype: str, filename: str) -> Response:
    response = Response(body.encode(), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
