"""Which URLs from crawled pages may become links in the review app and the digest."""

from __future__ import annotations

from urllib.parse import urlsplit

SAFE_SCHEMES = frozenset({"http", "https"})


def safe_href(url: str | None) -> str | None:
    """Return ``url`` when it is an absolute http(s) URL safe to put in ``href``, else None.

    Anything else (``javascript:``, ``data:``, relative or scheme-relative URLs, URLs with
    whitespace or control characters that browsers would strip) stays plain text.
    """
    if not url or any(ord(c) <= 0x20 or ord(c) == 0x7F or c == "\\" for c in url):
        return None
    parts = urlsplit(url)
    if parts.scheme.lower() not in SAFE_SCHEMES or not parts.hostname:
        return None
    return url
