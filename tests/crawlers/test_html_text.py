from __future__ import annotations

import pytest

from crawlers.html_text import PageReader, json_ld_fields, parse_html

SELECTORS = {"title": "h1", "price": ".price", "seller": ".supplier", "description": ".desc"}
LISTING = """<html><head><title>Shop | 4-ANPP</title></head><body>
<nav class="categories"><a href="/c/1">Intermediates</a></nav>
<h1> 4-ANPP   99% </h1>
<p class="price">USD 450 / kg</p><p class="price">second price</p>
<div class="supplier">Hubei Example Chem</div>
<div class="desc">High purity.<br>Discreet shipping worldwide.</div>
<footer>About us</footer></body></html>"""


def test_field_selectors_come_first() -> None:
    page = PageReader(SELECTORS).read(LISTING.encode())

    assert page.method == "selectors"
    assert page.title == "4-ANPP 99%"
    assert page.fields == {
        "title": "4-ANPP 99%",
        "price": "USD 450 / kg",
        "seller": "Hubei Example Chem",
        "description": "High purity. Discreet shipping worldwide.",
    }
    assert page.text == (
        "4-ANPP 99%\nUSD 450 / kg\nHubei Example Chem\nHigh purity. Discreet shipping worldwide."
    )


PRODUCT = """<html><head><script type="application/ld+json">
{"@context": "https://schema.org", "@graph": [
  {"@type": "BreadcrumbList", "name": "Home"},
  {"@type": ["schema:Product"], "name": "Protonitazene HCl",
   "description": "Research chemical, not for human consumption.",
   "offers": [{"@type": "Offer", "price": 300, "priceCurrency": "USD",
               "seller": {"@type": "Organization", "name": "RC Labs"}}]}
]}</script></head><body><h2>Catalogue</h2></body></html>"""
OFFER = """<html><head><script type="application/LD+JSON">
{"@type": "Offer", "price": "12.5", "priceCurrency": "EUR", "seller": "Anon",
 "itemOffered": {"@type": "Product", "name": "Bromazolam pellets", "description": "1 mg"}}
</script></head><body></body></html>"""


def test_json_ld_product_when_no_selector_matches() -> None:
    page = PageReader({"title": ".missing"}).read(PRODUCT.encode())

    assert page.method == "json-ld"
    assert page.title == "Protonitazene HCl"
    assert page.fields == {
        "title": "Protonitazene HCl",
        "description": "Research chemical, not for human consumption.",
        "price": "300",
        "currency": "USD",
        "seller": "RC Labs",
    }
    assert page.text.splitlines()[0] == "Protonitazene HCl"
    assert "RC Labs" in page.text


def test_json_ld_offer() -> None:
    root = parse_html(OFFER.encode())

    assert json_ld_fields(root) == {
        "title": "Bromazolam pellets",
        "description": "1 mg",
        "price": "12.5",
        "currency": "EUR",
        "seller": "Anon",
    }


def test_broken_json_ld_is_skipped() -> None:
    html = '<script type="application/ld+json">{"@type": "Product", </script><h1>T</h1><p>x</p>'

    page = PageReader().read(html.encode())

    assert page.method == "main-text"
    assert page.fields == {}


MAIN = """<html><head><title>Forum thread</title><style>h1 {}</style></head><body>
<nav><a href="/">Home</a> <a href="/forum">Forum</a></nav>
<header><p>Forum of examples</p></header>
<main><h1>Selling <b>carfentanil</b></h1>
<p>Pure,   tested.</p><script>track("x")</script>
<ul><li>10 g: $500</li><li>Wickr: vendorx</li></ul>
<table><tr><td>Ships</td><td>worldwide</td></tr></table>
<noscript>Enable JS</noscript></main>
<footer>Terms</footer></body></html>"""


def test_main_text_drops_scripts_styles_navigation_and_footers() -> None:
    page = PageReader().read(MAIN.encode())

    assert page.method == "main-text"
    assert page.title == "Selling carfentanil"
    assert page.text == (
        "Selling carfentanil\nPure, tested.\n10 g: $500\nWickr: vendorx\nShips worldwide"
    )


def test_main_text_falls_back_to_the_body() -> None:
    html = "<body><nav>Menu</nav><div>Acetone</div><div>1 L</div><footer>c</footer></body>"

    page = PageReader().read(html.encode())

    assert page.text == "Acetone\n1 L"
    assert page.title == ""


@pytest.mark.parametrize(
    ("body", "encoding", "expected"),
    [
        ("<p>Ethylone — 5 g</p>".encode("cp1252"), "cp1252", "Ethylone — 5 g"),
        ("<p>Кристаллы</p>".encode(), "utf-8", "Кристаллы"),
        (b"", "utf-8", ""),
        (b"   ", "utf-8", ""),
    ],
)
def test_encodings_and_empty_pages(body: bytes, encoding: str, expected: str) -> None:
    assert PageReader().read(body, encoding).text == expected
