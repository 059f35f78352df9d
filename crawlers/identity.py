"""Who the crawler says it is: a User-Agent with a product token, a version and a contact URL.

A site's operator must be able to reach whoever runs the crawler, so there is no default
contact: a crawl refuses to start without `SYNTHWATCH_CONTACT_URL` (an http(s) URL or a
`mailto:` address), raising `ConfigError` from `IdentityMiddleware.from_crawler` (before the
crawl run opens or any request is made) and from `crawlers.runner.run_crawl` (before a child
process starts).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import Request

from crawlers import __version__
from crawlers.errors import ConfigError

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler

CONTACT_SETTING = "SYNTHWATCH_CONTACT_URL"
MAILBOX = re.compile(r"^[^@\s/?#]+@[^@\s/?#]+\.[^@\s/?#]+$")
USAGE = (
    f"set {CONTACT_SETTING} to a page or mailbox where a site's operator can reach whoever runs "
    f"this crawler, e.g. {CONTACT_SETTING}=https://example.org/crawler or "
    f"{CONTACT_SETTING}=mailto:crawler@example.org"
)


def contact_problem(value: str | None) -> str | None:
    """Return what is wrong with a contact URL, or None when it will do."""
    value = (value or "").strip()
    if not value:
        return f"{CONTACT_SETTING} is not set: the crawler will not start without it; {USAGE}"
    if not value.isascii() or any(c.isspace() or c in "()" for c in value):
        return f"{CONTACT_SETTING}={value!r} has spaces, parentheses or non-ASCII; {USAGE}"
    parts = urlsplit(value)
    if parts.scheme == "mailto" and MAILBOX.match(parts.path):
        return None
    if parts.scheme in ("http", "https") and parts.hostname:
        return None
    return f"{CONTACT_SETTING}={value!r} is not an http(s) URL or a mailto: address; {USAGE}"


def require_contact(value: str | None) -> str:
    """Return the contact URL, or raise ConfigError naming the variable."""
    problem = contact_problem(value)
    if problem is not None:
        raise ConfigError(problem)
    return (value or "").strip()


def user_agent(contact: str, *, product: str = "SynthWatch") -> str:
    """Return the User-Agent: product token, version and contact URL."""
    return f"{product}/{__version__} (+{contact})" if contact else f"{product}/{__version__}"


class IdentityMiddleware:
    """Send our User-Agent on every request; refuse to crawl without a contact URL."""

    def __init__(self, agent: str) -> None:
        self.agent = agent.encode("ascii")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        contact = require_contact(settings.get(CONTACT_SETTING))
        return cls(user_agent(contact, product=settings.get("SYNTHWATCH_ROBOTS_AGENT")))

    def process_request(self, request: Request) -> None:
        # Overwritten, never defaulted: a spider cannot crawl under another name.
        request.headers[b"User-Agent"] = self.agent
