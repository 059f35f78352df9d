from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest
from scrapy import Request, Spider
from scrapy.downloadermiddlewares.redirect import RedirectMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.statscollectors import StatsCollector
from scrapy.utils.test import get_crawler

from crawlers.faults import CrawlFault
from crawlers.guard import OpenWebGuard, is_login_path, refusal_reason
from crawlers.resolver import AddressBook, VettedResolver

DNS = {
    "shop.example": ["93.184.216.34"],
    "www.shop.example": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
    "intranet.shop.example": ["10.1.2.3"],
    "metadata.shop.example": ["169.254.169.254"],
    "local.shop.example": ["127.0.0.1"],
    "mapped.shop.example": ["::ffff:192.168.0.1"],
    "nat64.shop.example": ["64:ff9b::808:808"],
    "nat64-local.shop.example": ["64:ff9b::7f00:1"],
    "sixtofour.shop.example": ["2002:808:808::1"],
    "sitelocal.shop.example": ["fec0::1"],
    "teredo.shop.example": ["2001:0:4136:e378:8000:63bf:3fff:fdd2"],
    "compatible.shop.example": ["::10.1.2.3"],
    "translated.shop.example": ["::ffff:0:a01:203"],
    "mapped-metadata.shop.example": ["::ffff:169.254.169.254"],
    "cgnat.shop.example": ["100.64.0.1"],
    "protocol.shop.example": ["192.0.0.8"],
    "multicast.shop.example": ["224.0.0.1", "ff02::1"],
    "broadcast.shop.example": ["255.255.255.255"],
    "unspecified.shop.example": ["0.0.0.0"],
    "uniquelocal.shop.example": ["fd00::1"],
    "mapped-public.shop.example": ["::ffff:93.184.216.34"],
    "garbage.shop.example": ["not-an-address"],
}


async def fake_resolve(host: str) -> list[str]:
    if host not in DNS:
        raise OSError(f"no such host {host}")
    return DNS[host]


class ShopSpider(Spider):
    name = "shop"
    allowed_domains = ["shop.example", "127.0.0.1"]


def make_guard(*, allow_loopback: bool = False) -> tuple[OpenWebGuard, StatsCollector]:
    crawler = get_crawler(ShopSpider)
    guard = OpenWebGuard(
        crawler.stats, allow_loopback=allow_loopback, resolver=fake_resolve, book=AddressBook()
    )
    guard.spider_opened(ShopSpider())
    return guard, crawler.stats


def check(guard: OpenWebGuard, request: Request) -> None:
    asyncio.run(guard.process_request(request))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://shop.example/file", "scheme"),
        ("file:///etc/passwd", "scheme"),
        # Credentials in the URL would be sent as Basic auth: never.
        ("https://buyer:secret@shop.example/listing/1", "credentials"),
        ("https://buyer@shop.example/listing/1", "credentials"),
        ("http://market.onion/listing/1", "onion"),
        ("http://shop.example.onion/", "onion"),
        ("http://market.i2p/", "onion"),
        # RFC 5737 documentation address: refused before any connection is attempted.
        ("http://192.0.2.10/listing", "ip_literal"),
        ("http://[2606:2800:220:1::1]/", "ip_literal"),
        ("http://127.0.0.1/listing", "ip_literal"),
        ("https://elsewhere.example/listing", "out_of_scope"),
        ("https://notshop.example/", "out_of_scope"),
        ("https://shop.example.evil.example/", "out_of_scope"),
        ("https://shop.example/login", "login"),
        ("https://shop.example/account/login?next=/", "login"),
        ("https://shop.example/wp-login.php", "login"),
        ("https://shop.example/users/sign-in", "login"),
        ("https://shop.example/register", "login"),
        ("https://shop.example/auth/", "login"),
        ("https://intranet.shop.example/", "private_address"),
        ("https://metadata.shop.example/latest/", "private_address"),
        ("https://local.shop.example/", "private_address"),
        ("https://mapped.shop.example/", "private_address"),
        # Numeric host names are read as IPv4 addresses: 2130706433 and 0x7f.1 are 127.0.0.1.
        ("http://2130706433/", "ip_literal"),
        ("http://0x7f.1/", "ip_literal"),
        ("http://0177.0.0.1/", "ip_literal"),
        ("http://1572395042/", "ip_literal"),
        ("https://shop.example/login;jsessionid=1", "login"),
        ("https://shop.example/%6cogin", "login"),
        ("https://shop.example/%256cogin", "login"),
        ("https://shop.example/LOG%49N.php.bak", "login"),
        ("https://shop.example/account%2Flogin", "login"),
    ],
)
def test_the_guard_refuses_and_records(url: str, reason: str) -> None:
    guard, stats = make_guard()

    with pytest.raises(IgnoreRequest):
        check(guard, Request(url))

    assert stats.get_value(f"synthwatch/refused/{reason}") == 1
    # The URL as requested: w3lib >= 2.6 writes a numeric host as its address (0x7f.1 → 127.0.0.1).
    assert stats.get_value(f"synthwatch/refused_urls/{reason}") == [Request(url).url]


