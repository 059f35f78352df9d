"""Read captured pages back from their WARC files and verify them against what was recorded.

The crawler (`crawlers/evidence.py`) writes each crawl run's listing pages to
`<SYNTHWATCH_HOME>/evidence/<source>/<run>.warc.gz`: a warcinfo record first, then per page one
gzip member holding the response record followed by the member of its request record. Every
record carries a SHA-256 `WARC-Block-Digest` (its HTTP headers and body, or its fields); the
response also a `WARC-Payload-Digest`. A `Capture` row keeps the file (relative to
SYNTHWATCH_HOME), the response member's offset and length, the SHA-256 of its HTTP payload, and
the URL, HTTP status, Content-Type and fetch time; a `CrawlRun` closed since migration 0008
keeps the file's length and SHA-256 when the run closed (its seal).

`read_capture` checks a capture's two records (the case page and referral packages use it);
`verify_captures` adds the checks of each file, once per file (`synthwatch evidence verify`).
Every read goes through an `EvidenceStore` (`storage.evidence_store`: the local or shared
folder, or S3-compatible object storage); a `Path` given instead means the folder.
docs/security.md ("Evidence") says what this promises and what it cannot.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator
from warcio.timeutils import datetime_to_iso_date

from storage.evidence_store import EvidenceStore, LocalEvidenceStore, local_path
from storage.evidence_store import file_seal as file_seal
from storage.models import Capture, CrawlRun

VERIFIED, MISMATCH, MISSING = "verified", "mismatch", "missing"
# A request record or a warcinfo record is a few hundred bytes; this is plenty.
MAX_REQUEST_MEMBER = 64 * 1024
MAX_WARCINFO_MEMBER = 64 * 1024
# The Capture row keeps the first 200 characters of the Content-Type (its column's size).
CONTENT_TYPE_KEPT = 200


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    """What re-reading a capture found: its status, why, and the payload when it was read.

    `end` is where the capture's request record ends in the file (0 when it was not reached).
    """

    status: str
    message: str
    payload: bytes | None = None
    content_type: str = ""
    end: int = 0

    @property
    def verified(self) -> bool:
        """Say whether both records of the capture are intact and agree with the database."""
        return self.status == VERIFIED


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of `verify_captures`: a capture's, or a whole file's (`capture` is None)."""

    status: str
    message: str
    warc_file: str
    capture: Capture | None = None

    @property
    def verified(self) -> bool:
        """Say whether this check passed."""
        return self.status == VERIFIED


@dataclass(frozen=True, slots=True)
class _Record:
    """The first record of some bytes, read through, with what its digests said."""

    rec_type: str
    warc: Any  # warcio StatusAndHeaders of the WARC headers
    http: Any  # of the HTTP headers, or None
    payload: bytes
    length: int  # bytes of the member it filled
    problems: list[str]


class _Unreadable(Exception):
    pass


def payload_digest(sha256_hex: str) -> str:
    """Return a SHA-256 hex digest as a `WARC-Payload-Digest` value (base32)."""
    return "sha256:" + base64.b32encode(bytes.fromhex(sha256_hex)).decode("ascii")


def warc_path(home: Path, warc_file: str) -> Path | None:
    """Return the WARC file's path, or None when it would lie outside `home`."""
    return local_path(home, warc_file)


def evidence_store(evidence: EvidenceStore | Path) -> EvidenceStore:
    """Return the store to read from: `evidence` itself, or the folder it names."""
    return LocalEvidenceStore(evidence) if isinstance(evidence, Path) else evidence


