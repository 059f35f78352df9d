"""The open-web guard: a downloader middleware every request passes, redirects included.

Requests are refused (`IgnoreRequest`, stat `synthwatch/refused/<reason>`, URL kept in
`synthwatch/refused_urls/<reason>`) for these reasons, checked in this order:

- `scheme`: not http or https.
- `onion`: a `.onion` or `.i2p` host; SynthWatch never touches hidden services.
- `ip_literal`: the host is an IP address (a loopback IP only passes with loopback allowed).
- `out_of_scope`: the host is not one of the source's allowed_domains or a subdomain of one.
- `login`: a path segment names a sign-in or sign-up page (`LOGIN_WORDS`, extension ignored).
- `private_address`: the host resolves to a private, loopback, link-local, reserved or other
  non-global address (loopback only passes with `SYNTHWATCH_ALLOW_LOOPBACK`).

`Cookie` and `Authorization` headers are stripped twice: here, and again when the request
reaches the downloader, after every other middleware had its turn.

Responses: a 401/407 or an HTML page with a password field is a login wall (`login`); a
CAPTCHA or WAF challenge (`CHALLENGE_MARKERS` on any page, `CAPTCHA_MARKERS` on a 403, 429 or
503) is `synthwatch/blocked`. Neither is ever passed on to be stored or followed.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import Request, Spider, signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.threads import deferToThread

from crawlers.sources import HIDDEN_SUFFIXES, in_domains
from crawlers.stats import record_blocked, record_refusal
from storage import crawl_stats

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Awaitable[list[str]]]

# Meta key marking the robots.txt fetch of `crawlers.robots`: checked here, but not a page.
ROBOTS_REQUEST = "synthwatch_robots_txt"
CREDENTIAL_HEADERS = (b"Cookie", b"Authorization")
# Path segments (lower case, extension dropped) of sign-in, sign-up and auth pages.
LOGIN_WORDS = frozenset(
    {
        "login",
        "log-in",
        "log_in",
        "signin",
        "sign-in",
        "sign_in",
        "logon",
        "log-on",
        "auth",
        "register",
        "signup",
        "sign-up",
        "wp-login",
    }
)
LOGIN_STATUSES = frozenset({401, 407})
PASSWORD_INPUT = re.compile(rb"<input\b[^>]*\btype\s*=\s*[\"']?password\b", re.IGNORECASE)
# Markers of a challenge page whatever its status (Cloudflare, DataDome, Imperva, PerimeterX).
CHALLENGE_MARKERS = (
    b"/cdn-cgi/challenge-platform/",
    b"cf-chl-",
    b"captcha-delivery.com",
    b"_incapsula_resource",
    b"px-captcha",
    b"verify you are human",
    b"are you a robot",
    b"checking your browser before accessing",
)
# Markers of a CAPTCHA widget: a block only on a refusal status (a contact form may have one).
CAPTCHA_MARKERS = (b"g-recaptcha", b"h-captcha", b"hcaptcha.com", b"cf-turnstile", b"captcha")
BLOCK_STATUSES = frozenset({403, 429, 503})
# Markers sit near the top of a challenge page; scanning more only costs time.
SCAN_BYTES = 256 * 1024


def ip_literal(host: str) -> IPAddress | None:
    """Return the address when the host is an IP literal."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def address_allowed(address: IPAddress, *, allow_loopback: bool) -> bool:
    """Tell whether an address is on the public internet (or loopback, when allowed)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return allow_loopback
    return address.is_global and not address.is_multicast


def is_login_path(path: str) -> bool:
    """Tell whether a URL path names a sign-in or sign-up page."""
    for segment in path.lower().split("/"):
        stem = segment.split(";", 1)[0].rsplit(".", 1)[0] if "." in segment else segment
        if stem in LOGIN_WORDS:
            return True
    return False


def refusal_reason(url: str, *, allowed_domains: Iterable[str], allow_loopback: bool) -> str | None:
    """Return why a URL may not be fetched without asking DNS, or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        return "scheme"
    if host.endswith(HIDDEN_SUFFIXES) or host in ("onion", "i2p"):
        return "onion"
    address = ip_literal(host)
    if address is not None and not (address.is_loopback and allow_loopback):
        return "ip_literal"
    if not in_domains(host, allowed_domains):
        return "out_of_scope"
    if is_login_path(parts.path):
        return "login"
    return None


def login_wall(response: Response) -> bool:
    """Tell whether a response asks for credentials."""
    if response.status in LOGIN_STATUSES:
        return True
    return isinstance(response, TextResponse) and bool(
        PASSWORD_INPUT.search(response.body[:SCAN_BYTES])
    )


