"""Which IP addresses and host spellings the crawler may connect to: the open web's, no other.

An address is allowed when it is on the public internet: `ipaddress`'s `is_global`, which
differs between Python versions, is narrowed by an explicit list of ranges that are never a
web site's (`REFUSED_NETWORKS`), and an IPv6 address that embeds an IPv4 address
(IPv4-mapped, -compatible or -translated) is judged by the IPv4 address it reaches. NAT64,
6to4 and Teredo addresses are refused outright: a translator or relay decides where they
lead, which no check here can see. Loopback passes only with `allow_loopback` (the demo and
the tests); networks an operator refuses on top (`SYNTHWATCH_REFUSED_NETWORKS`) never pass.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

REFUSED_NETWORKS: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",  # "this network"
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "169.254.0.0/16",  # link-local, cloud metadata services
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments (Python 3.11 calls parts of it global)
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, and the broadcast address
        "::/8",  # unspecified, loopback, IPv4-compatible, -mapped, -translated
        "64:ff9b::/96",  # NAT64, well-known prefix (RFC 6052)
        "64:ff9b:1::/48",  # NAT64, local use (RFC 8215)
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments, Teredo (2001::/32) among them
        "2001:db8::/32",
        "2002::/16",  # 6to4 (RFC 3056)
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # site-local, deprecated but still routed by some stacks
        "ff00::/8",  # multicast
    )
)
# Hosts a WHATWG URL parser reads as an IPv4 address: the last label is a decimal, octal or
# hexadecimal number (`2130706433`, `0x7f.1`, `0177.0.0.1`); resolvers often do the same.
_NUMBER = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$", re.IGNORECASE)


def ip_literal(host: str) -> IPAddress | None:
    """Return the address when the host is an IP literal in its canonical notation."""
    try:
        return ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def numeric_host(host: str) -> bool:
    """Tell whether a host ends in a number, so that it would be read as an IPv4 address."""
    labels = host.rstrip(".").split(".")
    return bool(_NUMBER.match(labels[-1]))


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """Return the IPv4 address that an IPv4-mapped, -compatible or -translated one reaches."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    value = int(address)
    high = value >> 32
    # ::a.b.c.d (IPv4-compatible, RFC 4291) and ::ffff:0:a.b.c.d (IPv4-translated, RFC 2765).
    if (high == 0 and value > 1) or high == 0xFFFF_0000:
        return ipaddress.IPv4Address(value & 0xFFFF_FFFF)
    return None


def address_allowed(
    address: IPAddress, *, allow_loopback: bool, refused: Iterable[IPNetwork] = ()
) -> bool:
    """Tell whether an address is on the public internet (or loopback, when allowed)."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = embedded_ipv4(address)
        if inner is not None:
            address = inner
    if any(address.version == n.version and address in n for n in refused):
        return False
    if address.is_loopback:
        return allow_loopback
    if any(address.version == n.version and address in n for n in REFUSED_NETWORKS):
        return False
    return address.is_global and not address.is_multicast


def parse_networks(values: Iterable[str]) -> tuple[IPNetwork, ...]:
    """Parse CIDR networks (`SYNTHWATCH_REFUSED_NETWORKS`); a bad one raises ValueError."""
    return tuple(ipaddress.ip_network(value.strip(), strict=False) for value in values if value)
