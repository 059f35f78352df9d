"""DNS rebinding, end to end: a crawl connects only to the address the guard vetted.

Tests talk to loopback only, so "public" and "forbidden" are two loopback addresses: the crawl
allows loopback and refuses 127.0.0.3 (`SYNTHWATCH_REFUSED_NETWORKS`). The crawl child's DNS is
scripted by a `sitecustomize` module that answers invented `*.rebind.test` names in turn, as a
site answering for its own subdomains could: `shop.rebind.test` is 127.0.0.2 at the first
look-up and 127.0.0.3 at every later one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.models import CrawlRun
from tests.crawlers.harness import Harness, MockServer

pytestmark = pytest.mark.slow

SITECUSTOMIZE = '''
"""Scripted DNS of a test crawl: each listed name answers in turn, the last answer repeating."""
import json
import os
import socket

_SCRIPT = json.loads(os.environ["SYNTHWATCH_TEST_DNS"])
_LOG = os.environ["SYNTHWATCH_TEST_DNS_LOG"]
_getaddrinfo = socket.getaddrinfo
_gethostbyname = socket.gethostbyname


def _key(host):
    host = host.decode() if isinstance(host, bytes) else host
    return (host or "").rstrip(".").lower()


def _answer(key):
    with open(_LOG, "a", encoding="utf-8") as log:
        log.write(key + "\\n")
    with open(_LOG, encoding="utf-8") as log:
        count = sum(1 for line in log if line.strip() == key)
    answers = _SCRIPT[key]
    address = answers[min(count, len(answers)) - 1]
    if address is None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    return address


def getaddrinfo(host, port, family=0, type=0, proto=0, flags=0):
    if _key(host) not in _SCRIPT:
        return _getaddrinfo(host, port, family, type, proto, flags)
    address = _answer(_key(host))
    port = port if isinstance(port, int) else 0
    return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]


def gethostbyname(host):
    if _key(host) not in _SCRIPT:
        return _gethostbyname(host)
    return _answer(_key(host))


socket.getaddrinfo = getaddrinfo
socket.gethostbyname = gethostbyname
'''
DNS = {
    "shop.rebind.test": ["127.0.0.2", "127.0.0.3"],
    "evil.rebind.test": ["127.0.0.3"],
    "gone.rebind.test": [None],
}
INDEX = """<html><body>
<a class="listing" href="/item/1">One</a>
<a class="listing" href="http://evil.rebind.test:{port}/item/2">Two</a>
<a class="listing" href="http://gone.rebind.test:{port}/item/3">Three</a>
</body></html>"""
ITEM = "<html><body><h1>Fentanyl powder</h1><p>$100 a gram</p></body></html>"
SOURCES = """
[[source]]
id = "rebind"
name = "A site that rebinds its names"
seeds = ["http://shop.rebind.test:{port}/"]
allowed_domains = ["rebind.test"]
schedule = "interval:1d"
legal_note = "A local test server."
[source.discovery]
listing_links = ["a.listing"]
"""


@pytest.fixture
def servers() -> Iterator[tuple[MockServer, MockServer]]:
    public = MockServer("127.0.0.2")
    forbidden = MockServer("127.0.0.3", public.port)
    for server in (public, forbidden):
        server.add("/", INDEX.replace("{port}", str(public.port)))
        server.add("/item/1", ITEM)
        server.add("/item/2", ITEM)
        server.add("/item/3", ITEM)
        server.start()
    yield public, forbidden
    for server in (public, forbidden):
        server.stop()


def test_a_rebinding_host_is_fetched_only_at_the_address_the_guard_vetted(
    harness: Harness,
    servers: tuple[MockServer, MockServer],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    public, forbidden = servers
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    log = tmp_path / "dns.log"
    monkeypatch.setenv("PYTHONPATH", str(site))
    monkeypatch.setenv("SYNTHWATCH_TEST_DNS", json.dumps(DNS))
    monkeypatch.setenv("SYNTHWATCH_TEST_DNS_LOG", str(log))
    sources = harness.write_sources(SOURCES.replace("{port}", str(public.port)))
    harness.register_file(sources)

    outcome = harness.crawl(
        "rebind",
        sources,
        settings={
            "SYNTHWATCH_REFUSED_NETWORKS": "127.0.0.3/32",
            "DOWNLOAD_DELAY": "0.05",
            "AUTOTHROTTLE_START_DELAY": "0.05",
        },
    )

    output = outcome.log_path.read_text()
    assert forbidden.hits == [], output
    assert outcome.ok, output
    assert public.paths()[:1] == ["/robots.txt"] and "/item/1" in public.paths(), output
    lookups = log.read_text().split()
    # Looked up once by the guard, never again by the downloader.
    assert lookups.count("shop.rebind.test") == 1, lookups
    with harness.session_factory() as session:
        run = session.get(CrawlRun, outcome.run_id)
        assert run is not None
        stats = run.stats
    evil = f"http://evil.rebind.test:{public.port}/item/2"
    gone = f"http://gone.rebind.test:{public.port}/item/3"
    assert stats["synthwatch/listings_stored"] == 1
    assert stats["synthwatch/refused_urls/private_address"] == [evil]
    assert stats["synthwatch/errors/dns"] == 1
    assert {"url": gone, "reason": "dns"} in stats["synthwatch/error_urls"]
