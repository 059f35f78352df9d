"""The main-content step: boilerplate blocks leave the text, listings and price tables stay."""

from __future__ import annotations

import pytest

from crawlers.html_text import PageReader

CATEGORY_MENU = """<div class="col-3"><h4>Categories</h4><div class="list">
<a href="/c/1">Testing kits <span>12</span></a><a href="/c/2">Harm reduction <span>4</span></a>
<a href="/c/3">Naloxone <span>2</span></a><a href="/c/4">Opioids <span>90</span></a></div></div>"""
CARDS = """<div class="grid">
<div class="card"><a href="/p/1"><h4>Protonitazene 1 g, lab tested</h4></a>
<p>From: <b>120 $</b> - Opioids -</p><a href="/v/1">vendor_a</a>
<div class="card-footer"><a class="btn" href="/p/1">Buy now</a></div></div>
<div class="card"><a href="/p/2"><h4>Bromazolam pellets 1 mg</h4></a>
<p>From: <b>40 $</b> - Benzos -</p><a href="/v/2">vendor_b</a>
<div class="card-footer"><a class="btn" href="/p/2">Buy now</a></div></div></div>"""
MARKET = f"""<html><body><div class="row">{CATEGORY_MENU}
<div class="col-9"><h1>Opioids</h1>{CARDS}</div></div></body></html>"""


def text_of(html: str, boilerplate: bool = True) -> str:
    return PageReader(boilerplate=boilerplate).read(html.encode()).text


def test_a_market_sidebar_leaves_the_text_and_its_listings_stay() -> None:
    # Regression: the category menu's "Testing kits", "Harm reduction" and "Naloxone" were
    # read as the listing's own words and cancelled every offer of the market.
    text = text_of(MARKET)

    assert text == (
        "Opioids\nProtonitazene 1 g, lab tested\nFrom: 120 $ - Opioids -\nvendor_a\n"
        "Bromazolam pellets 1 mg\nFrom: 40 $ - Benzos -\nvendor_b"
    )


def test_without_the_step_every_block_stays() -> None:
    text = text_of(MARKET, boilerplate=False)

    assert "Testing kits 12" in text and "Buy now" in text


@pytest.mark.parametrize(
    "block",
    [
        "<aside><p>Harm reduction: test your drugs.</p></aside>",
        '<div role="complementary"><p>Harm reduction: test your drugs.</p></div>',
        '<div role="navigation"><p>Harm reduction: test your drugs.</p></div>',
        '<div class="widget-area"><p>Harm reduction: test your drugs.</p></div>',
        '<div id="sidebar-left"><p>Harm reduction: test your drugs.</p></div>',
        '<ol class="breadcrumbs"><li>Harm reduction: test your drugs.</li></ol>',
        '<div class="cookie_banner"><p>Harm reduction: test your drugs.</p></div>',
        '<section class="related-products"><p>Harm reduction: test your drugs.</p></section>',
        '<div class="newsletter"><p>Harm reduction: test your drugs.</p></div>',
        '<ul class="menu"><li>Harm reduction: test your drugs.</li></ul>',
        "<header><p>Harm reduction: test your drugs.</p></header>",
        '<form action="/search"><select name="ships_from"><option>Harm reduction: test your'
        " drugs.</option></select></form>",
    ],
)
def test_boilerplate_blocks_are_dropped(block: str) -> None:
    html = (
        f"<html><body>{block}<div><h1>Carfentanil 10 g</h1>"
        "<p>Pure carfentanil citrate, 10 g for $900. Discreet shipping worldwide, escrow"
        " accepted, message us for bulk prices.</p></div></body></html>"
    )

    text = text_of(html)

    assert "Harm reduction" not in text
    assert text.startswith("Carfentanil 10 g\nPure carfentanil citrate")


@pytest.mark.parametrize(
    "html",
    [
        # A wrapper whose class names a sidebar but that holds the page is the page.
        '<body class="has-sidebar"><div class="content with-sidebar"><h1>Etizolam</h1>'
        "<p>Blotters of 1 mg, 50 for $60, shipped in 24 hours.</p></div></body>",
        # An article's own header carries its title.
        "<body><article><header><h1>Etizolam</h1></header>"
        "<p>Blotters of 1 mg, 50 for $60, shipped in 24 hours.</p></article></body>",
        # Unavailable does not say nav; a price table of linked products stays.
        '<body><h1>Etizolam</h1><p class="unavailable">Blotters of 1 mg, 50 for $60, shipped'
        ' in 24 hours.</p><table class="prices"><tr><td><a href="/1">10 blotters</a></td>'
        '<td>$15</td></tr><tr><td><a href="/2">25 blotters</a></td><td>$32</td></tr>'
        '<tr><td><a href="/3">50 blotters</a></td><td>$60</td></tr></table></body>',
    ],
)
def test_the_listing_is_never_boilerplate(html: str) -> None:
    text = text_of(html)

    assert text.startswith("Etizolam\n")
    assert "Blotters of 1 mg, 50 for $60" in text


def test_a_price_table_of_links_stays() -> None:
    html = (
        '<body><h1>Etizolam</h1><table class="prices"><tr><td><a href="/1">10 blotters</a>'
        '</td><td>$15</td></tr><tr><td><a href="/2">25 blotters</a></td><td>$32</td></tr>'
        '<tr><td><a href="/3">50 blotters</a></td><td>$60</td></tr></table></body>'
    )

    assert text_of(html) == "Etizolam\n10 blotters $15\n25 blotters $32\n50 blotters $60"


def test_a_list_of_links_is_dropped_with_its_heading() -> None:
    html = (
        '<body><div><h4>Categories</h4><ul><li><a href="/1">Stimulants</a></li>'
        '<li><a href="/2">Opioids</a></li><li><a href="/3">Benzos</a></li></ul></div>'
        "<div><h1>Etizolam</h1><p>Blotters of 1 mg, 50 for $60.</p></div></body>"
    )

    assert text_of(html) == "Etizolam\nBlotters of 1 mg, 50 for $60."


def test_a_menu_wrapper_holding_the_page_keeps_it_when_its_search_form_goes() -> None:
    # Misnested markup: an unclosed menu item holds the search form and every listing. Once
    # the form was dropped the menu item looked small, and went with all the listings.
    countries = "".join(f"<option>Country number {n}</option>" for n in range(40))
    listings = "".join(
        f'<div class="listing"><a href="/l/{n}">Etizolam blotters, pack {n}</a>'
        f"<br>Price: <b>${n + 10}</b><br>Ships from: Country number {n}</div>"
        for n in range(12)
    )
    html = (
        f'<body><ul><li class="menudropdown"><a href="/s">Search</a><div>'
        f'<form action="/search"><select name="from">{countries}</select></form>'
        f"{listings}</div></li></ul><p>{'A notice of the market to its buyers. ' * 13}</p></body>"
    )

    text = text_of(html)

    assert "Etizolam blotters, pack 11" in text and "Price: $21" in text
    assert "Country number 39" not in text