def test_a_host_ending_in_a_number_is_an_ip_literal_even_where_no_request_can_hold_it() -> None:
    # w3lib >= 2.6 will not build a Request for it; the spider records it (test_spider_bounds).
    reason = refusal_reason(
        "http://shop.example.0x5d/", allowed_domains=["shop.example"], allow_loopback=False
    )

    assert reason == "ip_literal"


@pytest.mark.parametrize(
    "host",
    [
        "nat64",
        "nat64-local",
        "sixtofour",
        "sitelocal",
        "teredo",
        "compatible",
        "translated",
        "mapped-metadata",
        "cgnat",
        "protocol",
        "multicast",
        "broadcast",
        "unspecified",
        "uniquelocal",
        "garbage",
    ],
)
def test_every_non_public_range_is_refused(host: str) -> None:
    guard, stats = make_guard(allow_loopback=True)

    with pytest.raises(IgnoreRequest):
        check(guard, Request(f"https://{host}.shop.example/"))

    assert stats.get_value("synthwatch/refused/private_address") == 1


def test_a_failed_lookup_fails_closed_and_is_asked_again_later() -> None:
    asked: list[str] = []

    async def resolve(host: str) -> list[str]:
        asked.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    crawler = get_crawler(ShopSpider)
    book = AddressBook()
    guard = OpenWebGuard(crawler.stats, resolver=resolve, book=book)
    guard.spider_opened(ShopSpider())

    for _ in range(2):
        with pytest.raises(CrawlFault) as failed:
            check(guard, Request("https://gone.shop.example/item/1"))
        assert failed.value.reason == "dns"

    assert asked == ["gone.shop.example", "gone.shop.example"]
    assert book.get("gone.shop.example") is None


def test_an_empty_answer_fails_closed() -> None:
    async def resolve(host: str) -> list[str]:
        return []

    crawler = get_crawler(ShopSpider)
    guard = OpenWebGuard(crawler.stats, resolver=resolve, book=AddressBook())
    guard.spider_opened(ShopSpider())

    with pytest.raises(CrawlFault):
        check(guard, Request("https://empty.shop.example/"))


def test_vetted_addresses_are_pinned_and_asked_once() -> None:
    asked: list[str] = []

    async def resolve(host: str) -> list[str]:
        asked.append(host)
        # A rebinding server: public first, then the metadata service.
        return ["93.184.216.34"] if len(asked) == 1 else ["169.254.169.254"]

    crawler = get_crawler(ShopSpider)
    book = AddressBook()
    guard = OpenWebGuard(crawler.stats, resolver=resolve, book=book)
    guard.spider_opened(ShopSpider())

    check(guard, Request("https://rebind.shop.example/a"))
    check(guard, Request("https://Rebind.Shop.Example./b"))

    assert asked == ["rebind.shop.example"]
    assert [str(a) for a in book.get("rebind.shop.example") or ()] == ["93.184.216.34"]


def test_networks_refused_by_the_operator_are_refused_even_as_loopback() -> None:
    crawler = get_crawler(ShopSpider)
    guard = OpenWebGuard(
        crawler.stats,
        allow_loopback=True,
        resolver=fake_resolve,
        book=AddressBook(),
        refused_networks=[ipaddress.ip_network("127.0.0.0/8")],
    )
    guard.spider_opened(ShopSpider())

    with pytest.raises(IgnoreRequest):
        check(guard, Request("https://local.shop.example/"))
    check(guard, Request("https://shop.example/"))


class FakeReactor:
    def __init__(self, resolver: object) -> None:
        self.nameResolver = resolver


def test_without_the_vetted_resolver_on_the_reactor_nothing_is_fetched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import twisted.internet

    crawler = get_crawler(ShopSpider)
    guard = OpenWebGuard(crawler.stats, resolver=fake_resolve)
    guard.spider_opened(ShopSpider())
    monkeypatch.setattr(twisted.internet, "reactor", FakeReactor(object()), raising=False)

    with pytest.raises(CrawlFault) as failed:
        check(guard, Request("https://shop.example/listing/1"))
    assert failed.value.reason == "dns"

    vetted = VettedResolver()
    monkeypatch.setattr(twisted.internet, "reactor", FakeReactor(vetted), raising=False)
    check(guard, Request("https://shop.example/listing/1"))
    assert [str(a) for a in vetted.book.get("shop.example") or ()] == ["93.184.216.34"]


