"""What every request of the JSON API goes through (``review.views.api``): the bearer key
check, the parameters an endpoint takes, the audit row, and JSON answers and errors.

A refused key is answered here (401, ``api.refused``), and so is a role an endpoint does not
admit (403, ``auth.denied``); an endpoint returns an ``Answer``, which is sent after its
``api.request`` audit row; an error raised while answering is sent as JSON and audited too.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

from flask import g, jsonify, request, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from review.auth import allow_bearer, record_denial
from review.context import db, now, request_id, writes
from review.labels import class_label
from review.views.ids import MAX_ID, number
from storage.api_keys import (
    MALFORMED,
    OWNER_DISABLED,
    REVOKED,
    ROLE_CHANGED,
    UNKNOWN,
    check_api_key,
)
from storage.audit import append_event
from storage.models import ApiKey, User
from storage.substances import SubstanceTag
from storage.text_search import SearchQuery, SearchSyntaxError, parse_search, record_search

log = logging.getLogger(__name__)

PREFIX = "/api/"
# Who may read the queue may read the API; administrators see no case contents.
API_ROLES = ("analyst", "legal")
DEFAULT_LIMIT = 50
MAX_LIMIT = 100
# The longest search typed into the queue's box that is read (storage.text_search caps it too).
MAX_SEARCH_CHARS = 1000
MAX_TEXT_CHARS = 200
# Of a request's parameters, what its audit row keeps.
AUDITED_PARAMETERS, AUDITED_VALUE_CHARS = 20, 200
PAGING = ("page", "limit")
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    500: "internal_error",
    503: "unavailable",
}
# What a 401 says, by the reason storage.api_keys refused the key for.
REFUSALS = {
    MALFORMED: "this is not a SynthWatch API key",
    UNKNOWN: "no such API key",
    REVOKED: "this API key was revoked",
    OWNER_DISABLED: "this API key's user is disabled",
    ROLE_CHANGED: "this API key's role is no longer its user's: make a new key",
}
PLAIN_ERRORS = {
    404: "There is no such API endpoint or object; docs/api.md lists the endpoints.",
    405: "The API is read-only: use GET.",
    500: "Something went wrong on our side. The error was logged.",
}


# ---------------------------------------------------------------- answers and errors


def is_api_path(path: str) -> bool:
    """Say whether a path is the API's, whose errors are JSON."""
    return path.startswith(PREFIX)


def json_error(status: int, message: str, **extra: Any) -> Response:
    """Return the JSON answer of an error: its code, a sentence, the status."""
    response = jsonify(
        {"error": ERROR_CODES.get(status, "error"), "message": _sentence(message), "status": status}
        | extra
    )
    response.status_code = status
    return response


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


class Refusal(HTTPException):
    """A request the API refuses with a message and, optionally, more JSON fields."""

    def __init__(self, code: int, message: str, **extra: Any) -> None:
        super().__init__(description=message)
        self.code = code
        self.extra = extra


def bad(message: str) -> Refusal:
    """Return the 400 of a parameter that can't be used (raise it)."""
    return Refusal(400, message)


def http_error(error: HTTPException) -> Response:
    """Answer an HTTP error of the API as JSON; audit it when a key was accepted."""
    status = error.code or 500
    own = error.description if error.description != type(error).description else None
    message = own or PLAIN_ERRORS.get(status) or (error.name or "error")
    extra = error.extra if isinstance(error, Refusal) else {}
    if g.get("api_key") is not None:
        _audit_failure(status, message)
    response = json_error(status, message, **extra)
    for name, value in error.get_headers():
        if name.lower() == "allow":
            response.headers[name] = value
    return response


def unexpected_error(error: Exception) -> Response:
    """Log an unexpected exception of the API and answer a plain JSON 500."""
    log.exception("unexpected error while answering an API request", exc_info=error)
    if g.get("api_key") is not None:
        _audit_failure(500, "unexpected error")
    return json_error(500, PLAIN_ERRORS[500])


