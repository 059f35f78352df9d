"""SynthWatch's crawlers: Scrapy spiders, the open-web guard, robots.txt, evidence and storage."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("synthwatch")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"
