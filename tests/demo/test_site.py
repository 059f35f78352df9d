"""The demo site, demo/sources.toml and demo/expected.toml agree with one another."""

from __future__ import annotations

import json
import re
import tomllib
from collections import deque
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import lxml.html
import pytest
from protego import Protego

from demo.responses import MEMBERS_PREFIXES, default_site_dir, site_file

BASE = "http://127.0.0.1:8765"
DEMO = Path(__file__).resolve().parents[2] / "demo"
SITE = default_site_dir()
CAS = re.compile(r"\b(\d{2,7})-(\d{2})-(\d)\b")
AGENT = "SynthWatch/0.1 (+https://synthwatch.example/about)"
LOGIN_PAGES = {"/forum/login", "/classifieds/post-ad.html"}


@cache
def expected() -> dict[str, list[dict[str, Any]]]:
    return tomllib.loads((DEMO / "expected.toml").read_text(encoding="utf-8"))


@cache
def sources() -> dict[str, dict[str, Any]]:
    text = (DEMO / "sources.toml").read_text(encoding="utf-8").replace("{base_url}", BASE)
    return {source["id"]: source for source in tomllib.loads(text)["source"]}


def listings() -> list[dict[str, Any]]:
    return expected()["offer"] + expected()["benign"]


def html_pages() -> dict[str, Path]:
    """Map each page's URL path to its file; index.html is reached through its folder."""
    pages = {}
    for file in sorted(SITE.rglob("*.html")):
        path = "/" + file.relative_to(SITE).as_posix()
        pages[path.removesuffix("index.html")] = file
    return pages


def parse(file: Path) -> Any:
    text = file.read_text(encoding="utf-8").replace("{{BASE_URL}}", BASE)
    return lxml.html.fromstring(text)


def page_text(file: Path) -> str:
    tree = parse(file)
    for script in tree.xpath("//script"):
        script.drop_tree()
    return " ".join(tree.text_content().split())


def links(tree: Any, page_url: str) -> list[str]:
    """Return every URL a page points at: anchors, stylesheets, scripts, images and forms."""
    found = tree.xpath("//a/@href | //link/@href | //script/@src | //img/@src | //form/@action")
    return [urljoin(page_url, str(href)) for href in found]


def local_path(url: str) -> str | None:
    parts = urlsplit(url)
    return parts.path if f"{parts.scheme}://{parts.netloc}" == BASE else None


def sitemap_paths() -> list[str]:
    text = (SITE / "sitemap.xml").read_text(encoding="utf-8")
    return [loc.removeprefix("{{BASE_URL}}") for loc in re.findall(r"<loc>([^<]+)</loc>", text)]


def cas_valid(number: str) -> bool:
    digits = number.replace("-", "")
    body, check = digits[:-1], int(digits[-1])
    return sum(int(d) * i for i, d in enumerate(reversed(body), start=1)) % 10 == check


def test_site_has_at_least_thirty_pages() -> None:
    assert len(html_pages()) >= 30


def test_expected_has_enough_offers_and_benign_pages() -> None:
    assert len(expected()["offer"]) >= 10
    assert len(expected()["benign"]) >= 10
    paths = [entry["path"] for entry in listings()]
    assert len(paths) == len(set(paths)), "a page is listed twice"
    assert all(entry["substances"] for entry in expected()["offer"])
    assert all(entry["why"] for entry in expected()["benign"])


def test_every_expected_listing_is_a_page_of_its_source() -> None:
    for entry in listings():
        assert site_file(SITE, entry["path"]) is not None, entry["path"]
        pattern = sources()[entry["source"]]["discovery"]["listing_url_pattern"]
        assert re.search(pattern, entry["path"]), entry


def test_source_ids_and_substance_ids_are_well_formed() -> None:
    assert set(sources()) == {"demo-b2b", "demo-classifieds", "demo-forum"}
    for entry in expected()["offer"]:
        assert all(re.fullmatch(r"[a-z0-9-]+", concept) for concept in entry["substances"])


def test_sitemap_listings_are_exactly_the_expected_ones() -> None:
    in_sitemap = sitemap_paths()
    for source_id, source in sources().items():
        pattern = re.compile(source["discovery"]["listing_url_pattern"])
        from_sitemap = {path for path in in_sitemap if pattern.search(path)}
        from_expected = {e["path"] for e in listings() if e["source"] == source_id}
        assert from_sitemap == from_expected, source_id


