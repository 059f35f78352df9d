"""Keep what a user typed across a re-login: the session may end, the typed note must not.

A form posted after its session ended (the idle timeout, the session's lifetime, a restart with
another key, a logout in another tab) is answered by ``session_ended``: the posted fields, never
a password or the CSRF token, go into a signed cookie that lives ``KEPT_FOR``, and the visitor
goes to the login page, which returns to the form's page (the ``form_page`` field that the
``csrf()`` macro puts in every form). Signing in binds the kept input to the new session
(``bind_to_login``); that page, loaded in that session, shows it (``kept_form`` in templates,
put back into the form by ``static/kept_form.js``) and the cookie is dropped. Nothing is ever
replayed: the user checks the form and sends it again, with the page's fresh CSRF token.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    request,
    session,
    url_for,
)
from itsdangerous import BadSignature, URLSafeSerializer
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from review.auth import safe_next
from review.context import now, review_context
from storage.models import User

log = logging.getLogger(__name__)

COOKIE = "synthwatch_kept_form"
SALT = "synthwatch.kept-form"
PAGE_FIELD = "form_page"
# The username the form's page was rendered for: who may have the input back when the ended
# session can't be read any more (another key, a logout in another tab).
USER_FIELD = "form_user"
# Long enough to find a password; short, because a shared browser keeps the text meanwhile.
KEPT_FOR = timedelta(minutes=15)
# Browsers keep cookies of up to 4096 bytes, name and attributes included.
MAX_COOKIE_VALUE = 3800
MAX_FIELDS = 100
NEVER_KEPT = frozenset({"csrf_token", PAGE_FIELD, USER_FIELD})
SESSION_ENDED = "Your session ended; sign in to continue."


@dataclass(frozen=True, slots=True)
class KeptForm:
    """What a user had typed into a form, to put back into it on its page."""

    action: str  # the path the form was posted to, which tells the form on the page
    fields: list[tuple[str, str]]
    cut: bool  # a long text was shortened to fit the cookie


def session_ended() -> Response:
    """Keep the posted form and send the visitor to sign in, coming back to the form's page."""
    if request.endpoint == "login.logout":
        return redirect(url_for("login.login"))  # signed out already
    if request.endpoint == "login.login":
        flash("The sign-in page had expired; sign in again.", "info")
        return redirect(url_for("login.login", next=safe_next(request.args.get("next"))))
    page = _page(request.form.get(PAGE_FIELD))
    fields = _kept_fields(request.form)
    payload: dict[str, Any] = {
        "page": page,
        "action": request.path,
        "fields": fields,
        "at": now().timestamp(),
        "user": g.get("ended_user_id"),
        "username": request.form.get(USER_FIELD) or None,
        "sid": None,
        "cut": False,
    }
    cookie = _encode(payload) if fields and page else None
    flash(SESSION_ENDED + (" What you typed is kept." if cookie else ""), "info")
    response = redirect(url_for("login.login", next=page))
    if cookie:
        _set_cookie(response, cookie)
    return response


def bind_to_login(response: Response, user: User) -> None:
    """Bind input kept before this login to the new session, or drop it if it isn't this user's.

    Input kept while the session still named a user comes back only to that user; input of a
    session that could not be read (another key, a logout elsewhere) only to the user its page
    was rendered for (the form's ``form_user``), never to whoever signs in next.
    """
    payload = _read()
    if payload is None:
        return
    cookie = None
    if payload["user"] == user.id or (
        payload["user"] is None and payload.get("username") == user.username
    ):
        payload["user"], payload["sid"] = user.id, session.get("sid")
        cookie = _encode(payload)
    if cookie:
        _set_cookie(response, cookie)
    else:
        response.delete_cookie(COOKIE, path="/")


def kept_form() -> KeptForm | None:
    """Return the input kept for this page and this session, or None (for the templates)."""
    if not has_request_context() or request.method != "GET" or g.get("user") is None:
        return None
    payload = _read()
    if (
        payload is None
        or payload["sid"] is None
        or payload["sid"] != session.get("sid")
        or urlsplit(payload["page"]).path != request.path
    ):
        return None
    g.kept_form_shown = True
    fields = [(str(name), str(value)) for name, value in payload["fields"]]
    return KeptForm(action=str(payload["action"]), fields=fields, cut=bool(payload["cut"]))


def drop_shown(response: Response) -> Response:
    """Drop the cookie once a page showed its input (an ``after_request`` hook)."""
    if g.get("kept_form_shown"):
        response.delete_cookie(COOKIE, path="/")
    return response


def register(app: Flask) -> None:
    """Give the templates ``kept_form`` and drop the cookie once it was shown."""
    app.context_processor(lambda: {"kept_form": kept_form()})
    app.after_request(drop_shown)


def _page(target: str | None) -> str | None:
    # Only a page that answers GET: a form re-rendered by a POST names the POST's address.
    path = safe_next(target)
    if path is None:
        return None
    adapter = current_app.url_map.bind("localhost")
    try:
        adapter.match(urlsplit(path).path, method="GET")
    except HTTPException:
        return None
    return path


def _kept_fields(form: MultiDict[str, str]) -> list[list[str]]:
    fields = [
        [name, value]
        for name, value in form.items(multi=True)
        if name not in NEVER_KEPT and "password" not in name.lower()
    ]
    return fields[:MAX_FIELDS]


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key or "", salt=SALT)


def _encode(payload: dict[str, Any]) -> str | None:
    """Sign the payload, shortening the longest text until it fits a cookie; None if it can't."""
    fields: list[list[str]] = payload["fields"]
    while True:
        value = _serializer().dumps(payload)
        if len(value) <= MAX_COOKIE_VALUE:
            return value
        longest = max(fields, key=lambda field: len(field[1]), default=None)
        if longest is None or not longest[1]:
            log.info("a kept form of %s fields does not fit a cookie", len(fields))
            return None
        longest[1] = longest[1][: len(longest[1]) * 3 // 4]
        payload["cut"] = True


def _read() -> dict[str, Any] | None:
    value = request.cookies.get(COOKIE)
    if not value:
        return None
    try:
        payload = _serializer().loads(value)
    except BadSignature:
        return None
    if not isinstance(payload, dict) or not isinstance(payload.get("at"), float):
        return None
    age = now().timestamp() - payload["at"]
    return payload if 0 <= age <= KEPT_FOR.total_seconds() else None


def _set_cookie(response: Response, value: str) -> None:
    response.set_cookie(
        COOKIE,
        value,
        max_age=int(KEPT_FOR.total_seconds()),
        path="/",
        secure=review_context().settings.secure_cookies,
        httponly=True,
        samesite="Lax",
    )
