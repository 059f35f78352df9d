"""The crawler's identity: a User-Agent with a contact URL, and no crawl without one."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from scrapy import Request
from scrapy.utils.test import get_crawler
from sqlalchemy import select

import crawlers
from crawlers.errors import ConfigError
from crawlers.identity import IdentityMiddleware, contact_problem
from crawlers.runner import crawl_env
from storage.models import CrawlRun
from tests.crawlers.harness import REPO, Harness, MockServer
from tests.factories import source_toml


@pytest.mark.parametrize(
    "value",
    [
        "https://example.org/crawler",
        "http://127.0.0.1/contact",
        "mailto:crawler@example.org",
        "  https://example.org/  ",
    ],
)
def test_contact_urls_that_will_do(value: str) -> None:
    assert contact_problem(value) is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "example.org",
        "ftp://example.org/",
        "https://",
        "mailto:nobody",
        "https://example.org/a b",
        "https://example.org/(x)",
        "https://exämple.org/",
    ],
)
def test_contact_urls_that_will_not(value: str | None) -> None:
    problem = contact_problem(value)

    assert problem is not None and problem.startswith("SYNTHWATCH_CONTACT_URL")


def test_the_user_agent_names_the_product_version_and_contact() -> None:
    crawler = get_crawler(
        settings_dict={
            "SYNTHWATCH_CONTACT_URL": "https://example.org/crawler",
            "SYNTHWATCH_ROBOTS_AGENT": "SynthWatch",
        }
    )
    middleware = IdentityMiddleware.from_crawler(crawler)
    request = Request("https://shop.example/", headers={"User-Agent": "Mozilla/5.0"})

    middleware.process_request(request)

    expected = f"SynthWatch/{crawlers.__version__} (+https://example.org/crawler)"
    assert request.headers[b"User-Agent"] == expected.encode()


def test_the_middleware_refuses_to_be_built_without_a_contact() -> None:
    with pytest.raises(ConfigError, match="SYNTHWATCH_CONTACT_URL is not set"):
        IdentityMiddleware.from_crawler(get_crawler(settings_dict={}))


@pytest.mark.slow
def test_scrapy_crawl_refuses_to_start_without_a_contact(
    harness: Harness, server: MockServer
) -> None:
    server.add("/", '<a class="listing" href="/item/1">1</a>')
    sources = harness.write_sources(source_toml("shop", server.base_url))
    harness.register_file(sources)
    env = crawl_env(
        {
            **{k: v for k, v in os.environ.items() if k != "SYNTHWATCH_CONTACT_URL"},
            "SYNTHWATCH_HOME": str(harness.home),
            "SYNTHWATCH_DATABASE_URL": harness.database_url,
            "PYTHONPATH": str(REPO),
        },
        [sources],
        allow_loopback=True,
    )
    env |= {name: "" for name in env if name.lower().endswith("_proxy")}

    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "shop"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode != 0
    assert "SYNTHWATCH_CONTACT_URL is not set" in result.stderr
    assert server.hits == []
    with harness.session_factory() as session:
        assert session.scalars(select(CrawlRun)).all() == []