def test_sitemap_lists_only_public_pages_that_exist() -> None:
    for path in sitemap_paths():
        assert site_file(SITE, path) is not None, path
        assert not path.startswith(("/b2b/internal/", *MEMBERS_PREFIXES)), path
        assert path not in LOGIN_PAGES, path


def robots() -> Protego:
    text = (SITE / "robots.txt").read_text(encoding="utf-8").replace("{{BASE_URL}}", BASE)
    return Protego.parse(text)


def crawl(source: dict[str, Any]) -> tuple[set[str], set[str]]:
    """Follow a source's selectors from its seeds over the files, as a polite crawler would.

    Return the listing pages reached and the links the selectors picked that must be refused:
    off-site, robots-disallowed, or not a page of the site.
    """
    discovery = source["discovery"]
    follow = discovery["index_links"] + discovery["pagination"]
    pages, rules = html_pages(), robots()
    found: set[str] = set()
    refused: set[str] = set()

    def admit(link: str) -> str | None:
        path = local_path(link)
        if path is None:
            refused.add(link)
        elif not rules.can_fetch(link, AGENT) or path not in pages or path in LOGIN_PAGES:
            refused.add(path)
        else:
            return path
        return None

    queue = deque(path for path in map(admit, source["seeds"]) if path is not None)
    seen = set(queue)
    while queue:
        path = queue.popleft()
        tree = parse(pages[path])
        for selector in discovery["listing_links"]:
            for anchor in tree.cssselect(selector):
                listing = admit(urljoin(BASE + path, anchor.get("href")))
                if listing is not None:
                    found.add(listing)
        for selector in follow:
            for anchor in tree.cssselect(selector):
                index = admit(urljoin(BASE + path, anchor.get("href")))
                if index is not None and index not in seen:
                    seen.add(index)
                    queue.append(index)
    return found, refused


@pytest.mark.parametrize("source_id", ["demo-b2b", "demo-classifieds", "demo-forum"])
def test_selectors_reach_exactly_the_expected_listings(source_id: str) -> None:
    found, refused = crawl(sources()[source_id])
    assert found == {e["path"] for e in listings() if e["source"] == source_id}
    # Selectors pick the login pages but never what lies behind them (the members areas).
    assert refused == {
        e["url"]
        for e in expected()["refused"]
        if e["source"] == source_id and not e["url"].startswith(MEMBERS_PREFIXES)
    }


def test_robots_disallows_only_the_internal_folder() -> None:
    rules = robots()
    assert list(rules.sitemaps) == [BASE + "/sitemap.xml"]
    assert not rules.can_fetch(BASE + "/b2b/internal/price-list.html", AGENT)
    for path in [*sitemap_paths(), "/forum/login"]:
        assert rules.can_fetch(BASE + path, AGENT), path
    robots_refused = [e for e in expected()["refused"] if e["reason"] == "robots"]
    assert robots_refused
    for entry in robots_refused:
        assert not rules.can_fetch(BASE + entry["url"], AGENT)


def test_every_product_page_links_the_robots_disallowed_price_list() -> None:
    products = [path for path in html_pages() if path.startswith("/b2b/products/")]
    assert len(products) >= 5
    for path in products:
        tree = parse(html_pages()[path])
        assert "/b2b/internal/price-list.html" in tree.xpath("//a/@href"), path


def test_refused_links_are_linked_from_public_pages() -> None:
    linked: set[str] = set()
    for path, file in html_pages().items():
        for link in links(parse(file), BASE + path):
            linked.add(local_path(link) or link)
    for entry in expected()["refused"]:
        assert entry["reason"] in {"robots", "onion", "out_of_scope", "login"}
        if entry["url"] in MEMBERS_PREFIXES:
            continue  # only the login pages point there; checked below
        assert entry["url"] in linked, entry["url"]
    kinds = {entry["reason"] for entry in expected()["refused"]}
    assert kinds == {"robots", "onion", "out_of_scope", "login"}


def test_members_areas_are_linked_only_from_login_pages() -> None:
    for path, file in html_pages().items():
        for link in links(parse(file), BASE + path):
            target = local_path(link)
            if target is not None and target.startswith(MEMBERS_PREFIXES):
                assert path in LOGIN_PAGES, f"{path} links {target}"
    post_ad = parse(SITE / "classifieds" / "post-ad.html")
    assert post_ad.xpath('//form//input[@type="password"]')
    assert "/classifieds/my-ads/" in post_ad.xpath("//a/@href")


