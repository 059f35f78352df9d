"""The open-web guard: a downloader middleware every request passes, redirects included.

Requests are refused (`IgnoreRequest`, stat `synthwatch/refused/<reason>`, URL kept in
`synthwatch/refused_urls/<reason>`) for these reasons, checked in this order:

- `scheme`: not http or https.
- `credentials`: the URL carries a user name or password (`https://user:pass@host/`).
- `onion`: a `.onion` or `.i2p` host; SynthWatch never touches hidden services.
- `ip_literal`: the host is an IP address (a loopback IP only passes with loopback allowed),
  or ends in a number and so would be read as one (`2130706433`, `0x7f.1`, `0177.0.0.1`).
- `out_of_scope`: the host is not one of the source's allowed_domains or a subdomain of one.
- `login`: a path segment names a sign-in or sign-up page (`LOGIN_WORDS`), once
  percent-decoded, whatever follows the word (`.php`, `;jsessionid=...`).
- `private_address`: any address the host resolves to is not allowed by `crawlers.addresses`
  (private, loopback, link-local, reserved, NAT64, 6to4, ...; loopback only passes with
  `SYNTHWATCH_ALLOW_LOOPBACK`; `SYNTHWATCH_REFUSED_NETWORKS` never pass).

A host name is looked up once per crawl. A failed look-up fails the request as a `dns` error
(`crawlers.faults.CrawlFault`), never lets it through; approved addresses are pinned in the
crawl's resolver (`crawlers.resolver.VettedResolver`), the only one connections ask, so the
crawler connects to nothing but the addresses checked here. Without that resolver installed
every request fails (`dns`): the guard cannot vouch for a connection it does not control.

`Cookie` and `Authorization` headers are stripped twice: here, and again when the request
reaches the downloader, after every other middleware had its turn.

Responses: a 401/407 or an HTML page with a password field anywhere in it is a login wall
(`login`); a CAPTCHA or WAF challenge (`CHALLENGE_MARKERS` on any page, `CAPTCHA_MARKERS` on
a 403, 429 or 503) is `synthwatch/blocked`. Neither is ever passed on to be stored or followed.
"""

from __future__ import annotations

import logging
import re
import socket
import unicodedata
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from scrapy import Request, Spider, signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.threads import deferToThread

from crawlers.addresses import (
    IPNetwork,
    address_allowed,
    ip_literal,
    numeric_host,
    parse_networks,
)
from crawlers.faults import CrawlFault
from crawlers.resolver import AddressBook, VettedResolver
from crawlers.sources import HIDDEN_SUFFIXES, in_domains
from crawlers.stats import record_blocked, record_refusal
from storage import crawl_stats

if TYPE_CHECKING:
    from typing import Self

    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)

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
# One match per tag, never overlapping: a linear scan of the whole body, however hostile.
INPUT_TAG = re.compile(rb"<input\b[^>]*", re.IGNORECASE)
PASSWORD_TYPE = re.compile(rb"\btype\s*=\s*[\"']?password\b", re.IGNORECASE)
# The word a path segment starts with: `login` of `login.php` and of `login;jsessionid=1`.
SEGMENT_WORD = re.compile(r"[a-z0-9_-]*")
# Percent-decoding is repeated (`%256c` is `%6c` is `l`), this many times at most.
DECODE_ROUNDS = 3
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
# Challenge markers sit near the top of a challenge page; scanning more only costs time.
# (A password field is looked for in the whole body: a site can put it anywhere.)
SCAN_BYTES = 256 * 1024


def is_login_path(path: str) -> bool:
    """Tell whether a URL path names a sign-in or sign-up page, however it is spelled."""
    for _ in range(DECODE_ROUNDS):
        decoded = unquote(path)
        if decoded == path:
            break
        path = decoded
    path = unicodedata.normalize("NFKC", path).lower()
    for segment in re.split(r"[/\\]", path):
        found = SEGMENT_WORD.match(segment.strip())
        if found is not None and found.group() in LOGIN_WORDS:
            return True
    return False


