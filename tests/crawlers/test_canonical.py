"""Canonical URLs: one URL per page, whatever decorations a link adds."""

from __future__ import annotations

import pytest

from crawlers.canonical import canonical_url, is_tracking


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://shop.example/item/1", "https://shop.example/item/1"),
        ("https://shop.example", "https://shop.example/"),
        ("HTTPS://Shop.Example:443/item/1#reviews", "https://shop.example/item/1"),
        ("http://shop.example:80/a", "http://shop.example/a"),
        ("http://127.0.0.1:8421/a?b=2&a=1", "http://127.0.0.1:8421/a?a=1&b=2"),
        (
            "https://shop.example/item/1?utm_source=x&UTM_Medium=y&fbclid=z&gclid=1&id=7",
            "https://shop.example/item/1?id=7",
        ),
        (
            "https://shop.example/item/1?mc_cid=1&_ga=2&msclkid=3&pk_kwd=4",
            "https://shop.example/item/1",
        ),
        # Escapes are kept as written: servers differ on what they treat alike.
        ("https://shop.example/s?q=a%20b&page=2", "https://shop.example/s?page=2&q=a%20b"),
        ("https://shop.example/s?tag=b&tag=a&flag", "https://shop.example/s?flag&tag=a&tag=b"),
        ("https://shop.example/Item/%7Ex", "https://shop.example/Item/%7Ex"),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
        ("mailto:sales@shop.example#x", "mailto:sales@shop.example"),
    ],
)
def test_canonical_urls(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_a_source_query_params_keep_only_those() -> None:
    url = "https://shop.example/product.php?session=x1&ID=7&sort=price&page=2#top"

    assert canonical_url(url, ("id", "page")) == "https://shop.example/product.php?ID=7&page=2"


def test_a_canonical_url_is_its_own_canonical_form() -> None:
    url = canonical_url("HTTP://Shop.Example:80/a?z=1&utm_id=3&a=2#f")

    assert canonical_url(url) == url == "http://shop.example/a?a=2&z=1"


def test_a_bad_port_is_left_for_the_downloader_to_refuse() -> None:
    # Never "fixed" into another URL: the page asked for is not the shop's front page.
    assert canonical_url("http://shop.example:99999/a#f") == "http://shop.example:99999/a"


def test_credentials_are_kept_for_the_guard_to_strip() -> None:
    assert canonical_url("http://u:p@Shop.example/a") == "http://u:p@shop.example/a"


@pytest.mark.parametrize("name", ["utm_source", "utm_content", "fbclid", "GCLID", "yclid"])
def test_tracking_parameters(name: str) -> None:
    assert is_tracking(name)


@pytest.mark.parametrize("name", ["id", "page", "q", "ref", "utm"])
def test_parameters_that_name_pages_are_not_tracking(name: str) -> None:
    assert not is_tracking(name)
