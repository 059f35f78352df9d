"""Numbers in URLs and forms: ids and page numbers bounded to what the database can hold.

SQLite refuses to bind an integer past 2**63 - 1 and PostgreSQL compares ``integer`` columns
with numbers past 2**31 - 1 only by widening them, so an unbounded number from a URL could
end a request in a 500. No id column holds more than PostgreSQL's ``integer`` does, so a
larger number names nothing: a 404 in a path, a 400 in a query or a form.
"""

from __future__ import annotations

from typing import Any

from flask import abort, request
from werkzeug.routing import IntegerConverter, Map, ValidationError

MAX_ID = 2**31 - 1
# More digits than MAX_ID has: refused before int() (which refuses past 4,300 digits itself).
MAX_DIGITS = len(str(MAX_ID))


class IdConverter(IntegerConverter):
    """``<int:...>`` in a route: digits naming a number from 0 to MAX_ID, else no match (404)."""

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)

    def to_python(self, value: str) -> Any:
        """Return the number of a path segment, or refuse it as no match."""
        if len(value) > MAX_DIGITS:
            raise ValidationError()
        return super().to_python(value)


def number(text: str) -> int | None:
    """Return plain ASCII digits as a number up to MAX_ID, else None."""
    if not text.isascii() or not text.isdigit() or len(text) > MAX_DIGITS:
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def bounded(text: str, name: str) -> int:
    """Return a form or query value as an id from 1 to MAX_ID, or abort with a 400 naming it."""
    value = number(text)
    if value is None or value < 1:
        abort(400, description=f"{name} must be a number from 1 to {MAX_ID}, not {text[:40]!r}")
    return value


def id_arg(name: str) -> int | None:
    """Return a query argument that names an id, None when absent; a bad one is a 400."""
    text = request.args.get(name)
    return None if text is None or text == "" else bounded(text, name)


def page_arg(page_size: int) -> int:
    """Return the ``page`` query argument (default 1); a page no query can reach is a 404."""
    text = request.args.get("page") or "1"
    if not text.isascii() or not text.isdigit() or not text.strip("0"):
        abort(400, description="pages are numbered from 1")
    page = number(text)
    if page is None or (page - 1) * page_size > MAX_ID:
        abort(404, description=f"there is no page {text[:40]}")
    return page