def _audit_failure(status: int, message: str) -> None:
    try:
        store = db()
        store.rollback()  # nothing the request had started is kept, its audit row aside
        _audit_request(status, message=message)
        store.commit()
    except SQLAlchemyError:
        log.exception("could not audit an API request that failed with %s", status)


# ---------------------------------------------------------------- the key


def check_bearer(roles: frozenset[str]) -> Response | None:
    """Let the request in when its bearer key is good and acts with one of ``roles``.

    The policy hook of every API endpoint (``review.auth.allow_bearer``): a refusal is
    answered here, in JSON, and audited.
    """
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.strip().partition(" ")
    if not header:
        return _unauthorized(
            "no API key: send it as “Authorization: Bearer <key>” (make one in My settings)",
            "no key",
        )
    if scheme.lower() != "bearer" or not token.strip():
        return _unauthorized("the Authorization header must be “Bearer <key>”", "not bearer")
    store = db()
    check = check_api_key(store, token.strip(), now=now())
    key = check.key
    if not check.accepted:
        message = REFUSALS.get(check.reason, "this API key can't be used")
        return _unauthorized(message, check.reason, prefix=check.prefix, key=key)
    assert key is not None
    if key.role not in roles:
        record_denial(
            key.owner, f"the {key.role} role may not use {request.endpoint} (API key {key.prefix})"
        )
        return json_error(403, f"the {key.role} role may not use this endpoint")
    g.api_key = key
    return None


def _unauthorized(
    message: str, reason: str, *, prefix: str = "", key: ApiKey | None = None
) -> Response:
    store = db()
    store.rollback()
    detail = {"reason": reason, "method": request.method, "path": request.path[:500]}
    if prefix:
        detail["key"] = prefix
    append_event(
        store,
        action="api.refused",
        object_type="endpoint",
        object_id=request.endpoint or request.path[:64],
        actor=key.owner if key is not None else None,
        now=now(),
        request_id=request_id(),
        detail=detail,
    )
    store.commit()
    response = json_error(401, message)
    challenge = 'Bearer realm="synthwatch"'
    if reason != "no key":
        challenge += ', error="invalid_token"'
    response.headers["WWW-Authenticate"] = challenge
    return response


def _key() -> ApiKey:
    return cast(ApiKey, g.api_key)


def owner() -> User:
    return _key().owner


