"""The crawl's resolver answers only with what the guard vetted; the address policy behind it."""

from __future__ import annotations

import ipaddress

import pytest
from twisted.internet.address import IPv4Address, IPv6Address

from crawlers.addresses import address_allowed, numeric_host, parse_networks
from crawlers.resolver import AddressBook, VettedResolver, host_key


class Receiver:
    def __init__(self) -> None:
        self.began = False
        self.addresses: list[IPv4Address | IPv6Address] = []
        self.complete = False

    def resolutionBegan(self, resolution: object) -> None:
        self.began = True

    def addressResolved(self, address: IPv4Address | IPv6Address) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        self.complete = True


def resolve(resolver: VettedResolver, host: str, port: int = 443) -> list[tuple[str, int]]:
    receiver = Receiver()
    resolver.resolveHostName(receiver, host, port)
    assert receiver.began and receiver.complete
    return [(a.host, a.port) for a in receiver.addresses]


def pinned(*addresses: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return [ipaddress.ip_address(a) for a in addresses]


def test_a_vetted_host_resolves_to_its_pinned_addresses_only() -> None:
    resolver = VettedResolver()
    resolver.book.pin("shop.example", pinned("93.184.216.34", "2606:2800:220:1::1"))

    assert resolve(resolver, "shop.example") == [
        ("93.184.216.34", 443),
        ("2606:2800:220:1::1", 443),
    ]
    assert resolve(resolver, "SHOP.example.", 80) == [
        ("93.184.216.34", 80),
        ("2606:2800:220:1::1", 80),
    ]


def test_a_host_the_guard_never_vetted_resolves_to_nothing() -> None:
    assert resolve(VettedResolver(), "elsewhere.example") == []


def test_a_pinned_address_is_checked_again_when_connecting() -> None:
    resolver = VettedResolver(refused=parse_networks(["93.184.216.0/24"]))
    resolver.book.pin("shop.example", pinned("93.184.216.34", "10.0.0.1"))

    assert resolve(resolver, "shop.example") == []


def test_ip_literals_resolve_to_themselves_only_when_allowed() -> None:
    assert resolve(VettedResolver(), "127.0.0.1") == []
    assert resolve(VettedResolver(), "169.254.169.254") == []
    assert resolve(VettedResolver(allow_loopback=True), "127.0.0.1") == [("127.0.0.1", 443)]


def test_address_types_are_filtered() -> None:
    resolver = VettedResolver()
    resolver.book.pin("shop.example", pinned("93.184.216.34", "2606:2800:220:1::1"))
    receiver = Receiver()

    resolver.resolveHostName(receiver, "shop.example", 443, addressTypes=[IPv6Address])

    assert [a.host for a in receiver.addresses] == ["2606:2800:220:1::1"]


def test_the_book_forgets_the_least_recently_used_host() -> None:
    book = AddressBook(size=2)
    for host in ("a.example", "b.example"):
        book.pin(host, pinned("93.184.216.34"))
    assert book.get("a.example") is not None
    book.pin("c.example", pinned("93.184.216.34"))

    assert book.get("b.example") is None and book.get("a.example") is not None


def test_host_names_have_one_spelling() -> None:
    # Twisted hands the resolver the decoded name; the guard sees the URL's punycode.
    assert (
        host_key("bücher.example") == host_key("xn--bcher-kva.example") == "xn--bcher-kva.example"
    )
    assert host_key("Shop.Example.") == "shop.example"


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1::1", True),
        ("::ffff:93.184.216.34", True),
        ("10.0.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("192.0.0.8", False),
        ("198.18.0.1", False),
        ("0.0.0.0", False),
        ("255.255.255.255", False),
        ("224.0.0.1", False),
        ("::", False),
        ("::ffff:169.254.169.254", False),
        ("::10.0.0.1", False),
        ("::ffff:0:a00:1", False),
        ("64:ff9b::808:808", False),
        ("64:ff9b:1::1", False),
        ("2002:808:808::1", False),
        ("2002:7f00:1::1", False),
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", False),
        ("fec0::1", False),
        ("fe80::1", False),
        ("fd12:3456::1", False),
        ("ff02::1", False),
        ("2001:db8::1", False),
        ("127.0.0.1", False),
        ("::1", False),
        ("::ffff:127.0.0.1", False),
    ],
)
def test_only_public_addresses_are_allowed(address: str, allowed: bool) -> None:
    assert address_allowed(ipaddress.ip_address(address), allow_loopback=False) is allowed


@pytest.mark.parametrize("address", ["127.0.0.1", "127.0.0.3", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_allowed_only_when_asked(address: str) -> None:
    assert address_allowed(ipaddress.ip_address(address), allow_loopback=True)
    refused = parse_networks(["127.0.0.0/8", "::1/128"])
    assert not address_allowed(ipaddress.ip_address(address), allow_loopback=True, refused=refused)


@pytest.mark.parametrize(
    ("host", "numeric"),
    [
        ("2130706433", True),
        ("0x7f000001", True),
        ("0x7f.1", True),
        ("0177.0.0.1", True),
        ("shop.example.1", True),
        ("127.1.", True),
        ("shop.example", False),
        ("1password.example", False),
        ("0xshop.example", False),
    ],
)
def test_hosts_that_end_in_a_number(host: str, numeric: bool) -> None:
    assert numeric_host(host) is numeric


def test_the_crawl_settings_install_the_vetted_resolver() -> None:
    from scrapy.settings import Settings

    from crawlers import settings as crawler_settings

    assert crawler_settings.TWISTED_DNS_RESOLVER == "crawlers.resolver.VettedResolver"
    # A proxy would resolve names itself, out of the resolver's reach.
    proxy = "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware"
    assert crawler_settings.DOWNLOADER_MIDDLEWARES[proxy] is None

    class Process:
        settings = Settings(
            {"SYNTHWATCH_ALLOW_LOOPBACK": True, "SYNTHWATCH_REFUSED_NETWORKS": "127.0.0.3/32"}
        )

    resolver = VettedResolver.from_crawler(Process(), reactor=None)  # type: ignore[arg-type]
    assert resolve(resolver, "127.0.0.2") == [("127.0.0.2", 443)]
    assert resolve(resolver, "127.0.0.3") == []
