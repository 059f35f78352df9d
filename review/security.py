"""HTTP headers that every response of the review app carries."""

from __future__ import annotations

from flask import request
from werkzeug.wrappers import Response

# Scripts and styles come from /static only (keyboard triage is static/triage.js); nothing
# inline, no eval. Frames show only our own sandboxed capture view.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "frame-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)

# A captured page: a sandbox without scripts, forms or same-origin rights, which loads nothing
# (no image or stylesheet from the listing's site, which would tell it we looked), and may be
# framed only by our case page.
CAPTURE_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "sandbox",
        "default-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'self'",
    )
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}


def capture_headers() -> dict[str, str]:
    """Return the headers of a captured page, which replace the app's CSP and framing rule."""
    return {
        "Content-Security-Policy": CAPTURE_CONTENT_SECURITY_POLICY,
        "X-Frame-Options": "SAMEORIGIN",
    }


def add_security_headers(response: Response) -> Response:
    """Set the security headers; pages about cases are never cached."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.endpoint != "static":
        response.headers["Cache-Control"] = "no-store"
    return response
