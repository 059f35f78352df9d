"""The review app's blueprints, one module per area of the app."""

from __future__ import annotations

from flask import Flask

from review.views import (
    account,
    actions,
    api,
    api_keys,
    audit,
    cases,
    clusters,
    errors,
    exports,
    listings,
    login,
    outbox,
    queue,
    sellers,
    sources,
    trends,
    watch,
)
from review.views.ids import IdConverter


def register_blueprints(app: Flask) -> None:
    """Add every blueprint and the error pages to the app."""
    # Before any route is added: each <int:...> of a route is bound to its converter then.
    app.url_map.converters["int"] = IdConverter
    for module in (login, queue, listings, cases, actions, exports, sources, trends, audit, outbox):
        app.register_blueprint(module.bp)
    app.register_blueprint(account.bp)
    app.register_blueprint(clusters.bp)
    app.register_blueprint(sellers.bp)
    app.register_blueprint(watch.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(api_keys.bp)
    errors.register(app)
