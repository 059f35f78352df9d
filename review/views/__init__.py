"""The review app's blueprints, one module per area of the app."""

from __future__ import annotations

from flask import Flask

from review.views import cases, errors, login, queue


def register_blueprints(app: Flask) -> None:
    """Add every blueprint and the error pages to the app."""
    app.register_blueprint(login.bp)
    app.register_blueprint(queue.bp)
    app.register_blueprint(cases.bp)
    errors.register(app)
