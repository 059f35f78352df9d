"""The crawl's DNS resolver: it answers only with addresses the open-web guard vetted.

`crawlers.guard.OpenWebGuard` looks every host name up once per crawl, checks every address
(`crawlers.addresses`) and pins the approved ones in this resolver's `AddressBook`. Scrapy
installs the resolver on the reactor (`TWISTED_DNS_RESOLVER`), so every connection of the
crawl asks it, and it never asks DNS itself: a name the guard has not vetted resolves to
nothing (the download fails as `dns`), so a second, different DNS answer (DNS rebinding) can
never be what the crawler connects to. The URL is left alone, so the `Host` header and TLS
SNI and certificate checks still use the host name.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IAddress, IHostnameResolver, IHostResolution
from zope.interface import implementer

from crawlers.addresses import IPAddress, IPNetwork, address_allowed, ip_literal, parse_networks

if TYPE_CHECKING:
    from typing import Self

    from twisted.internet.base import ReactorBase


def host_key(name: str) -> str:
    """Return the one spelling of a host name: ASCII (IDNA), lower case, no final dot."""
    name = name.rstrip(".").lower()
    if name.isascii():
        return name
    import idna  # A dependency of Twisted, which hands the resolver decoded names.

    try:
        return str(idna.encode(name, uts46=True).decode("ascii"))
    except idna.IDNAError:
        return name


class AddressBook:
    """The vetted addresses of each host name, the most recently used kept (a bounded LRU)."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._hosts: OrderedDict[str, tuple[IPAddress, ...]] = OrderedDict()

    def pin(self, host: str, addresses: Sequence[IPAddress]) -> None:
        """Record the addresses the guard approved for a host."""
        key = host_key(host)
        self._hosts[key] = tuple(addresses)
        self._hosts.move_to_end(key)
        while len(self._hosts) > self.size:
            self._hosts.popitem(last=False)

    def get(self, host: str) -> tuple[IPAddress, ...] | None:
        """Return the pinned addresses of a host, or None when it was never vetted."""
        key = host_key(host)
        addresses = self._hosts.get(key)
        if addresses is not None:
            self._hosts.move_to_end(key)
        return addresses


@implementer(IHostResolution)
class _Resolution:
    def __init__(self, name: str) -> None:
        self.name = name

    def cancel(self) -> None:
        """Nothing to cancel: answers come from memory at once."""


@implementer(IHostnameResolver)
class VettedResolver:
    """Resolve host names from the guard's address book only; refuse every other name."""

    def __init__(
        self,
        reactor: ReactorBase | None = None,
        *,
        allow_loopback: bool = False,
        refused: Sequence[IPNetwork] = (),
        cache_size: int = 4096,
    ) -> None:
        self.reactor = reactor
        self.allow_loopback = allow_loopback
        self.refused = tuple(refused)
        self.book = AddressBook(cache_size)

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: ReactorBase) -> Self:
        # Scrapy passes its crawler process here, not a crawler: only settings are read.
        settings = crawler.settings
        return cls(
            reactor,
            allow_loopback=settings.getbool("SYNTHWATCH_ALLOW_LOOPBACK"),
            refused=parse_networks(settings.getlist("SYNTHWATCH_REFUSED_NETWORKS")),
            cache_size=settings.getint("SYNTHWATCH_DNS_CACHE_SIZE", 4096),
        )

    def install_on_reactor(self) -> None:
        """Become the reactor's resolver, for host name and simple look-ups alike."""
        assert self.reactor is not None
        self.reactor.installNameResolver(self)  # type: ignore[arg-type]  # zope interface

    def addresses(self, host: str) -> tuple[IPAddress, ...]:
        """Return the addresses a connection to this host may use: vetted and allowed."""
        literal = ip_literal(host)
        candidates = (literal,) if literal is not None else self.book.get(host) or ()
        return tuple(
            a
            for a in candidates
            if address_allowed(a, allow_loopback=self.allow_loopback, refused=self.refused)
        )

    def resolveHostName(
        self,
        # An IResolutionReceiver; typed Any because mypy cannot read zope interfaces.
        resolutionReceiver: Any,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> _Resolution:
        resolution = _Resolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        for address in self.addresses(hostName):
            kind = IPv6Address if address.version == 6 else IPv4Address
            if addressTypes is None or kind in addressTypes:
                resolutionReceiver.addressResolved(kind("TCP", str(address), portNumber))
        resolutionReceiver.resolutionComplete()
        return resolution
