"""Errors raised by the crawlers package."""

from __future__ import annotations


class CrawlerError(Exception):
    """Base class of crawler errors."""


class ConfigError(CrawlerError):
    """A crawler setting that is missing or wrong; the message names the setting."""


class SourceError(CrawlerError):
    """A source file that cannot be loaded; the message names the file, line and key."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        self.path, self.line = path, line
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {message}")


class EvidenceError(CrawlerError):
    """A WARC file that cannot be written or read back."""
