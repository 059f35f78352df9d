"""The generated bench site: the shape issue 13 states, the same bytes every time, validators."""

from __future__ import annotations

import http.client
import re

from bench.listing_text import LISTING_CHARS
from bench.site import CATEGORIES, GeneratedSite, SiteSpec
from bench.site_server import SiteServer


def test_default_site_has_the_pages_of_issue_13() -> None:
    spec = SiteSpec.for_pages(2001)
    assert (spec.items, spec.pages) == (1900, 2001)
    assert sum(spec.category_pages(c) for c in range(len(CATEGORIES))) == 100


def test_pages_are_the_same_bytes_for_the_same_seed() -> None:
    one, two = GeneratedSite(SiteSpec(items=50)), GeneratedSite(SiteSpec(items=50))
    other = GeneratedSite(SiteSpec(items=50, seed=14))
    assert one.page("/item/7.html") == two.page("/item/7.html")
    assert one.page("/item/7.html") != other.page("/item/7.html")


def test_item_pages_are_about_30_kb_with_2_kb_of_listing_text() -> None:
    site = GeneratedSite(SiteSpec.for_pages(2001))
    bodies = [site.page(f"/item/{n}.html") for n in range(0, 1900, 97)]
    assert all(body is not None and 25_000 < len(body) < 35_000 for body in bodies)
    texts = [site.item(n).text for n in range(100)]
    assert all(LISTING_CHARS - 100 < len(text) <= LISTING_CHARS for text in texts)
    offers = sum(site.item(n).offer for n in range(100))
    assert 20 < offers < 60


def test_novel_items_never_repeat_a_code() -> None:
    site = GeneratedSite(SiteSpec(items=20, novel=True))
    first, second = site.item(1).text.split(), site.item(2).text.split()
    assert len(first) >= 400
    codes = {token for token in first + second if re.fullmatch(r"[A-Z]{2,3}-\d+\w+", token)}
    assert len(codes) > 100
    # Invented names may repeat from page to page, as on a real site; codes and handles do not.
    shared = set(first) & set(second)
    assert not {token for token in shared if token.startswith("@") or "-" in token}


def test_category_pages_paginate_to_every_item() -> None:
    spec = SiteSpec(items=100)
    site = GeneratedSite(spec)
    found: set[str] = set()
    for category, name in enumerate(CATEGORIES):
        for number in range(1, spec.category_pages(category) + 1):
            body = site.page(f"/c/{name}/{number}.html")
            assert body is not None
            found |= set(re.findall(rb'class="item-card" href="(/item/\d+\.html)"', body))
            has_next = f'rel="next" href="/c/{name}/{number + 1}.html"'.encode() in body
            assert has_next == (number < spec.category_pages(category))
    assert found == {f"/item/{n}.html".encode() for n in range(100)}
    assert site.page("/item/100.html") is None
    assert site.page("/c/opioids/0.html") is None


def test_server_answers_an_unchanged_page_with_304() -> None:
    with SiteServer(GeneratedSite(SiteSpec(items=20))) as server:
        port = int(server.base_url.rsplit(":", 1)[1])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/item/3.html")
        first = connection.getresponse()
        first.read()
        etag = first.getheader("ETag")
        assert first.status == 200 and etag
        connection.request("GET", "/item/3.html", headers={"If-None-Match": etag})
        again = connection.getresponse()
        again.read()
        connection.request("GET", "/item/99.html")
        missing = connection.getresponse()
        missing.read()
        connection.close()
    assert again.status == 304
    assert missing.status == 404
    assert server.answers == {200: 1, 304: 1, 404: 1}
