"""Where SynthWatch keeps its state: one folder, ``$SYNTHWATCH_HOME``, and a database URL."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path("var")
DATABASE_FILE = "synthwatch.db"


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """The state folder and the database URL, read once from the environment."""

    home: Path
    database_url: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StorageSettings:
        """Read ``SYNTHWATCH_HOME`` (default ``./var``) and ``SYNTHWATCH_DATABASE_URL``."""
        env = os.environ if environ is None else environ
        home = Path(env.get("SYNTHWATCH_HOME") or DEFAULT_HOME).resolve()
        url = env.get("SYNTHWATCH_DATABASE_URL") or sqlite_url(home / DATABASE_FILE)
        return cls(home=home, database_url=url)

    @property
    def evidence_dir(self) -> Path:
        """Folder of the WARC files, one per crawl run."""
        return self.home / "evidence"

    @property
    def previews_dir(self) -> Path:
        """Folder of rendered previews (digests, captured pages)."""
        return self.home / "previews"

    def ensure_dirs(self) -> None:
        """Create the state folder and its subfolders."""
        for path in (self.home, self.evidence_dir, self.previews_dir):
            path.mkdir(parents=True, exist_ok=True)


def sqlite_url(path: Path) -> str:
    """Return the SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"
