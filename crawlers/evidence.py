"""Evidence: each crawl run appends its listing pages to one gzip WARC file.

`<SYNTHWATCH_HOME>/evidence/<source_id>/<run_id>.warc.gz` starts with a warcinfo record and
gets a response record and its request record per listing page; the file is only ever opened
for appending. The database keeps the path relative to SYNTHWATCH_HOME, the response record's
offset and length (one gzip member) and the SHA-256 of the HTTP payload, which is also the
record's `WARC-Payload-Digest` (sha256, base32, as WARC 1.1 writes digests).

The payload is the body as Scrapy delivered it: chunked transfer coding already removed, and
content coding too when Scrapy decoded it (it then drops `Content-Encoding`). So the record's
`Content-Length` is the payload's length, and the original `Transfer-Encoding` and
`Content-Length` headers are kept as `X-Archive-Orig-*` (the convention of web archives).
Reading the records back and verifying them is `storage.warc`'s, for every reader alike.

Records reach the operating system as they are written, and the evidence store when
`publish_evidence` runs: the store pipeline calls it once per batch, before that batch's listing
rows commit (the evidence invariant), instead of an fsync per record. For the local (or shared)
folder that is an fsync; for object storage, an upload of the bytes written since the last
batch (`storage.evidence_store`), and the file written here is only a spool. Each record is
its own gzip member, compressed at zlib's default level 6: warcio's level 9 costs a third more
time for 0.5% less.
"""

from __future__ import annotations

import hashlib
import io
import os
import zlib
from collections.abc import Iterable
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.utils import Digester
from warcio.warcwriter import WARCWriter

from crawlers.errors import EvidenceError
from crawlers.items import EvidenceRef, Headers, PageItem
from storage.errors import StorageError
from storage.evidence_store import EvidenceStore, LocalEvidenceStore
from storage.warc import payload_digest

# zlib's default: within 1% of level 9's size in a quarter less time on listing pages.
GZIP_LEVEL = 6
# Headers that describe the bytes on the wire rather than the payload we keep.
WIRE_HEADERS = frozenset({"transfer-encoding", "content-length"})


class _Sha256WARCWriter(WARCWriter):
    """warcio's writer with SHA-256 block and payload digests instead of SHA-1."""

    @staticmethod
    def _create_digester() -> Digester:
        return Digester("sha256")


def warc_relpath(source_id: str, run_id: int) -> str:
    """Return the WARC file of a crawl run, relative to SYNTHWATCH_HOME."""
    return f"evidence/{source_id}/{run_id}.warc.gz"


def warc_date(moment: datetime) -> str:
    """Return an aware datetime as a WARC 1.1 date (UTC, microseconds)."""
    return str(datetime_to_iso_date(moment.astimezone(UTC).replace(tzinfo=None), use_micros=True))


def archived_headers(headers: Headers, payload_length: int) -> Headers:
    """Return response headers that describe the payload as stored."""
    kept = [
        (f"X-Archive-Orig-{name}", value) if name.lower() in WIRE_HEADERS else (name, value)
        for name, value in headers
    ]
    return [*kept, ("Content-Length", str(payload_length))]


class WarcEvidenceWriter:
    """Append request/response record pairs to one crawl run's WARC file.

    ``fsync`` makes closing the file sync it; records in between are synced by
    `sync_evidence`, which the store pipeline calls before it commits what they prove.
    """

    def __init__(self, home: Path, relpath: str, *, fsync: bool = True, software: str = "") -> None:
        self.home = home
        self.relpath = relpath
        self.path = home / relpath
        self.fsync = fsync
        self.software = software
        self._file: IO[bytes] | None = None
        # warcio writes each record uncompressed here; we compress it as one gzip member.
        self._buffer = io.BytesIO()
        self._writer: Any = _Sha256WARCWriter(self._buffer, gzip=False, warc_version="1.1")

    def open(self) -> None:
        """Open the file for appending; a new file starts with a warcinfo record."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("ab")
            if self._file.tell() == 0:
                info = {"software": self.software, "format": "WARC File Format 1.1"}
                record = self._writer.create_warcinfo_record(self.path.name, info)
                self._file.write(self._member(record))
                self._sync()
                if self.fsync:
                    _fsync_dir(self.path.parent)  # the new file's name is on disk too
        except OSError as exc:
            raise EvidenceError(f"{self.path}: cannot open WARC file: {exc}") from exc

    def close(self) -> None:
        """Flush, sync (if ``fsync``) and close the file."""
        if self._file is not None:
            self._sync()
            self._file.close()
            self._file = None

    def write(self, item: PageItem) -> EvidenceRef:
        """Write a page's response and request records; return where the response is.

        The records are handed to the operating system, not yet synced to disk.
        """
        if self._file is None:
            self.open()
        assert self._file is not None
        sha256 = hashlib.sha256(item.body).hexdigest()
        date = warc_date(item.fetched_at)
        reason = _reason(item.status)
        response = self._writer.create_warc_record(
            item.url,
            "response",
            payload=io.BytesIO(item.body),
            length=len(item.body),
            http_headers=StatusAndHeaders(
                f"{item.status} {reason}".strip(),
                archived_headers(item.headers, len(item.body)),
                protocol=item.protocol,
            ),
            warc_headers_dict={"WARC-Date": date, "WARC-Payload-Digest": payload_digest(sha256)},
        )
        parts = urlsplit(item.url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        request = self._writer.create_warc_record(
            item.url,
            "request",
            payload=io.BytesIO(b""),
            length=0,
            http_headers=StatusAndHeaders(
                f"{item.method} {target} {item.protocol}",
                [("Host", parts.netloc), *item.request_headers],
                is_http_request=True,
            ),
            warc_headers_dict={
                "WARC-Date": date,
                "WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID"),
            },
        )
        response_member = self._member(response)
        request_member = self._member(request)
        try:
            offset = self._file.tell()
            self._file.write(response_member + request_member)
            self._file.flush()
        except OSError as exc:
            raise EvidenceError(f"{self.path}: cannot write WARC records: {exc}") from exc
        return EvidenceRef(self.relpath, offset, len(response_member), sha256)

    def _member(self, record: Any) -> bytes:
        """Return a record as one gzip member."""
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.write_record(record)
        return zlib.compress(self._buffer.getvalue(), GZIP_LEVEL, wbits=zlib.MAX_WBITS | 16)

    def _sync(self) -> None:
        assert self._file is not None
        self._file.flush()
        if self.fsync:
            os.fsync(self._file.fileno())


def sync_evidence(home: Path, relpaths: Iterable[str]) -> None:
    """Put what was written to these WARC files (relative to ``home``) on disk.

    Any descriptor will do: fsync flushes the file, not the descriptor, so the store pipeline
    syncs the files its batch refers to without holding the evidence writer.
    """
    publish_evidence(LocalEvidenceStore(home), relpaths, fsync=True)


def publish_evidence(store: EvidenceStore, relpaths: Iterable[str], *, fsync: bool) -> None:
    """Make these WARC files durable in the evidence store (synced, or uploaded) or raise."""
    try:
        store.publish(relpaths, fsync=fsync)
    except (OSError, StorageError) as exc:
        raise EvidenceError(str(exc)) from exc


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