def challenge_page(response: Response) -> bool:
    """Tell whether a response is a CAPTCHA or WAF challenge rather than content."""
    if not isinstance(response, TextResponse):
        return False
    head = response.body[:SCAN_BYTES].lower()
    if any(marker in head for marker in CHALLENGE_MARKERS):
        return True
    return response.status in BLOCK_STATUSES and any(m in head for m in CAPTCHA_MARKERS)


async def resolve_in_thread(host: str) -> list[str]:
    """Resolve a host name in Twisted's thread pool, off the reactor."""
    infos = await maybe_deferred_to_future(
        deferToThread(socket.getaddrinfo, host, None, proto=socket.IPPROTO_TCP)
    )
    return [str(info[4][0]) for info in infos]


class OpenWebGuard:
    """Refuse every request that would leave the approved open web; stop at login walls."""

    def __init__(
        self,
        stats: StatsCollector,
        *,
        allow_loopback: bool = False,
        refused_urls_max: int = 50,
        dns_cache_size: int = 4096,
        resolver: Resolver = resolve_in_thread,
    ) -> None:
        self.stats = stats
        self.allow_loopback = allow_loopback
        self.refused_urls_max = refused_urls_max
        self.allowed_domains: tuple[str, ...] = ()
        self._resolve = resolver
        self._dns: OrderedDict[str, bool] = OrderedDict()
        self._dns_cache_size = dns_cache_size

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        guard = cls(
            crawler.stats,
            allow_loopback=settings.getbool("SYNTHWATCH_ALLOW_LOOPBACK"),
            refused_urls_max=settings.getint("SYNTHWATCH_REFUSED_URLS_MAX", 50),
            dns_cache_size=settings.getint("SYNTHWATCH_DNS_CACHE_SIZE", 4096),
        )
        crawler.signals.connect(guard.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(
            guard.request_reached_downloader, signal=signals.request_reached_downloader
        )
        return guard

    def spider_opened(self, spider: Spider) -> None:
        # No allowed_domains means nothing is in scope: the guard fails closed.
        self.allowed_domains = tuple(d.lower() for d in getattr(spider, "allowed_domains", ()))

    def request_reached_downloader(self, request: Request, spider: Spider) -> None:
        self.strip_credentials(request)

    def strip_credentials(self, request: Request) -> None:
        for name in CREDENTIAL_HEADERS:
            if name in request.headers:
                del request.headers[name]
                self.stats.inc_value(crawl_stats.CREDENTIALS_STRIPPED)

    def refuse(self, reason: str, url: str) -> IgnoreRequest:
        """Record a refusal and return the exception to raise."""
        record_refusal(self.stats, reason, url, self.refused_urls_max)
        log = logger.debug if reason in ("out_of_scope", "scheme") else logger.info
        log("guard refused %s: %s", reason, url)
        return IgnoreRequest(f"open-web guard refused {url} ({reason})")

    async def process_request(self, request: Request) -> None:
        self.strip_credentials(request)
        reason = refusal_reason(
            request.url, allowed_domains=self.allowed_domains, allow_loopback=self.allow_loopback
        )
        if reason is None:
            host = (urlparse_cached(request).hostname or "").rstrip(".")
            if ip_literal(host) is None and not await self._public(host):
                reason = "private_address"
        if reason is not None:
            raise self.refuse(reason, request.url)

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get(ROBOTS_REQUEST):
            return response
        self.stats.inc_value(crawl_stats.PAGES_FETCHED)
        if login_wall(response):
            raise self.refuse("login", response.url)
        if challenge_page(response):
            record_blocked(self.stats, response.url, self.refused_urls_max)
            logger.warning("blocked by a CAPTCHA/WAF challenge: %s", response.url)
            raise IgnoreRequest(f"challenge page at {response.url} (blocked)")
        return response

    async def _public(self, host: str) -> bool:
        """Tell whether every address of a host may be fetched; cached per host."""
        if host in self._dns:
            self._dns.move_to_end(host)
            return self._dns[host]
        try:
            addresses = await self._resolve(host)
        except OSError:
            # Unresolvable: the download itself fails and is recorded as an error.
            return True
        loopback = self.allow_loopback
        allowed = bool(addresses) and all(
            address_allowed(ipaddress.ip_address(a.split("%", 1)[0]), allow_loopback=loopback)
            for a in addresses
        )
        self._dns[host] = allowed
        if len(self._dns) > self._dns_cache_size:
            self._dns.popitem(last=False)
        return allowed
