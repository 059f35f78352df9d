"""Where WARC evidence is kept, for every machine: a folder they all mount, or object storage.

A crawl writes its run's WARC file on its own disk, under `$SYNTHWATCH_HOME`, as
`evidence/<source>/<run>.warc.gz` (`crawlers.evidence`); the `Capture` rows name that relative
path. What happens to the bytes from there is this module's, and every reader (`storage.warc`:
`synthwatch evidence verify`, the case page, referral packages) goes through the same
`EvidenceStore`: `read` a byte range, `seal` a whole file.

- `LocalEvidenceStore` (the default): the files stay where they were written. On several
  machines, `$SYNTHWATCH_HOME/evidence` is one shared mount (NFS or similar), so each batch's
  fsync (`publish`) puts the evidence on the shared disk before its listing rows commit.
- `S3EvidenceStore` (`SYNTHWATCH_EVIDENCE_URL=s3://bucket/prefix`, optionally
  `SYNTHWATCH_S3_ENDPOINT_URL` for a store other than AWS; credentials as boto3 reads them, e.g.
  `AWS_ACCESS_KEY_ID`): the local file is a spool. Before each store batch commits, `publish`
  uploads the bytes written since the last upload as one object,
  `<prefix>/<file>.parts/<start offset>`, checked against its SHA-256, so a committed capture
  never points at bytes only one machine has. When the run closes, `finish` uploads the whole
  file as `<prefix>/<file>`, checks its length, then deletes the parts and the spool file.
  Readers take the whole object when it is there, else the parts (a running run, or one whose
  worker died before `finish`; a worker uploads such leftovers when it finds them, see
  `crawlers.crawl_worker`).
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from threading import Lock
from typing import Any, Protocol
from urllib.parse import urlsplit

from storage.errors import StorageError

logger = logging.getLogger(__name__)

HASH_CHUNK = 1024 * 1024
EVIDENCE_GLOB = "evidence/**/*.warc.gz"
PARTS = ".parts/"
# Part names are their start offset, zero-padded so that listing them sorts them.
OFFSET_DIGITS = 15


class EvidenceStoreError(StorageError):
    """Evidence could not be put in the store (or the store is misconfigured)."""


class EvidenceStore(Protocol):
    """What crawlers write evidence through and every reader reads it through."""

    home: Path

    def describe(self, warc_file: str) -> str:
        """Return where a WARC file is, for messages."""
        ...

    def read(self, warc_file: str, offset: int, length: int) -> bytes:
        """Return up to `length` bytes from `offset` (fewer at the end); OSError if missing."""
        ...

    def seal(self, warc_file: str) -> tuple[int, str]:
        """Return the whole file's length and SHA-256 (hex); OSError if missing."""
        ...

    def publish(self, warc_files: Iterable[str], *, fsync: bool) -> None:
        """Make what was written to these files durable in the store (before a commit)."""
        ...

    def finish(self, warc_file: str) -> None:
        """Settle a closed run's file in the store (nothing for a local store)."""
        ...

    def spooled(self) -> list[str]:
        """Return the local files still waiting to be settled (none for a local store)."""
        ...


def local_path(home: Path, warc_file: str) -> Path | None:
    """Return a WARC file's path under `home`, or None when it would lie outside it."""
    root = home.resolve()
    path = (root / warc_file).resolve()
    return path if path.is_relative_to(root) else None


def file_seal(path: Path) -> tuple[int, str]:
    """Return a file's length and SHA-256 (hex), read in chunks."""
    with path.open("rb") as fh:
        return _seal_chunks(iter(lambda: fh.read(HASH_CHUNK), b""))