@pytest.mark.parametrize(
    "url",
    [
        "https://shop.example/listing/1",
        "https://www.shop.example/category/authors/",
        "http://shop.example/loginhelp-is-not-a-login",
        "https://mapped-public.shop.example/",
    ],
)
def test_the_guard_lets_open_web_pages_through(url: str) -> None:
    guard, stats = make_guard()

    check(guard, Request(url))

    assert not any(key.startswith("synthwatch/refused") for key in stats.get_stats())


def test_loopback_passes_only_when_allowed() -> None:
    guard, _ = make_guard(allow_loopback=True)

    check(guard, Request("http://127.0.0.1:8421/b2b/"))
    check(guard, Request("https://local.shop.example/"))
    with pytest.raises(IgnoreRequest):
        check(guard, Request("https://intranet.shop.example/"))


def test_a_spider_without_allowed_domains_crawls_nothing() -> None:
    crawler = get_crawler(Spider)
    guard = OpenWebGuard(crawler.stats, resolver=fake_resolve, book=AddressBook())
    guard.spider_opened(Spider(name="nowhere"))

    with pytest.raises(IgnoreRequest):
        check(guard, Request("https://shop.example/"))


def test_refused_urls_are_kept_up_to_the_limit() -> None:
    crawler = get_crawler(ShopSpider)
    guard = OpenWebGuard(
        crawler.stats, refused_urls_max=2, resolver=fake_resolve, book=AddressBook()
    )
    guard.spider_opened(ShopSpider())

    for n in range(4):
        with pytest.raises(IgnoreRequest):
            check(guard, Request(f"https://elsewhere.example/{n}"))

    assert crawler.stats.get_value("synthwatch/refused/out_of_scope") == 4
    assert len(crawler.stats.get_value("synthwatch/refused_urls/out_of_scope")) == 2


def test_a_redirect_to_another_host_is_refused() -> None:
    crawler = get_crawler(ShopSpider)
    guard, stats = make_guard()
    request = Request("https://shop.example/listing/1")
    moved = Response(
        request.url, status=302, headers={"Location": "https://tracker.example/x"}, request=request
    )

    redirected = RedirectMiddleware.from_crawler(crawler).process_response(request, moved)

    assert isinstance(redirected, Request)
    with pytest.raises(IgnoreRequest):
        check(guard, redirected)
    assert stats.get_value("synthwatch/refused_urls/out_of_scope") == ["https://tracker.example/x"]


def test_cookies_and_authorization_are_stripped() -> None:
    guard, stats = make_guard()
    request = Request(
        "https://shop.example/listing/1",
        headers={"Cookie": "session=1", "Authorization": "Basic eDp5", "Accept": "text/html"},
    )

    check(guard, request)

    assert "Cookie" not in request.headers and "Authorization" not in request.headers
    assert request.headers["Accept"] == b"text/html"
    # Again where the request reaches the downloader, after every other middleware.
    request.headers["Cookie"] = "added=later"
    guard.request_reached_downloader(request, ShopSpider())
    assert "Cookie" not in request.headers
    assert stats.get_value("synthwatch/guard/credentials_stripped") == 3


def respond(body: str, status: int = 200) -> tuple[Request, HtmlResponse]:
    request = Request("https://shop.example/listing/1")
    return request, HtmlResponse(request.url, status=status, body=body.encode(), request=request)


LISTING = "<html><body><h1>Acetone</h1><p>1 L, $20</p></body></html>"
PASSWORD_FORM = '<form><input name="u"><INPUT type=PASSWORD name="p"></form>'
CHALLENGE = "<html><title>Just a moment...</title><p>Verify you are human</p></html>"
RECAPTCHA = '<form class="contact"><div class="g-recaptcha" data-sitekey="x"></div></form>'


def test_a_normal_page_is_counted_and_passed_on() -> None:
    guard, stats = make_guard()
    request, response = respond(LISTING)

    assert guard.process_response(request, response) is response
    assert stats.get_value("synthwatch/pages_fetched") == 1


@pytest.mark.parametrize(
    ("body", "status"), [("<p>Sign in</p>", 401), ("", 407), (PASSWORD_FORM, 200)]
)
def test_login_walls_are_refused(body: str, status: int) -> None:
    guard, stats = make_guard()
    request, response = respond(body, status)

    with pytest.raises(IgnoreRequest):
        guard.process_response(request, response)

    assert stats.get_value("synthwatch/refused/login") == 1
    assert stats.get_value("synthwatch/refused_urls/login") == [response.url]