def refusal_reason(url: str, *, allowed_domains: Iterable[str], allow_loopback: bool) -> str | None:
    """Return why a URL may not be fetched without asking DNS, or None."""
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    if parts.scheme not in ("http", "https") or not host:
        return "scheme"
    if parts.username is not None or parts.password is not None:
        # Never send credentials: `user:pass@` would reach the site as Basic auth.
        return "credentials"
    if host.endswith(HIDDEN_SUFFIXES) or host in ("onion", "i2p"):
        return "onion"
    address = ip_literal(host)
    if address is not None and not (address.is_loopback and allow_loopback):
        return "ip_literal"
    if address is None and numeric_host(host):
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
    return isinstance(response, TextResponse) and any(
        PASSWORD_TYPE.search(tag.group()) for tag in INPUT_TAG.finditer(response.body)
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
        book: AddressBook | None = None,
        refused_networks: Sequence[IPNetwork] = (),
    ) -> None:
        self.stats = stats
        self.allow_loopback = allow_loopback
        self.refused_urls_max = refused_urls_max
        self.refused_networks = tuple(refused_networks)
        self.allowed_domains: tuple[str, ...] = ()
        self._resolve = resolver
        # None until the reactor's resolver is found (`_pins`); tests pass their own.
        self._book = book
        # Hosts refused for their addresses; approved ones live in the address book.
        self._refused: OrderedDict[str, None] = OrderedDict()
        self._dns_cache_size = dns_cache_size

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        guard = cls(
            crawler.stats,
            allow_loopback=settings.getbool("SYNTHWATCH_ALLOW_LOOPBACK"),
            refused_urls_max=settings.getint("SYNTHWATCH_REFUSED_URLS_MAX", 50),
            dns_cache_size=settings.getint("SYNTHWATCH_DNS_CACHE_SIZE", 4096),
            refused_networks=parse_networks(settings.getlist("SYNTHWATCH_REFUSED_NETWORKS")),
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
            if ip_literal(host) is None and not await self._vet(host, request.url):
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

    def _pins(self, url: str) -> AddressBook:
        """Return the address book of the resolver every connection of this crawl asks."""
        if self._book is None:
            from twisted.internet import reactor

            installed = getattr(reactor, "nameResolver", None)
            if not isinstance(installed, VettedResolver):
                logger.error(
                    "the reactor's resolver is %r, not crawlers.resolver.VettedResolver "
                    "(TWISTED_DNS_RESOLVER): no request can be vetted",
                    installed,
                )
                raise CrawlFault("dns", f"no vetted resolver installed: {url} not fetched")
            self._book = installed.book
        return self._book

    async def _vet(self, host: str, url: str) -> bool:
        """Tell whether every address of a host may be fetched, pinning them if so.

        Looked up once per host (while the answer stays in the book); a failed look-up is a
        `dns` fault, not cached, so that a later request (robots.txt's retry) asks again.
        """
        book = self._pins(url)
        if book.get(host) is not None:
            return True
        if host in self._refused:
            self._refused.move_to_end(host)
            return False
        try:
            answers = await self._resolve(host)
        except OSError as exc:
            raise CrawlFault("dns", f"cannot resolve {host}: {exc} ({url})") from exc
        if not answers:
            raise CrawlFault("dns", f"no address for {host} ({url})")
        addresses = [ip_literal(a) for a in answers]
        vetted = [a for a in addresses if a is not None]
        allowed = len(vetted) == len(addresses) and all(
            address_allowed(a, allow_loopback=self.allow_loopback, refused=self.refused_networks)
            for a in vetted
        )
        if allowed:
            book.pin(host, vetted)
            return True
        self._refused[host] = None
        if len(self._refused) > self._dns_cache_size:
            self._refused.popitem(last=False)
        return False