def _audit_request(status: int, *, results: int | None = None, message: str = "") -> None:
    key = _key()
    query = {
        name[:AUDITED_VALUE_CHARS]: value[:AUDITED_VALUE_CHARS]
        for name, value in list(request.args.items())[:AUDITED_PARAMETERS]
    }
    detail: dict[str, Any] = {
        "key": key.prefix,
        "method": request.method,
        "path": request.path[:500],
        "query": query,
        "status": status,
    }
    if results is not None:
        detail["results"] = results
    if message:
        detail["message"] = message[:500]
    key.last_used_at = now()
    append_event(
        db(),
        action="api.request",
        object_type="endpoint",
        object_id=request.endpoint or request.path[:64],
        actor=key.owner,
        now=now(),
        request_id=request_id(),
        detail=detail,
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """What an endpoint found: the JSON document and how many results it holds."""

    document: dict[str, Any]
    results: int


def answered(view: Callable[..., Answer]) -> Callable[..., Response]:
    """Send what an endpoint found as JSON, after its ``api.request`` audit row."""

    @functools.wraps(view)
    def respond(**kwargs: Any) -> Response:
        answer = view(**kwargs)
        _audit_request(200, results=answer.results)
        db().commit()
        return jsonify(answer.document)

    return respond


def endpoint(view: Callable[..., Answer]) -> Callable[..., Response]:
    """Return an endpoint of the API: bearer keys of API_ROLES only, audited, answered in JSON."""
    return allow_bearer(check_bearer, *API_ROLES)(writes(answered(view)))


# ---------------------------------------------------------------- parameters


class Parameters:
    """The query parameters of a request: only those an endpoint takes, each at most once."""

    def __init__(self, allowed: Sequence[str]) -> None:
        self.args = request.args
        for name in self.args:
            if name not in allowed:
                raise bad(
                    f"unknown parameter {name[:40]!r}; this endpoint takes "
                    f"{', '.join(allowed) or 'none'}"
                )
            if len(self.args.getlist(name)) > 1:
                raise bad(f"parameter {name!r} is given more than once")

    def text(self, name: str, max_chars: int = MAX_TEXT_CHARS) -> str:
        value = " ".join(self.args.get(name, "").split())
        if len(value) > max_chars:
            raise bad(f"{name} has at most {max_chars} characters, not {len(value)}")
        return value

    def choice(self, name: str, allowed: Collection[str], what: str) -> str | None:
        value = self.args.get(name, "")
        if not value:
            return None
        if value not in allowed:
            raise bad(f"there is no {what} {value[:60]!r} ({name})")
        return value

    def day(self, name: str) -> date | None:
        value = self.args.get(name, "")
        if not value:
            return None
        try:
            if len(value) != 10:
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            raise bad(f"{name} must be a day such as 2026-11-25, not {value[:40]!r}") from None

    def search(self) -> SearchQuery | None:
        typed = self.text("search", MAX_SEARCH_CHARS)
        if not typed:
            return None
        try:
            return parse_search(typed)
        except SearchSyntaxError as error:
            raise bad(f"search {typed[:80]!r}: {error}") from None

    def paging(self) -> tuple[int, int]:
        """Return the page asked for (from 1) and the results a page holds."""
        page = self._whole("page", 1)
        limit = self._whole("limit", DEFAULT_LIMIT)
        if page < 1:
            raise bad("pages are numbered from 1")
        if not 1 <= limit <= MAX_LIMIT:
            raise bad(f"limit must be from 1 to {MAX_LIMIT}, not {limit}")
        if (page - 1) * limit > MAX_ID:
            raise bad(f"page {page} is past any result")
        return page, limit

    def _whole(self, name: str, default: int) -> int:
        value = self.args.get(name, "")
        if not value:
            return default
        found = number(value)
        if found is None:
            raise bad(f"{name} must be a whole number, not {value[:40]!r}")
        return found


def page_of(items: list[dict[str, Any]], *, page: int, limit: int, total: int) -> Answer:
    """Return a page of a list, with the path of the next page (None on the last)."""
    following = None
    if page * limit < total:
        args: dict[str, Any] = {**request.args, "page": page + 1, "limit": limit}
        following = url_for(cast(str, request.endpoint), **args)
    document = {"data": items, "page": page, "limit": limit, "total": total, "next": following}
    return Answer(document, len(items))


def audited_search(search: SearchQuery | None, where: str, results: int) -> None:
    if search is None:
        return
    others = {name: value for name, value in request.args.items() if name != "search"}
    record_search(
        db(),
        search,
        where=where,
        results=results,
        now=now(),
        filters=others,
        actor=owner(),
        request_id=request_id(),
    )


# ---------------------------------------------------------------- shapes


def iso(moment: datetime | None) -> str | None:
    """Return a stored time in ISO 8601, UTC (``2026-11-25T12:00:00+00:00``), or None."""
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def substance_tags(tags: Sequence[SubstanceTag]) -> list[dict[str, str]]:
    return [
        {
            "concept_id": tag.concept_id,
            "name": tag.name,
            "class": tag.substance_class,
            "class_label": class_label(tag.substance_class),
        }
        for tag in tags
    ]


def case_tag(case_id: int | None, state: str | None) -> dict[str, Any] | None:
    """Return a listing's case as lists show it, or None when it has none."""
    return {"case_id": case_id, "state": state} if case_id is not None else None
