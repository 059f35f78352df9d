"""Serve the review app on the loopback interface."""

from __future__ import annotations

from waitress import serve

from review.app import create_app
from review.settings import ReviewSettings
from synthwatch.store import Store

HOST = "127.0.0.1"
THREADS = 8


def serve_review_app(store: Store, *, port: int) -> None:
    """Serve the review app with waitress (a production WSGI server) until interrupted."""
    app = create_app(store.session_factory, ReviewSettings.from_env())
    serve(app, host=HOST, port=port, threads=THREADS, ident="SynthWatch")
