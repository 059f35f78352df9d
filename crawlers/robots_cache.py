"""robots.txt answers kept across crawls: one small JSON file per scheme, host and port.

`$SYNTHWATCH_HOME/robots-cache/<scheme>_<host>_<port>.json` holds the origin, when it was
fetched (UTC), the HTTP status and the body (already cut to the parsing limit). Only answers
that decide the rules are kept, 2xx and 4xx; an unreachable robots.txt is asked again by the
next crawl. An entry is used for at most `max_age` seconds, capped at 24 hours (RFC 9309 §2.4).
Files are replaced atomically, so crawls of several sources can share the folder.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

logger = logging.getLogger(__name__)

MAX_AGE = timedelta(hours=24)
_UNSAFE = re.compile(r"[^a-z0-9.-]")


@dataclass(frozen=True, slots=True)
class CachedRobots:
    """One robots.txt answer as it was fetched."""

    origin: str
    fetched_at: datetime
    status: int
    body: bytes


def cache_key(origin: str) -> str:
    """Return the file name stem of an origin: scheme, host and port."""
    parts = urlsplit(origin)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = _UNSAFE.sub("_", (parts.hostname or "").lower())
    return f"{parts.scheme}_{host}_{port}"


class RobotsCache:
    """Read and write robots.txt answers under one folder."""

    def __init__(self, folder: Path, *, max_age: timedelta = MAX_AGE) -> None:
        self.folder = folder
        self.max_age = min(max_age, MAX_AGE)

    def path(self, origin: str) -> Path:
        return self.folder / f"{cache_key(origin)}.json"

    def load(self, origin: str, *, now: datetime) -> CachedRobots | None:
        """Return the answer fetched for this origin within max_age of now, or None."""
        try:
            data = json.loads(self.path(origin).read_text(encoding="utf-8"))
            entry = CachedRobots(
                origin=str(data["origin"]),
                fetched_at=datetime.fromisoformat(data["fetched_at"]),
                status=int(data["status"]),
                body=str(data["body"]).encode("utf-8"),
            )
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            logger.warning("ignoring unreadable robots cache entry %s: %s", self.path(origin), exc)
            return None
        age = now - entry.fetched_at
        if entry.origin != origin or not timedelta(0) <= age < self.max_age:
            return None
        return entry

    def store(self, origin: str, *, status: int, body: bytes, now: datetime) -> None:
        """Keep an answer; a failure to write is logged and otherwise ignored."""
        data = {
            "origin": origin,
            "fetched_at": now.isoformat(),
            "status": status,
            "body": body.decode("utf-8", errors="replace"),
        }
        tmp: str | None = None
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".robots-", suffix=".tmp")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
            os.replace(tmp, self.path(origin))
        except OSError as exc:
            logger.warning("cannot write the robots cache entry of %s: %s", origin, exc)
            if tmp is not None:
                Path(tmp).unlink(missing_ok=True)
