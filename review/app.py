"""The review app's factory: configuration, security defaults and wiring, no views of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask, g, send_from_directory
from flask_wtf.csrf import CSRFProtect
from jinja2 import StrictUndefined
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.wrappers import Response

from review.auth import endpoints_without_policy, enforce_policy, public
from review.context import EXTENSION, ReviewContext, close_db, lock_for_writing
from review.errors import ReviewError
from review.highlight import css_token
from review.kept_form import register as keep_forms_across_logins
from review.labels import class_label
from review.security import add_security_headers
from review.settings import ReviewSettings
from review.views import register_blueprints
from review.views.account import shown_time
from review.views.login import home_url
from storage.clock import Clock, utcnow

STATIC_DIR = Path(__file__).with_name("static")
STATIC_MAX_AGE_S = 3600


def create_app(
    session_factory: sessionmaker[Session],
    settings: ReviewSettings | None = None,
    *,
    clock: Clock = utcnow,
) -> Flask:
    """Build the review app over a session factory; settings default to the environment."""
    settings = settings or ReviewSettings.from_env()
    app = Flask(__name__, static_folder=None)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_NAME="synthwatch_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        PERMANENT_SESSION_LIFETIME=settings.session_lifetime,
        # The CSRF token lives as long as the session it belongs to.
        WTF_CSRF_TIME_LIMIT=None,
        # Strict mode demands a Referer on HTTPS, which Referrer-Policy: no-referrer withholds;
        # the token and SameSite=Lax cookies are the defence.
        WTF_CSRF_SSL_STRICT=False,
        MAX_CONTENT_LENGTH=1024 * 1024,
        PROPAGATE_EXCEPTIONS=False,
    )
    app.jinja_env.autoescape = True  # every template, whatever its file name ends with
    app.jinja_env.undefined = StrictUndefined
    app.jinja_env.trim_blocks = app.jinja_env.lstrip_blocks = True
    app.jinja_env.filters["css_token"] = css_token
    app.jinja_env.filters["class_label"] = class_label
    app.jinja_env.filters["local_time"] = shown_time
    app.extensions[EXTENSION] = ReviewContext(
        session_factory=session_factory, settings=settings, clock=clock
    )
    CSRFProtect(app)

    app.before_request(lock_for_writing)
    app.before_request(enforce_policy)
    app.after_request(add_security_headers)
    app.teardown_appcontext(close_db)
    app.context_processor(_template_globals)
    keep_forms_across_logins(app)

    app.add_url_rule("/static/<path:filename>", endpoint="static", view_func=_static)
    register_blueprints(app)
    missing = endpoints_without_policy(app)
    if missing:
        raise ReviewError(f"endpoints without a role policy: {', '.join(missing)}")
    return app


def _template_globals() -> dict[str, Any]:
    # Only the user the request already loaded: an error page must not need the database.
    user = g.get("user")
    return {"user": user, "home_url": home_url(user)}


@public
def _static(filename: str) -> Response:
    """Serve a file of ``review/static`` (stylesheet, keyboard script); anyone may fetch it."""
    return send_from_directory(STATIC_DIR, filename, max_age=STATIC_MAX_AGE_S)