def read_capture(evidence: EvidenceStore | Path | None, capture: Capture) -> CaptureRecord:
    """Re-read a capture's response and request records and check them and their digests."""
    where = f"{capture.warc_file}@{capture.warc_offset}"
    if evidence is None:
        return CaptureRecord(MISSING, f"{where}: the evidence folder is not configured")
    store = evidence_store(evidence)
    path = capture.warc_file
    length = capture.warc_length
    try:
        member = store.read(path, capture.warc_offset, length)
    except OSError as exc:
        return CaptureRecord(MISSING, f"{where}: cannot read: {exc}")
    if len(member) != length:
        return CaptureRecord(MISSING, f"{where}: file ends {length - len(member)} bytes early")
    try:
        response = _first_record(member)
    except _Unreadable as exc:
        return CaptureRecord(MISMATCH, f"{where}: not a readable WARC record: {exc}")
    payload = response.payload
    content_type = response.http.get_header("Content-Type", "") if response.http else ""

    def bad(why: str) -> CaptureRecord:
        return CaptureRecord(MISMATCH, f"{where}: {why}", payload, content_type)

    if response.rec_type != "response":
        return CaptureRecord(MISMATCH, f"{where}: a {response.rec_type} record, not a response")
    actual = hashlib.sha256(payload).hexdigest()
    if actual != capture.payload_sha256:
        return bad(f"payload SHA-256 is {actual}, recorded {capture.payload_sha256}")
    declared = response.warc.get_header("WARC-Payload-Digest")
    if declared != payload_digest(capture.payload_sha256):
        return bad(f"WARC-Payload-Digest {declared} does not match")
    problems = response.problems + _disagreements(response, capture)
    if response.length != length:
        problems.append(f"the response member holds {response.length} of its {length} bytes")
    if problems:
        return bad("response record: " + "; ".join(problems))
    start = capture.warc_offset + length
    try:
        chunk = store.read(path, start, MAX_REQUEST_MEMBER)
    except OSError as exc:
        return CaptureRecord(MISSING, f"{where}: cannot read the request record: {exc}")
    if not chunk:
        return CaptureRecord(
            MISSING, f"{where}: the file ends before the request record", payload, content_type
        )
    try:
        request = _first_record(chunk)
    except _Unreadable as exc:
        return bad(f"the request record at {start} is not readable: {exc}")
    problems = request.problems
    if request.rec_type != "request":
        problems = [f"a {request.rec_type} record, not the request", *problems]
    response_id = response.warc.get_header("WARC-Record-ID")
    if request.warc.get_header("WARC-Concurrent-To") != response_id:
        problems.append(f"not concurrent to the response {response_id}")
    if request.warc.get_header("WARC-Target-URI") != capture.url:
        problems.append("WARC-Target-URI differs from the capture's URL")
    if problems:
        return bad(f"request record at {start}: " + "; ".join(problems))
    return CaptureRecord(
        VERIFIED,
        f"{where}: response and request records verified, payload SHA-256 {capture.payload_sha256}",
        payload,
        content_type,
        start + request.length,
    )


def verify_captures(
    evidence: EvidenceStore | Path, captures: Iterable[Capture]
) -> Iterator[Finding]:
    """Check each capture's records, then each of their files once (warcinfo, length, seal).

    A file is checked against the seal of the crawl run it belongs to; a run closed before
    seals were kept, or one that never closed, has none (a `VERIFIED` finding says so).
    """
    store = evidence_store(evidence)
    ends: dict[str, int] = {}
    runs: dict[str, CrawlRun | None] = {}
    for capture in captures:
        check = read_capture(store, capture)
        name = capture.warc_file
        ends[name] = max(ends.get(name, 0), check.end)
        run: CrawlRun | None = capture.crawl_run
        if runs.get(name) is None:
            # The file's seal is its own run's: a capture that names another run's file has none.
            runs[name] = run if run is not None and run.warc_file == name else None
        yield Finding(check.status, check.message, name, capture)
    for name, run in runs.items():
        yield check_file(store, name, run, records_end=ends[name])


def check_file(
    evidence: EvidenceStore | Path, warc_file: str, run: CrawlRun | None, *, records_end: int
) -> Finding:
    """Check a WARC file's warcinfo record and its length and SHA-256 against the run's seal."""
    store = evidence_store(evidence)
    try:
        head = store.read(warc_file, 0, MAX_WARCINFO_MEMBER)
        info = _first_record(head)
    except OSError as exc:
        return Finding(MISSING, f"{warc_file}: cannot read: {exc}", warc_file)
    except _Unreadable as exc:
        return Finding(
            MISMATCH, f"{warc_file}: the warcinfo record is not readable: {exc}", warc_file
        )
    problems = list(info.problems)
    if info.rec_type != "warcinfo":
        problems.insert(0, f"starts with a {info.rec_type} record, not warcinfo")
    if info.warc.get_header("WARC-Filename") != warc_file.rsplit("/", 1)[-1]:
        problems.append(f"warcinfo names {info.warc.get_header('WARC-Filename')!r}")
    if problems:
        return Finding(MISMATCH, f"{warc_file}: warcinfo record: " + "; ".join(problems), warc_file)
    if run is None or run.warc_bytes is None or run.warc_sha256 is None:
        label = f"run {run.id}" if run is not None else "its run"
        return Finding(
            VERIFIED,
            f"{warc_file}: warcinfo verified; file length not recorded for older captures"
            f" ({label} was not sealed when it closed): only its captures' records were checked",
            warc_file,
        )
    try:
        size, sha256 = store.seal(warc_file)
    except OSError as exc:
        return Finding(MISSING, f"{warc_file}: cannot read: {exc}", warc_file)
    if size != run.warc_bytes:
        how = "cut" if size < run.warc_bytes else "appended to"
        return Finding(
            MISMATCH,
            f"{warc_file}: {size} bytes, {run.warc_bytes} when run {run.id} closed ({how})",
            warc_file,
        )
    if sha256 != run.warc_sha256:
        return Finding(
            MISMATCH,
            f"{warc_file}: file SHA-256 is {sha256}, {run.warc_sha256} when run {run.id} closed",
            warc_file,
        )
    if records_end > size:
        return Finding(MISMATCH, f"{warc_file}: ends before its last capture's records", warc_file)
    return Finding(
        VERIFIED, f"{warc_file}: warcinfo, length {size} and SHA-256 {sha256} verified", warc_file
    )


