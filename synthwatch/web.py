"""Serve the review app on the loopback interface."""

from __future__ import annotations

from werkzeug.serving import run_simple

from review.app import create_app
from synthwatch.store import Store

HOST = "127.0.0.1"


def serve_review_app(store: Store, *, port: int) -> None:
    """Serve the review app until interrupted (threaded werkzeug server, loopback only)."""
    app = create_app(store.session_factory)
    run_simple(HOST, port, app, threaded=True, use_reloader=False, use_debugger=False)
