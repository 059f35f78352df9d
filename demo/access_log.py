"""Record of the requests the demo server answered, as JSON lines."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class AccessLogEntry:
    """One request the demo server answered."""

    time: datetime
    method: str
    path: str
    status: int
    user_agent: str

    def to_json(self) -> str:
        """Return the entry as one line of JSON."""
        return json.dumps(
            {
                "time": self.time.isoformat(),
                "method": self.method,
                "path": self.path,
                "status": self.status,
                "user_agent": self.user_agent,
            },
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, line: str) -> AccessLogEntry:
        """Parse one line written by `to_json`."""
        data = json.loads(line)
        return cls(
            time=datetime.fromisoformat(data["time"]),
            method=data["method"],
            path=data["path"],
            status=int(data["status"]),
            user_agent=data["user_agent"],
        )


def read_access_log(path: Path) -> list[AccessLogEntry]:
    """Read a JSON-lines access log written by a `DemoServer`."""
    entries = []
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                entries.append(AccessLogEntry.from_json(line))
            except (ValueError, KeyError) as exc:
                raise ValueError(f"{path}:{number}: not an access log entry: {exc}") from exc
    return entries
