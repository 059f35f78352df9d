from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import crawlers
from crawlers import settings as crawler_settings

PACKAGE = Path(crawlers.__file__).parent


@pytest.fixture
def reload_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    for name in ("SYNTHWATCH_SOURCES", "SYNTHWATCH_ALLOW_LOOPBACK", "SYNTHWATCH_CONTACT_URL"):
        monkeypatch.delenv(name, raising=False)
    yield crawler_settings
    monkeypatch.undo()
    importlib.reload(crawler_settings)


def test_settings_come_from_the_environment(
    reload_settings: ModuleType, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("SYNTHWATCH_SOURCES", os.pathsep.join(["a.toml", "b.toml"]))
    monkeypatch.setenv("SYNTHWATCH_ALLOW_LOOPBACK", "1")
    monkeypatch.setenv("SYNTHWATCH_CONTACT_URL", "https://example.org/contact")
    monkeypatch.setenv("SYNTHWATCH_HOME", str(tmp_path))
    monkeypatch.delenv("SYNTHWATCH_DATABASE_URL", raising=False)

    module = importlib.reload(reload_settings)

    assert module.SYNTHWATCH_SOURCES == ["a.toml", "b.toml"]
    assert module.SYNTHWATCH_ALLOW_LOOPBACK is True
    assert f"SynthWatch/{crawlers.__version__} (+https://example.org/contact)" == module.USER_AGENT
    assert str(tmp_path) == module.SYNTHWATCH_HOME
    assert f"sqlite:///{tmp_path / 'synthwatch.db'}" == module.SYNTHWATCH_DATABASE_URL


def test_loopback_is_off_and_there_is_no_contact_by_default(reload_settings: ModuleType) -> None:
    module = importlib.reload(reload_settings)

    assert module.SYNTHWATCH_ALLOW_LOOPBACK is False
    assert module.SYNTHWATCH_SOURCES == []
    # No invented contact: a crawl refuses to start until one is set (tests/crawlers/test_identity).
    assert module.SYNTHWATCH_CONTACT_URL == ""
    assert re.fullmatch(r"SynthWatch/\S+", module.USER_AGENT)


def test_the_defaults_are_polite() -> None:
    s = crawler_settings
    assert s.CONCURRENT_REQUESTS_PER_DOMAIN == 1
    assert s.DOWNLOAD_DELAY >= 1.0 and s.AUTOTHROTTLE_ENABLED
    assert s.COOKIES_ENABLED is False and s.ROBOTSTXT_OBEY is False
    assert s.TELNETCONSOLE_ENABLED is False and s.REMOTE_CONTROL_ENABLED is False
    assert s.REDIRECT_MAX_TIMES == 5 and s.DOWNLOAD_MAXSIZE == 10 * 1024 * 1024
    middlewares = s.DOWNLOADER_MIDDLEWARES
    assert middlewares["scrapy.downloadermiddlewares.offsite.OffsiteMiddleware"] is None
    assert middlewares["scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"] is None
    # The guard sees every request before robots.txt is even looked up.
    guard = middlewares["crawlers.guard.OpenWebGuard"]
    robots = middlewares["crawlers.robots.RobotsTxtMiddleware"]
    assert guard is not None and robots is not None and guard < robots
    # Retry-After is seen before Scrapy's RetryMiddleware (550) retries a 503 at once.
    assert middlewares["crawlers.retry_after.RetryAfterMiddleware"] > 550
    assert s.RETRY_TIMES <= 2 and 429 not in s.RETRY_HTTP_CODES
    for replaced in ("useragent.UserAgentMiddleware", "redirect.RedirectMiddleware"):
        assert middlewares[f"scrapy.downloadermiddlewares.{replaced}"] is None
    assert s.SYNTHWATCH_ROBOTS_CACHE_SECONDS <= 24 * 3600
    assert s.SYNTHWATCH_GONE_AFTER >= 2
    pipelines = s.ITEM_PIPELINES
    assert [p.rsplit(".", 1)[1] for p in sorted(pipelines, key=lambda p: pipelines[p])] == [
        "EvidencePipeline",
        "ExtractPipeline",
        "StorePipeline",
    ]


def test_every_setting_the_package_reads_has_its_default_in_settings() -> None:
    used = set()
    for path in PACKAGE.rglob("*.py"):
        used |= set(re.findall(r"[\"'](SYNTHWATCH_[A-Z_]+)[\"']", path.read_text()))

    defined = {name for name in dir(crawler_settings) if name.startswith("SYNTHWATCH_")}

    assert used - defined == set()