@dataclass(slots=True)
class LocalEvidenceStore:
    """WARC files under `home` (on several machines, `home/evidence` is a shared mount)."""

    home: Path

    def describe(self, warc_file: str) -> str:
        return str(self.home / warc_file)

    def _path(self, warc_file: str) -> Path:
        path = local_path(self.home, warc_file)
        if path is None:
            raise OSError(f"{warc_file}: path lies outside SYNTHWATCH_HOME")
        return path

    def read(self, warc_file: str, offset: int, length: int) -> bytes:
        with self._path(warc_file).open("rb") as fh:
            fh.seek(offset)
            return fh.read(length)

    def seal(self, warc_file: str) -> tuple[int, str]:
        return file_seal(self._path(warc_file))

    def publish(self, warc_files: Iterable[str], *, fsync: bool) -> None:
        # Any descriptor will do: fsync flushes the file, not the descriptor.
        if not fsync:
            return
        for warc_file in sorted(set(warc_files)):
            path = self.home / warc_file
            try:
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise EvidenceStoreError(f"{path}: cannot sync WARC file: {exc}") from exc

    def finish(self, warc_file: str) -> None:
        return None

    def spooled(self) -> list[str]:
        return []


@dataclass(slots=True)
class S3EvidenceStore:
    """WARC files as objects in an S3 bucket; `home` holds the spool of files being written."""

    home: Path
    bucket: str
    prefix: str
    client: Any  # a boto3 S3 client (thread-safe)
    _uploaded: dict[str, int] = field(default_factory=dict)
    _lock: Lock = field(default_factory=Lock)

    def key(self, warc_file: str) -> str:
        """Return the object key of a WARC file."""
        if warc_file.startswith("/") or ".." in warc_file.split("/"):
            raise OSError(f"{warc_file}: path lies outside the evidence store")
        return self.prefix + warc_file

    def describe(self, warc_file: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{warc_file}"

    # ------------------------------------------------------------------ reading

    def read(self, warc_file: str, offset: int, length: int) -> bytes:
        if length <= 0:
            return b""
        key = self.key(warc_file)
        try:
            return self._get(key, offset, length)
        except FileNotFoundError:
            pass
        parts = self._parts(key)
        if not parts:
            # `finish` may have just replaced the parts with the whole object.
            return self._get(key, offset, length)
        chunks, end = [], offset + length
        try:
            for start, size, part in parts:
                low, high = max(start, offset), min(start + size, end)
                if low < high:
                    chunks.append(self._get(part, low - start, high - low))
        except FileNotFoundError:
            return self._get(key, offset, length)  # as above, while this read listed them
        return b"".join(chunks)

    def seal(self, warc_file: str) -> tuple[int, str]:
        key = self.key(warc_file)
        try:
            return _seal_chunks(self._stream(key))
        except FileNotFoundError:
            parts = self._parts(key)
            if not parts:
                raise
        return _seal_chunks(chunk for _s, _n, part in parts for chunk in self._stream(part))

    def _get(self, key: str, offset: int, length: int) -> bytes:
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=key, Range=f"bytes={offset}-{offset + length - 1}"
            )
            return bytes(response["Body"].read())
        except Exception as exc:
            code = _error_code(exc)
            if code == "InvalidRange":
                return b""  # the range starts at or past the end
            raise _os_error(self.bucket, key, exc) from exc

    def _stream(self, key: str) -> Iterator[bytes]:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
            yield from body.iter_chunks(HASH_CHUNK)
        except Exception as exc:
            raise _os_error(self.bucket, key, exc) from exc

    def _parts(self, key: str) -> list[tuple[int, int, str]]:
        """Return the parts of a file as (start, size, key), checked to follow one another."""
        parts: list[tuple[int, int, str]] = []
        try:
            pages = self.client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=key + PARTS):
                for item in page.get("Contents", []):
                    start = int(item["Key"].rsplit("/", 1)[1])
                    parts.append((start, int(item["Size"]), item["Key"]))
        except Exception as exc:
            raise _os_error(self.bucket, key + PARTS, exc) from exc
        parts.sort()
        expected = 0
        for start, size, _key in parts:
            if start != expected:
                raise OSError(f"s3://{self.bucket}/{key}: parts missing at {expected}..{start}")
            expected = start + size
        return parts

    # ------------------------------------------------------------------ writing

    def publish(self, warc_files: Iterable[str], *, fsync: bool) -> None:
        # Uploaded whatever `fsync` says: the object store is where the evidence is durable.
        for warc_file in sorted(set(warc_files)):
            with self._lock:
                self._upload_new_bytes(warc_file)

    def _upload_new_bytes(self, warc_file: str) -> None:
        path = self.home / warc_file
        start = self._uploaded.get(warc_file, 0)
        try:
            with path.open("rb") as fh:
                fh.seek(start)
                data = fh.read()
        except OSError as exc:
            raise EvidenceStoreError(f"{path}: cannot read WARC spool file: {exc}") from exc
        if not data:
            return
        key = f"{self.key(warc_file)}{PARTS}{start:0{OFFSET_DIGITS}d}"
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
        try:
            response = self.client.put_object(
                Bucket=self.bucket, Key=key, Body=data, ChecksumSHA256=digest
            )
        except Exception as exc:
            raise EvidenceStoreError(f"s3://{self.bucket}/{key}: upload failed: {exc}") from exc
        echoed = response.get("ChecksumSHA256")
        if echoed is not None and echoed != digest:
            raise EvidenceStoreError(f"s3://{self.bucket}/{key}: stored SHA-256 differs")
        self._uploaded[warc_file] = start + len(data)

    def finish(self, warc_file: str) -> None:
        path = self.home / warc_file
        if not path.exists():
            return
        key = self.key(warc_file)
        size, sha256 = file_seal(path)
        try:
            self.client.upload_file(
                str(path),
                self.bucket,
                key,
                ExtraArgs={"ChecksumAlgorithm": "SHA256", "Metadata": {"sha256": sha256}},
            )
            stored = int(self.client.head_object(Bucket=self.bucket, Key=key)["ContentLength"])
        except Exception as exc:
            raise EvidenceStoreError(f"s3://{self.bucket}/{key}: upload failed: {exc}") from exc
        if stored != size:
            raise EvidenceStoreError(f"s3://{self.bucket}/{key}: {stored} bytes of {size} stored")
        self._delete_parts(key)
        path.unlink(missing_ok=True)
        with self._lock:
            self._uploaded.pop(warc_file, None)
        logger.info("evidence %s uploaded (%d bytes, SHA-256 %s)", key, size, sha256)

    def _delete_parts(self, key: str) -> None:
        try:
            keys = [{"Key": part} for _s, _n, part in self._parts(key)]
        except OSError:
            # Parts with a gap are no use to a reader once the whole object is there.
            keys = []
            pages = self.client.get_paginator("list_objects_v2")
            for page in pages.paginate(Bucket=self.bucket, Prefix=key + PARTS):
                keys += [{"Key": item["Key"]} for item in page.get("Contents", [])]
        for n in range(0, len(keys), 1000):
            self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": keys[n : n + 1000]})

    def spooled(self) -> list[str]:
        return sorted(p.relative_to(self.home).as_posix() for p in self.home.glob(EVIDENCE_GLOB))


