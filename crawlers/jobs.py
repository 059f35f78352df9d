"""What a scheduled run executes: a crawl of a source or a periodic command, in a child process.

The scheduler only triggers (as in scrapyd and Huginn); these do the work and bound it with a
timeout.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from crawlers.runner import CrawlOutcome, run_crawl

logger = logging.getLogger(__name__)


class RunJob(Protocol):
    """Crawl one source for one period and say how it ended."""

    def __call__(self, source_id: str, *, period_start: datetime, timeout: float) -> CrawlOutcome:
        """Run the crawl; `timeout` bounds it."""
        ...


@dataclass(frozen=True, slots=True)
class CrawlJob:
    """The default job: `run_crawl` of the source in a child process."""

    sources: tuple[Path, ...]
    env: Mapping[str, str] | None = None
    allow_loopback: bool = False
    settings: Mapping[str, str] | None = None

    def __call__(self, source_id: str, *, period_start: datetime, timeout: float) -> CrawlOutcome:
        """Crawl and wait for the child, at most `timeout` seconds."""
        return run_crawl(
            source_id,
            sources=list(self.sources),
            env=self.env,
            timeout=timeout,
            allow_loopback=self.allow_loopback,
            settings=self.settings,
        )


@dataclass(frozen=True, slots=True)
class PeriodicCommand:
    """A command the lease holder runs as a child process every `every` (the digest, say).

    The command decides for itself whether anything is due, so running it often is safe.
    """

    name: str
    argv: tuple[str, ...]
    every: timedelta
    timeout: float

    @property
    def job_id(self) -> str:
        return f"command:{self.name}"

    def __call__(self) -> None:
        """Run the command and log how it ended; a timeout kills it."""
        try:
            done = subprocess.run(
                list(self.argv),
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            logger.error("%s killed after its %.0f s timeout", self.name, self.timeout)
            return
        except OSError as exc:
            logger.error("%s could not start: %s", self.name, exc)
            return
        tail = " | ".join((done.stdout + done.stderr).strip().splitlines()[-3:])
        level = logging.INFO if done.returncode == 0 else logging.ERROR
        logger.log(level, "%s ended with exit code %d: %s", self.name, done.returncode, tail)