def record_payload(member: bytes) -> bytes:
    """Return the HTTP payload of the first WARC record in `member`; damaged input raises."""
    return bytes(next(iter(ArchiveIterator(io.BytesIO(member)))).raw_stream.read())


def response_member(evidence: EvidenceStore | Path, capture: Capture) -> bytes:
    """Return the bytes of the capture's response record as stored (one gzip member)."""
    store = evidence_store(evidence)
    return store.read(capture.warc_file, capture.warc_offset, capture.warc_length)


def request_member(
    evidence: EvidenceStore | Path, capture: Capture, response: bytes
) -> bytes | None:
    """Return the bytes of the request record written right after the response, if it is there."""
    store = evidence_store(evidence)
    try:
        response_id = next(iter(ArchiveIterator(io.BytesIO(response)))).rec_headers.get_header(
            "WARC-Record-ID"
        )
        chunk = store.read(
            capture.warc_file, capture.warc_offset + capture.warc_length, MAX_REQUEST_MEMBER
        )
        if not chunk:
            return None
        record = _first_record(chunk)
    except (OSError, StopIteration, _Unreadable):
        return None
    except Exception:  # a damaged or foreign response record: leave the request out
        return None
    if record.rec_type != "request" or record.warc.get_header("WARC-Concurrent-To") != response_id:
        return None
    return chunk[: record.length]


def _first_record(data: bytes) -> _Record:
    """Read the first record of `data` through, checking its digests; raise `_Unreadable`."""
    try:
        records = ArchiveIterator(io.BytesIO(data), check_digests=True)
        record = next(iter(records))
        payload = bytes(record.raw_stream.read())
        records.read_to_end(record)
        length = int(records.get_record_length())
    except StopIteration:
        raise _Unreadable("no record") from None
    except Exception as exc:  # warcio raises many kinds of errors on damaged input
        raise _Unreadable(str(exc) or type(exc).__name__) from exc
    problems = list(record.digest_checker.problems)
    block = record.rec_headers.get_header("WARC-Block-Digest") or ""
    if not block.startswith("sha256:"):
        problems.append(f"no SHA-256 WARC-Block-Digest ({block or 'none'})")
    elif record.digest_checker.passed is not True and not problems:
        problems.append("WARC-Block-Digest was not checked")
    return _Record(
        str(record.rec_type), record.rec_headers, record.http_headers, payload, length, problems
    )


def _disagreements(response: _Record, capture: Capture) -> list[str]:
    """Say where the response record's headers differ from what the capture row recorded."""
    found = []
    if response.warc.get_header("WARC-Target-URI") != capture.url:
        found.append("WARC-Target-URI differs from the capture's URL")
    when = datetime_to_iso_date(
        capture.fetched_at.astimezone(UTC).replace(tzinfo=None), use_micros=True
    )
    if response.warc.get_header("WARC-Date") != when:
        found.append(f"WARC-Date {response.warc.get_header('WARC-Date')}, recorded {when}")
    http = response.http
    status = http.get_statuscode() if http is not None else ""
    if status != str(capture.http_status):
        found.append(f"HTTP status {status or 'none'}, recorded {capture.http_status}")
    content_type = (http.get_header("Content-Type", "") if http is not None else "") or ""
    if content_type[:CONTENT_TYPE_KEPT] != capture.content_type:
        found.append(f"Content-Type {content_type!r}, recorded {capture.content_type!r}")
    return found
