"""Friendly error pages: a status and a sentence in plain words, never a stack trace.

Every HTTP error goes through ``error.html``: Werkzeug's own sentences (written for developers)
are replaced by the ones below, while a view's own description (``abort(404, description=...)``)
is kept. The way back depends on the role: the queue for those who may see it, the start page
of their role for others, the login page for a visitor.

A form posted after its session ended (a restart with a new key, the idle timeout, a logout in
another tab) is no CSRF attack: the visitor goes to the login page and gets the form back
(``review.kept_form``). A CSRF failure of a session still signed in gets the 400 page.
"""

from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from review.auth import SessionEnded, current_user
from review.context import db, now, request_id
from review.kept_form import session_ended
from review.views import api_requests
from review.views.login import home_label, home_url
from storage.audit import append_event
from storage.models import User

log = logging.getLogger(__name__)

# A title and a sentence per status, for errors whose description is Werkzeug's default.
PLAIN_WORDS = {
    400: ("Bad request", "This request could not be used. Go back, check the form and try again."),
    403: ("Not allowed", "Your account may not open this page."),
    404: ("Not found", "There is no such page here. The link may be old or mistyped."),
    405: (
        "Not possible this way",
        "This address can't be used like that. Use the links and buttons of the app.",
    ),
    409: ("Not possible now", "This can't be done in the state the item is in now."),
    413: ("Too large", "What was sent is too large for this form."),
    429: ("Too many requests", "Too many requests in a short time. Wait a minute and try again."),
    500: ("Something went wrong", "Something went wrong on our side. The error was logged."),
    503: ("Not available", "This part of the app is not set up here."),
}
CSRF_WORDS = (
    "This form is out of date or did not come from this app's page, so nothing was done. "
    "Reload the page and send the form again."
)


def register(app: Flask) -> None:
    """Render HTTP errors and unexpected exceptions with the error template."""
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(SessionEnded, lambda _error: session_ended())
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)


def error_page(code: int, message: str | None = None) -> str:
    """Render the error page of a status, in the plain words of ``PLAIN_WORDS`` by default."""
    name, default = PLAIN_WORDS.get(code, (f"Error {code}", "This request could not be answered."))
    user: User | None = g.get("user")
    if code == 403 and message is None and user is not None:
        default = f"The {user.role} role may not open this page."
    return render_template(
        "error.html",
        code=code,
        name=name,
        message=_sentence(message) if message else default,
        back_url=home_url(user),
        back_label=home_label(user),
    )


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def http_error(error: HTTPException) -> Response | tuple[str, int, dict[str, str]]:
    """Render an HTTP error (404, 403, 405, ...) as a page of the app."""
    if api_requests.is_api_path(request.path):
        return api_requests.http_error(error)  # a path of no API endpoint: JSON all the same
    code = error.code or 500
    if code < 500 and "user" not in g:
        _load_user()  # a 404 of an unknown path comes before the role policy loads the user
    headers = {k: v for k, v in error.get_headers() if k.lower() in ("allow", "retry-after")}
    own = error.description if error.description != type(error).description else None
    return error_page(code, own), code, headers


def _load_user() -> None:
    try:
        current_user()
    except SQLAlchemyError:
        log.warning("could not read the signed-in user for an error page", exc_info=True)
        g.user = None


def csrf_error(error: CSRFError) -> Response | tuple[str, int, dict[str, str]]:
    """Audit a request refused for a missing or wrong CSRF token; answer by who sent it.

    A visitor whose session ended goes to the login page with the form kept; a signed-in user
    gets the 400 page.
    """
    user: User | None = None
    try:
        store = db()
        store.rollback()
        user = current_user()
        append_event(
            store,
            action="auth.csrf_failed",
            object_type="endpoint",
            object_id=request.endpoint or request.path[:64],
            actor=user,
            now=now(),
            request_id=request_id(),
            detail={
                "method": request.method,
                "path": request.path[:500],
                "reason": error.description,
                "signed_in": user is not None,
            },
        )
        store.commit()
    except SQLAlchemyError:
        log.exception("could not audit a CSRF failure on %s", request.path)
    if user is None:
        return session_ended()
    return error_page(400, CSRF_WORDS), 400, {}


def unexpected_error(error: Exception) -> tuple[str, int]:
    """Log an unexpected exception and render a plain 500 page."""
    log.exception("unexpected error while answering a request", exc_info=error)
    return error_page(500), 500
