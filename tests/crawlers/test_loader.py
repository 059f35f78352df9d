from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.settings import Settings

from crawlers.loader import SourceSpiderLoader
from crawlers.spiders.listing import ListingSpider
from tests.crawlers.harness import REPO
from tests.factories import source_toml

SOURCES = source_toml("shop-a", "http://127.0.0.1:8421") + source_toml(
    "shop-b", "http://127.0.0.1:8421"
).replace('["127.0.0.1"]', '["localhost"]').replace("http://127.0.0.1", "http://localhost")


def test_the_loader_builds_one_spider_per_source(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES)

    loader = SourceSpiderLoader.from_settings(Settings({"SYNTHWATCH_SOURCES": [str(path)]}))

    assert loader.list() == ["shop-a", "shop-b"]
    spider = loader.load("shop-b")
    assert issubclass(spider, ListingSpider)
    assert spider.name == "shop-b" and spider.source.allowed_domains == ("localhost",)
    assert loader.find_by_request(Request("http://localhost:8421/item/1")) == ["shop-b"]
    with pytest.raises(KeyError):
        loader.load("nope")


@pytest.mark.slow
def test_scrapy_list_and_crawl_find_the_sources(tmp_path: Path) -> None:
    path = tmp_path / "sources.toml"
    path.write_text(SOURCES)
    env = {
        **os.environ,
        "SYNTHWATCH_SOURCES": str(path),
        "SYNTHWATCH_HOME": str(tmp_path),
        "PYTHONPATH": str(REPO),
    }

    # From the repository root scrapy.cfg names the settings; elsewhere the variable does.
    from_root = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"], cwd=REPO, env=env, capture_output=True, text=True
    )
    env["SCRAPY_SETTINGS_MODULE"] = "crawlers.settings"
    elsewhere = subprocess.run(
        [sys.executable, "-m", "scrapy", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )

    assert from_root.stdout.split() == ["shop-a", "shop-b"], from_root.stderr
    assert elsewhere.stdout.split() == ["shop-a", "shop-b"], elsewhere.stderr