def open_evidence_store(home: Path, url: str = "", *, endpoint_url: str = "") -> EvidenceStore:
    """Return the store `SYNTHWATCH_EVIDENCE_URL` names: empty (local, under `home`) or s3://."""
    if not url:
        return LocalEvidenceStore(home)
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise EvidenceStoreError(
            f"SYNTHWATCH_EVIDENCE_URL={url!r}: use s3://bucket/prefix, or leave it empty for"
            " $SYNTHWATCH_HOME/evidence (a shared mount on several machines)"
        )
    try:
        import boto3
    except ImportError as exc:
        raise EvidenceStoreError(
            f"SYNTHWATCH_EVIDENCE_URL={url!r} needs boto3: pip install 'synthwatch[s3]'"
        ) from exc
    prefix = parts.path.strip("/")
    client = boto3.client("s3", endpoint_url=endpoint_url or None)
    return S3EvidenceStore(home, parts.netloc, prefix + "/" if prefix else "", client)


def _seal_chunks(chunks: Iterable[bytes]) -> tuple[int, str]:
    digest, size = hashlib.sha256(), 0
    for chunk in chunks:
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def _os_error(bucket: str, key: str, exc: Exception) -> OSError:
    code = _error_code(exc)
    where = f"s3://{bucket}/{key}"
    if code in {"NoSuchKey", "404", "NotFound"}:
        return FileNotFoundError(f"{where}: no such object")
    return OSError(f"{where}: {exc}")
