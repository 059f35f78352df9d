"""Crawl pages with no field selectors end to end: sidebars cancel nothing, offers are found."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from storage.models import Listing, ListingVersion
from tests.conftest import SHARED_DATA
from tests.crawlers.harness import Harness, MockServer
from tests.factories import source_toml

pytestmark = pytest.mark.slow

REAL_ANALYSER = {"SYNTHWATCH_ANALYSER": "nlp.Analyser"}
INDEX = '<html><body><a class="listing" href="/item/page">the page</a></body></html>'
# Invented: a shop page whose harm-reduction sidebar named testing kits and naloxone, which
# cancelled the offer beside it while the sidebar was read as the page's text.
SHOP_PAGE = """<!doctype html><html><head><title>Example Research Supply</title></head><body>
<header class="site-header"><a href="/">Example Research Supply</a></header>
<div class="layout"><aside class="sidebar"><h3>Harm reduction</h3>
<ul><li><a href="/c/testing-kits">Testing kits</a></li>
<li><a href="/c/naloxone">Naloxone nasal spray</a></li>
<li><a href="/c/strips">Fentanyl test strips</a></li></ul>
<p>Always test your substances. Start low, go slow.</p></aside>
<div class="product"><h1>Protonitazene HCl powder</h1>
<p class="price">$120 / 1 g</p><p class="stock">In stock</p>
<div class="description"><p>Protonitazene hydrochloride, 99% purity, lab tested. Stealth
shipping worldwide, payment in BTC or XMR. Bulk orders of 10 g and more get a discount.</p></div>
<form action="/cart/add" method="post"><input type="hidden" name="product" value="17">
<button type="submit">Add to cart</button></form></div></div>
<footer><p>Contact us</p></footer></body></html>"""
MARKET_PAGE = SHARED_DATA / "html_pages" / "cypher-market-drugs" / "page1-1.html"
# Entries of that market's category menu that no listing on the page sells.
MARKET_MENU = ("Guides & Tutorials", "Synthetic Cannabis", "Exploit Kits", "Mushrooms")


def crawl_one_page(harness: Harness, server: MockServer, body: bytes) -> ListingVersion:
    server.add("/robots.txt", "User-agent: *\nAllow: /\n", headers={"Content-Type": "text/plain"})
    server.add("/", INDEX)
    server.add("/item/page", body)
    sources = harness.write_sources(source_toml("shop", server.base_url, index_links=None))
    harness.register_file(sources)

    outcome = harness.crawl("shop", sources, settings=REAL_ANALYSER)

    assert outcome.ok, outcome.log_path.read_text()
    with harness.session_factory() as session:
        listing = session.scalars(select(Listing)).one()
        version = listing.versions[-1]
        assert version.mentions is not None  # loaded before the session closes
        session.expunge_all()
    return version


def test_an_invented_shop_page_with_a_harm_reduction_sidebar_is_flagged(
    harness: Harness, server: MockServer
) -> None:
    version = crawl_one_page(harness, server, SHOP_PAGE.encode())

    assert version.offer, version.reasons
    assert "Testing kits" not in version.text and "Naloxone" not in version.text
    assert "harm_reduction" not in version.context
    assert version.fields["page_signals"] == {"add_to_cart": True, "availability": "In stock"}
    reasons = " | ".join(r["text"] for r in version.reasons)
    assert "add-to-cart" in reasons


@pytest.mark.shared_data
def test_a_saved_real_market_page_gives_offers_and_its_menu_cancels_nothing(
    harness: Harness, server: MockServer
) -> None:
    version = crawl_one_page(harness, server, Path(MARKET_PAGE).read_bytes())

    assert version.offer, version.reasons
    assert not version.context, version.context
    for entry in MARKET_MENU:
        assert entry not in version.text
    assert {m.concept_id for m in version.mentions} >= {"mdma", "methamphetamine"}
    assert version.fields["page_signals"]["add_to_cart"] is True
