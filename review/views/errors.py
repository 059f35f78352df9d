"""Friendly error pages: a status and a sentence, never a stack trace."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

from review.auth import current_user
from review.context import db, now, request_id
from storage.audit import append_event

log = logging.getLogger(__name__)


def register(app: Flask) -> None:
    """Render HTTP errors and unexpected exceptions with the error template."""
    app.register_error_handler(CSRFError, csrf_error)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected_error)


def http_error(error: HTTPException) -> tuple[str, int, dict[str, str]]:
    """Render an HTTP error (404, 403, a CSRF failure's 400, ...) as a page."""
    code = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() in ("allow", "retry-after")}
    return (
        render_template("error.html", code=code, name=error.name, message=error.description),
        code,
        headers,
    )


def csrf_error(error: CSRFError) -> tuple[str, int, dict[str, str]]:
    """Audit a request refused for a missing or wrong CSRF token, then render the 400 page."""
    try:
        store = db()
        store.rollback()
        append_event(
            store,
            action="auth.csrf_failed",
            object_type="endpoint",
            object_id=request.endpoint or request.path[:64],
            actor=current_user(),
            now=now(),
            request_id=request_id(),
            detail={
                "method": request.method,
                "path": request.path[:500],
                "reason": error.description,
            },
        )
        store.commit()
    except SQLAlchemyError:
        log.exception("could not audit a CSRF failure on %s", request.path)
    return http_error(error)


def unexpected_error(error: Exception) -> tuple[str, int]:
    """Log an unexpected exception and render a plain 500 page."""
    log.exception("unexpected error while answering a request", exc_info=error)
    fallback = InternalServerError()
    page = render_template(
        "error.html",
        code=500,
        name=fallback.name,
        message="Something went wrong on our side. The error was logged.",
    )
    return page, 500
