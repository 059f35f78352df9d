"""A real S3 API (moto's server) on 127.0.0.1 for evidence-store tests; skipped without moto."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from storage.evidence_store import S3EvidenceStore, open_evidence_store

# Invented credentials: moto accepts any.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


@dataclass(frozen=True, slots=True)
class S3Server:
    """The endpoint of a running moto server and one empty bucket on it."""

    endpoint_url: str
    bucket: str

    @property
    def evidence_url(self) -> str:
        return f"s3://{self.bucket}/watch"

    def env(self) -> dict[str, str]:
        """Return the environment that points a SynthWatch process at this bucket."""
        return {
            **CREDENTIALS,
            "SYNTHWATCH_EVIDENCE_URL": self.evidence_url,
            "SYNTHWATCH_S3_ENDPOINT_URL": self.endpoint_url,
        }

    def store(self, home: Path) -> S3EvidenceStore:
        store = open_evidence_store(home, self.evidence_url, endpoint_url=self.endpoint_url)
        assert isinstance(store, S3EvidenceStore)
        return store

    def keys(self, client: Any) -> list[str]:
        listed = client.list_objects_v2(Bucket=self.bucket).get("Contents", [])
        return sorted(item["Key"] for item in listed)


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server")
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Server:
    """An empty bucket on the session's moto server, with credentials in the environment."""
    boto3 = pytest.importorskip("boto3")
    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    bucket = f"evidence-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return S3Server(s3_endpoint, bucket)
