"""Read captured pages back from their WARC files and check them against the recorded SHA-256.

The crawler (`crawlers/evidence.py`) writes each listing page as one gzip member holding a
response record, followed by the member of its request record, to
`<SYNTHWATCH_HOME>/evidence/<source>/<run>.warc.gz`. A `Capture` row keeps the file (relative to
SYNTHWATCH_HOME), the response member's offset and length, and the SHA-256 of its HTTP payload,
which is also the record's `WARC-Payload-Digest` (sha256, base32, as WARC 1.1 writes digests).
`synthwatch evidence verify`, the case page and referral packages all read records here.
"""

from __future__ import annotations

import base64
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from storage.models import Capture

VERIFIED, MISMATCH, MISSING = "verified", "mismatch", "missing"
# A request record is a few hundred bytes; this is plenty.
MAX_REQUEST_MEMBER = 64 * 1024


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    """What re-reading a capture found: its status, why, and the payload when it was read."""

    status: str
    message: str
    payload: bytes | None = None
    content_type: str = ""

    @property
    def verified(self) -> bool:
        """Say whether the payload's SHA-256 matches the one recorded at capture."""
        return self.status == VERIFIED


def payload_digest(sha256_hex: str) -> str:
    """Return a SHA-256 hex digest as a `WARC-Payload-Digest` value (base32)."""
    return "sha256:" + base64.b32encode(bytes.fromhex(sha256_hex)).decode("ascii")


def warc_path(home: Path, warc_file: str) -> Path | None:
    """Return the WARC file's path, or None when it would lie outside `home`."""
    root = home.resolve()
    path = (root / warc_file).resolve()
    return path if path.is_relative_to(root) else None


def read_record(
    home: Path | None, warc_file: str, offset: int, length: int, sha256: str
) -> CaptureRecord:
    """Re-read the response record at `offset` and check its payload against `sha256`."""
    where = f"{warc_file}@{offset}"
    if home is None:
        return CaptureRecord(MISSING, f"{where}: the evidence folder is not configured")
    path = warc_path(home, warc_file)
    if path is None:
        return CaptureRecord(MISSING, f"{where}: path lies outside SYNTHWATCH_HOME")
    try:
        member = _read(path, offset, length)
    except OSError as exc:
        return CaptureRecord(MISSING, f"{where}: cannot read: {exc}")
    if len(member) != length:
        return CaptureRecord(MISSING, f"{where}: file ends {length - len(member)} bytes early")
    try:
        record = next(iter(ArchiveIterator(io.BytesIO(member))))
        payload = record.raw_stream.read()
        declared = record.rec_headers.get_header("WARC-Payload-Digest")
        content_type = (
            record.http_headers.get_header("Content-Type", "") if record.http_headers else ""
        )
    except Exception as exc:  # warcio raises many kinds of errors on damaged input
        return CaptureRecord(MISMATCH, f"{where}: not a readable WARC record: {exc}")
    if record.rec_type != "response":
        return CaptureRecord(MISMATCH, f"{where}: a {record.rec_type} record, not a response")
    actual = hashlib.sha256(payload).hexdigest()
    if actual != sha256:
        return CaptureRecord(
            MISMATCH,
            f"{where}: payload SHA-256 is {actual}, recorded {sha256}",
            payload,
            content_type,
        )
    if declared != payload_digest(sha256):
        return CaptureRecord(
            MISMATCH,
            f"{where}: WARC-Payload-Digest {declared} does not match",
            payload,
            content_type,
        )
    return CaptureRecord(
        VERIFIED, f"{where}: payload SHA-256 {sha256} verified", payload, content_type
    )


def record_payload(member: bytes) -> bytes:
    """Return the HTTP payload of the first WARC record in `member`; damaged input raises."""
    return bytes(next(iter(ArchiveIterator(io.BytesIO(member)))).raw_stream.read())


def read_capture(home: Path | None, capture: Capture) -> CaptureRecord:
    """Re-read a capture's response record and check its payload against the recorded hash."""
    return read_record(
        home, capture.warc_file, capture.warc_offset, capture.warc_length, capture.payload_sha256
    )


def response_member(home: Path, capture: Capture) -> bytes:
    """Return the bytes of the capture's response record as stored (one gzip member)."""
    path = warc_path(home, capture.warc_file)
    if path is None:
        raise OSError(f"{capture.warc_file} lies outside SYNTHWATCH_HOME")
    return _read(path, capture.warc_offset, capture.warc_length)


def request_member(home: Path, capture: Capture, response: bytes) -> bytes | None:
    """Return the bytes of the request record written right after the response, if it is there."""
    path = warc_path(home, capture.warc_file)
    if path is None:
        return None
    try:
        response_id = next(iter(ArchiveIterator(io.BytesIO(response)))).rec_headers.get_header(
            "WARC-Record-ID"
        )
        chunk = _read(path, capture.warc_offset + capture.warc_length, MAX_REQUEST_MEMBER)
        if not chunk:
            return None
        records = ArchiveIterator(io.BytesIO(chunk))
        record = next(iter(records))
        if (
            record.rec_type != "request"
            or record.rec_headers.get_header("WARC-Concurrent-To") != response_id
        ):
            return None
        records.read_to_end(record)
        length = int(records.get_record_length())
    except (OSError, StopIteration, ValueError):
        return None
    except Exception:  # a damaged or foreign record after the response: leave it out
        return None
    return chunk[:length]


def _read(path: Path, offset: int, length: int) -> bytes:
    with path.open("rb") as fh:
        fh.seek(offset)
        return fh.read(length)
