"""Signing in and out."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from review.auth import (
    MAX_PASSWORD_LENGTH,
    authenticate,
    current_user,
    login_user,
    logout_user,
    public,
    safe_next,
)
from review.context import db, now, request_id
from review.kept_form import bind_to_login
from storage.models import User

bp = Blueprint("login", __name__)

# Where each role lands after signing in (admins work on the audit log, not on cases).
HOME = {"analyst": "queue.index", "legal": "queue.index", "admin": "audit.index"}


# How a link back to that page reads (on error pages).
HOME_LABELS = {"queue.index": "Back to the queue", "audit.index": "Back to the audit log"}


def home_url(user: User | None) -> str:
    """Return the start page of a user's role (the login page for a visitor)."""
    return url_for(_home(user))


def home_label(user: User | None) -> str:
    """Return the words of a link back to ``home_url(user)``."""
    return HOME_LABELS.get(_home(user), "Sign in")


def _home(user: User | None) -> str:
    return HOME.get(user.role, "queue.index") if user else "login.login"


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[InputRequired(), Length(max=200)])
    password = PasswordField(
        "Password", validators=[InputRequired(), Length(max=MAX_PASSWORD_LENGTH)]
    )


@bp.route("/login", methods=["GET", "POST"])
@public
def login() -> Response | str:
    """Show the login form; sign the user in when the credentials are right."""
    next_path = safe_next(request.args.get("next"))
    signed_in = current_user()
    if request.method == "GET" and signed_in is not None:
        return redirect(next_path or home_url(signed_in))
    form = LoginForm()
    failed = False
    if form.validate_on_submit():
        session = db()
        user = authenticate(
            session,
            username=form.username.data or "",
            password=form.password.data or "",
            now=now(),
            request_id=request_id(),
        )
        session.commit()
        if user is not None:
            login_user(user)
            response = redirect(next_path or home_url(user))
            bind_to_login(response, user)
            return response
        failed = True
    action = url_for("login.login", next=next_path)
    return render_template("login.html", form=form, failed=failed, action=action)


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Response:
    """End the session (a POST with a CSRF token, so no page can log a user out)."""
    user = current_user()
    if user is not None:
        logout_user(user)
        db().commit()
    else:
        logout_user(None)
    return redirect(url_for("login.login"))
