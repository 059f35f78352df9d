"""Read a capture's WARC record back from ``$SYNTHWATCH_HOME`` and check its SHA-256.

The crawler wrote each listing page as a gzip member holding a response record, followed by
the member of its request record; the database keeps the response's offset and length and the
SHA-256 of its HTTP payload (also its ``WARC-Payload-Digest``, base32). The review package may
not import ``crawlers``, so it reads the records here with warcio.
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
    """Return a SHA-256 hex digest as a ``WARC-Payload-Digest`` value (base32)."""
    return "sha256:" + base64.b32encode(bytes.fromhex(sha256_hex)).decode("ascii")


def warc_path(home: Path, warc_file: str) -> Path | None:
    """Return the WARC file's path, or None when it would lie outside ``home``."""
    root = home.resolve()
    path = (root / warc_file).resolve()
    return path if path.is_relative_to(root) else None


def read_capture(home: Path | None, capture: Capture) -> CaptureRecord:
    """Re-read a capture's response record and check its payload against the recorded hash."""
    where = f"{capture.warc_file}@{capture.warc_offset}"
    if home is None:
        return CaptureRecord(MISSING, f"{where}: the evidence folder is not configured")
    try:
        member = response_member(home, capture)
    except OSError as exc:
        return CaptureRecord(MISSING, f"{where}: cannot read: {exc}")
    if len(member) != capture.warc_length:
        return CaptureRecord(MISSING, f"{where}: the file ends before the record does")
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
    if actual != capture.payload_sha256:
        return CaptureRecord(
            MISMATCH,
            f"{where}: payload SHA-256 is {actual}, recorded {capture.payload_sha256}",
            payload,
            content_type,
        )
    if declared != payload_digest(actual):
        return CaptureRecord(
            MISMATCH, f"{where}: WARC-Payload-Digest {declared} does not match", payload
        )
    return CaptureRecord(VERIFIED, f"{where}: payload SHA-256 verified", payload, content_type)


def response_member(home: Path, capture: Capture) -> bytes:
    """Return the bytes of the capture's response record as stored (one gzip member)."""
    path = warc_path(home, capture.warc_file)
    if path is None:
        raise OSError(f"{capture.warc_file} lies outside SYNTHWATCH_HOME")
    with path.open("rb") as fh:
        fh.seek(capture.warc_offset)
        return fh.read(capture.warc_length)


def request_member(home: Path, capture: Capture, response: bytes) -> bytes | None:
    """Return the bytes of the request record written right after the response, if it is there."""
    path = warc_path(home, capture.warc_file)
    if path is None:
        return None
    try:
        response_id = next(iter(ArchiveIterator(io.BytesIO(response)))).rec_headers.get_header(
            "WARC-Record-ID"
        )
        with path.open("rb") as fh:
            fh.seek(capture.warc_offset + capture.warc_length)
            chunk = fh.read(MAX_REQUEST_MEMBER)
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
