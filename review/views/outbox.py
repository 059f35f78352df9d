"""Digest deliveries, for admins: what the outbox sent, what waits, and what failed for good.

A 5xx reply from the mail server ends a message as ``failed``; it shows here (and in the next
digest) until an admin fixes the address and runs ``synthwatch digest retry ID``.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from review.auth import allow
from review.context import db
from storage.models import DIGEST_STATUSES
from storage.outbox import outbox_rows

bp = Blueprint("outbox", __name__)

PAGE_SIZE = 200


@bp.get("/outbox")
@allow("admin")
def index() -> str:
    """List digest messages, newest week first, optionally of one status."""
    status = request.args.get("status") or None
    if status is not None and status not in DIGEST_STATUSES:
        abort(400, description=f"unknown status {status!r}: one of {', '.join(DIGEST_STATUSES)}")
    rows = outbox_rows(db(), status=status, limit=PAGE_SIZE)
    failed = sum(1 for message, _ in rows if message.status == "failed")
    return render_template(
        "outbox.html", rows=rows, status=status, statuses=DIGEST_STATUSES, failed=failed
    )