def test_a_password_field_deep_in_a_page_is_a_login_wall() -> None:
    guard, stats = make_guard()
    padding = "<p>" + "x" * (300 * 1024) + "</p>"
    request, response = respond(f"<html><body>{padding}{PASSWORD_FORM}</body></html>")

    with pytest.raises(IgnoreRequest):
        guard.process_response(request, response)

    assert stats.get_value("synthwatch/refused/login") == 1


def test_an_unclosed_input_tag_is_still_scanned() -> None:
    guard, _ = make_guard()
    request, response = respond("<input name=a <input name=b type='password'")

    with pytest.raises(IgnoreRequest):
        guard.process_response(request, response)


@pytest.mark.parametrize(
    ("body", "status"), [(CHALLENGE, 200), (CHALLENGE, 503), (RECAPTCHA, 403), (RECAPTCHA, 429)]
)
def test_challenge_pages_are_blocked(body: str, status: int) -> None:
    guard, stats = make_guard()
    request, response = respond(body, status)

    with pytest.raises(IgnoreRequest):
        guard.process_response(request, response)

    assert stats.get_value("synthwatch/blocked") == 1
    assert stats.get_value("synthwatch/blocked_urls") == [response.url]


def test_a_captcha_widget_on_a_normal_page_is_not_a_block() -> None:
    guard, stats = make_guard()
    request, response = respond(LISTING + RECAPTCHA)

    assert guard.process_response(request, response) is response
    assert stats.get_value("synthwatch/blocked") is None


def test_binary_responses_are_not_scanned() -> None:
    guard, _ = make_guard()
    request = Request("https://shop.example/image.png")
    response = Response(request.url, body=b"verify you are human", request=request)

    assert guard.process_response(request, response) is response
    assert not isinstance(response, TextResponse)


@pytest.mark.parametrize(
    ("path", "login"),
    [
        ("/login", True),
        ("/Account/LogIn/", True),
        ("/forum/login", True),
        ("/signin.aspx", True),
        ("/user/sign_in", True),
        ("/logon", True),
        ("/signup", True),
        ("/b2b/products/login-kit.html", False),
        ("/authors/", False),
        ("/blog/how-to-register-a-company", False),
        ("/login;jsessionid=1", True),
        ("/%6cogin", True),
        ("/%256C%256F%2567in/", True),
        ("/login%00", True),
        ("/\uff4c\uff4f\uff47\uff49\uff4e", True),
        ("/shop\\login", True),
        ("/login.php.bak", True),
        ("/logins-and-outs", False),
    ],
)
def test_login_paths(path: str, login: bool) -> None:
    assert is_login_path(path) is login


async def system_resolve(host: str) -> list[str]:
    """The system resolver, for names /etc/hosts answers without any network (localhost)."""
    infos = await asyncio.to_thread(socket.getaddrinfo, host, None, proto=socket.IPPROTO_TCP)
    return [str(info[4][0]) for info in infos]


class LocalSpider(Spider):
    name = "local"
    allowed_domains = ["localhost", "shop.example"]


def test_localhost_is_a_private_address_unless_loopback_is_allowed() -> None:
    crawler = get_crawler(LocalSpider)
    guard = OpenWebGuard(crawler.stats, resolver=system_resolve, book=AddressBook())
    guard.spider_opened(LocalSpider())

    with pytest.raises(IgnoreRequest):
        check(guard, Request("http://localhost:8421/item/1"))

    assert crawler.stats.get_value("synthwatch/refused_urls/private_address") == [
        "http://localhost:8421/item/1"
    ]
    allowed = OpenWebGuard(
        crawler.stats, allow_loopback=True, resolver=system_resolve, book=AddressBook()
    )
    allowed.spider_opened(LocalSpider())
    check(allowed, Request("http://localhost:8421/item/1"))


def test_a_name_with_any_private_address_is_refused_and_cached() -> None:
    asked: list[str] = []

    async def resolve(host: str) -> list[str]:
        asked.append(host)
        return ["93.184.216.34", "10.20.30.40"]  # one public, one private: refused

    crawler = get_crawler(ShopSpider)
    guard = OpenWebGuard(crawler.stats, resolver=resolve, book=AddressBook())
    guard.spider_opened(ShopSpider())

    for path in ("/a", "/b"):
        with pytest.raises(IgnoreRequest):
            check(guard, Request(f"https://split.shop.example{path}"))

    assert crawler.stats.get_value("synthwatch/refused/private_address") == 2
    assert asked == ["split.shop.example"]
