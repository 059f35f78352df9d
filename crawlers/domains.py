"""Which host names may be a source's allowed domain: a registrable domain, or a name under one.

A whole public suffix (`com`, `co.uk`, `github.io`) would put every site under it in scope, so
an allowed domain must be registrable by the Public Suffix List, private suffixes included. The
list is the snapshot bundled with `tldextract`, never fetched at run time: a check that
depends on the network would change its answer. `.example` and `.test` (RFC 6761, never
delegated) count as suffixes, for documentation and tests. IP addresses and names that end in
a number (read as one) are refused, except the loopback host `localhost` and a dotted IPv4
loopback literal: the demo and the tests serve on 127.0.0.1, and the guard refuses loopback
unless `SYNTHWATCH_ALLOW_LOOPBACK` is set.
"""

from __future__ import annotations

from functools import cache

from tldextract import TLDExtract

from crawlers.addresses import ip_literal, numeric_host

SPECIAL_USE_SUFFIXES = ("example", "test")
LOOPBACK_NAMES = frozenset({"localhost"})


@cache
def _extractor() -> TLDExtract:
    # No URLs: the bundled snapshot only. No cache folder: nothing written to the home folder.
    return TLDExtract(
        suffix_list_urls=(),
        cache_dir=None,
        include_psl_private_domains=True,
        extra_suffixes=SPECIAL_USE_SUFFIXES,
    )


def domain_problem(domain: str) -> str | None:
    """Return why a (lower-case, valid) host name cannot be an allowed domain, or None."""
    literal = ip_literal(domain)
    if literal is not None:
        if literal.version == 4 and literal.is_loopback:
            return None
        return "an IP address: give the site's host name"
    if numeric_host(domain):
        return "ends in a number, so it would be read as an IP address"
    if domain in LOOPBACK_NAMES:
        return None
    parts = _extractor()(domain)
    if not parts.suffix:
        return "not under a public suffix of the Public Suffix List"
    if not parts.domain:
        return f"a public suffix ({parts.suffix}): it would take in every site under it"
    return None


def registrable_domain(host: str) -> str:
    """Return the registrable domain of a host (`shop.example.co.uk` → `example.co.uk`).

    A loopback literal or `localhost` is its own; so is a name the list cannot split.
    """
    host = host.lower().rstrip(".")
    if ip_literal(host) is not None or host in LOOPBACK_NAMES:
        return host
    return _extractor()(host).top_domain_under_public_suffix or host
