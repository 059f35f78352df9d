"""The read-only JSON API under /api/v1/: cases, listings, sellers, clusters and trends.

Who calls is the owner of the key in ``Authorization: Bearer <key>`` (``storage.api_keys``),
acting with the key's role. The session cookie is never read here: a page of another site can
make a signed-in browser send its cookie, never a key, so the API has no CSRF surface; and
nothing here changes data. A missing, malformed, unknown or revoked key, or one whose owner was
disabled or given another role, is a 401 and an ``api.refused`` audit row; a role an endpoint
does not admit is a 403 and an ``auth.denied`` row; a parameter an endpoint does not take, or a
value it can't use, is a 400 that names it. Every other request writes an ``api.request`` row:
the key's prefix, the endpoint, path and parameters, the status and how many results
(``review.views.api_requests``).

Everything answered is JSON, errors too (``{"error": code, "message": sentence, "status": n}``,
never a trace), with times in ISO 8601 UTC and scraped text as plain strings. docs/api.md
describes every endpoint, parameter and shape; keep the two in step.
"""

from __future__ import annotations

from flask import Blueprint
from werkzeug.exceptions import HTTPException

from review.views import api_entities, api_listings
from review.views.api_requests import endpoint, http_error, unexpected_error

bp = Blueprint("api", __name__, url_prefix="/api/v1")

ROUTES = (
    ("/cases", api_listings.cases),
    ("/cases/<int:case_id>", api_listings.case),
    ("/listings", api_listings.listings),
    ("/listings/<int:listing_id>", api_listings.listing),
    ("/sellers", api_entities.sellers),
    ("/sellers/<int:seller_id>", api_entities.seller),
    ("/clusters", api_entities.clusters),
    ("/clusters/<int:cluster_id>", api_entities.cluster),
    ("/trends", api_entities.trends),
)
for rule, view in ROUTES:
    bp.add_url_rule(rule, view_func=endpoint(view), methods=["GET"])
bp.register_error_handler(HTTPException, http_error)
bp.register_error_handler(Exception, unexpected_error)
