"""Where SynthWatch keeps its state: one folder, ``$SYNTHWATCH_HOME``, and a database URL."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from storage.evidence_store import EvidenceStore, open_evidence_store

DEFAULT_HOME = Path("var")
DATABASE_FILE = "synthwatch.db"


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """The state folder, the database URL and the evidence store, read once from the environment.

    ``evidence_url`` empty: WARC files stay in ``home/evidence`` (on several machines, a shared
    mount); ``s3://bucket/prefix``: S3-compatible object storage (`storage.evidence_store`), at
    ``s3_endpoint_url`` when it is not AWS.
    """

    home: Path
    database_url: str
    evidence_url: str = ""
    s3_endpoint_url: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StorageSettings:
        """Read ``SYNTHWATCH_HOME`` (default ``./var``), ``SYNTHWATCH_DATABASE_URL``,
        ``SYNTHWATCH_EVIDENCE_URL`` and ``SYNTHWATCH_S3_ENDPOINT_URL``."""
        env = os.environ if environ is None else environ
        home = Path(env.get("SYNTHWATCH_HOME") or DEFAULT_HOME).resolve()
        url = env.get("SYNTHWATCH_DATABASE_URL") or sqlite_url(home / DATABASE_FILE)
        return cls(
            home=home,
            database_url=url,
            evidence_url=env.get("SYNTHWATCH_EVIDENCE_URL", "").strip(),
            s3_endpoint_url=env.get("SYNTHWATCH_S3_ENDPOINT_URL", "").strip(),
        )

    def evidence_store(self) -> EvidenceStore:
        """Open the evidence store every reader and the crawlers go through."""
        return open_evidence_store(self.home, self.evidence_url, endpoint_url=self.s3_endpoint_url)

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