def test_no_page_links_outside_the_site_except_the_planned_links() -> None:
    planned = {e["url"] for e in expected()["refused"] if e["reason"] in ("onion", "out_of_scope")}
    assert any(".onion" in url for url in planned)
    pages = html_pages()
    seen_planned = set()
    for path, file in pages.items():
        for link in links(parse(file), BASE + path):
            target = local_path(link)
            if target is None:
                assert link in planned, f"{path} links {link}"
                seen_planned.add(link)
                continue
            resolves = (
                target in pages
                or target in LOGIN_PAGES
                or target.startswith(MEMBERS_PREFIXES)
                or site_file(SITE, target) is not None
            )
            assert resolves, f"{path} links a missing page {target}"
    assert seen_planned == planned


def test_every_cas_number_passes_its_check_digit() -> None:
    numbers: set[str] = set()
    for file in html_pages().values():
        numbers.update(match.group(0) for match in CAS.finditer(page_text(file)))
    assert len(numbers) >= 7
    assert [n for n in sorted(numbers) if not cas_valid(n)] == []


@pytest.mark.parametrize("number", ["21409-26-7", "79099-07-3", "67-64-1"])
def test_check_digit_rule_accepts_known_numbers_and_rejects_altered_ones(number: str) -> None:
    assert cas_valid(number)
    altered = number[:-1] + str((int(number[-1]) + 1) % 10)
    assert not cas_valid(altered)


def test_b2b_product_pages_carry_the_listing_fields() -> None:
    with_json_ld = 0
    for path, file in html_pages().items():
        if not path.startswith("/b2b/products/"):
            continue
        tree = parse(file)
        for selector in ("h1", ".price", ".supplier", ".description", ".posted", ".moq"):
            assert tree.cssselect(selector), f"{path}: no {selector}"
        assert len(tree.cssselect("table.price-tiers tbody tr")) >= 3, path
        for block in tree.xpath('//script[@type="application/ld+json"]/text()'):
            data = json.loads(block)
            assert data["@type"] == "Product"
            assert data["offers"]["@type"] == "Offer"
            assert data["offers"]["price"] and data["offers"]["priceCurrency"]
            assert data["url"] == BASE + path
            with_json_ld += 1
    assert with_json_ld >= 3


@pytest.mark.parametrize(
    ("source_id", "prefix", "fields"),
    [
        ("demo-b2b", "/b2b/products/", ("title", "price", "seller", "description", "posted")),
        ("demo-b2b", "/b2b/news/", ("title", "description", "posted")),
        (
            "demo-classifieds",
            "/classifieds/ad/",
            ("title", "price", "seller", "description", "posted"),
        ),
        ("demo-forum", "/forum/thread/", ("title", "seller", "description", "posted")),
    ],
)
def test_field_selectors_match_every_listing(
    source_id: str, prefix: str, fields: tuple[str, ...]
) -> None:
    selectors = sources()[source_id]["fields"]
    paths = [e["path"] for e in listings() if e["path"].startswith(prefix)]
    assert paths
    for path in paths:
        tree = parse(html_pages()[path])
        for field in fields:
            matches = tree.cssselect(selectors[field])
            assert matches and matches[0].text_content().strip(), f"{path}: {field}"


@pytest.mark.parametrize(
    ("path", "spelling"),
    [
        ("/classifieds/ad/20418.html", "Acetyl-F3ntanyl"),
        ("/classifieds/ad/20415.html", "m e t o n i t a z e n e"),
        ("/classifieds/ad/20413.html", "3-MMC crystals"),
        ("/classifieds/ad/20410.html", "Carfent\u200banil"),
        ("/classifieds/ad/20409.html", "fentanyl pressed pills"),
        ("/forum/thread/3106.html", "ISOTONITAZENE"),
        ("/b2b/products/flubromazolam.html", "Flubr0mazolam"),
    ],
)
def test_obfuscated_spellings_reach_the_page_text(path: str, spelling: str) -> None:
    assert spelling in page_text(html_pages()[path])
    main_text = parse(html_pages()[path]).cssselect(".description, .body")[0].text_content()
    assert spelling in " ".join(main_text.split())


def test_contact_details_are_invented() -> None:
    for path, file in html_pages().items():
        text = page_text(file)
        for email in re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", text):
            domain = email.rsplit("@", 1)[1]
            assert domain == "example.com" or domain.endswith(".example"), f"{path}: {email}"
        for phone in re.findall(r"\+\d[\d ]{8,}\d", text):
            assert phone.startswith("+44 7700 900"), f"{path}: {phone}"
