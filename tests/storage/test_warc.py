"""Reading WARC evidence back: what verifies, what is a mismatch, what is missing.

Each tampering here is one an attacker with write access to the evidence folder could make;
each must be found, by the records' digests, by the capture row, or by the run's seal.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import struct
import zlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawlers.evidence import WarcEvidenceWriter
from crawlers.items import EvidenceRef, PageItem
from storage.models import Capture, CrawlRun
from storage.warc import (
    MISMATCH,
    MISSING,
    VERIFIED,
    Finding,
    file_seal,
    payload_digest,
    read_capture,
    record_payload,
    request_member,
    response_member,
    verify_captures,
)

FETCHED = datetime(2026, 11, 25, 12, 0, 1, 250000, tzinfo=UTC)
BODY = b"<html><body><h1>4-ANPP</h1><p>USD 450/kg</p></body></html>"
URL = "http://127.0.0.1:8421/b2b/products/4-anpp.html"
WARC = "evidence/demo-b2b/7.warc.gz"


def page(url: str = URL, body: bytes = BODY) -> PageItem:
    return PageItem(
        source_id="demo-b2b",
        url=url,
        status=200,
        headers=[("Content-Type", "text/html; charset=utf-8")],
        body=body,
        request_headers=[("User-Agent", "SynthWatch tests")],
        fetched_at=FETCHED,
    )


def write_pages(home: Path, *items: PageItem) -> list[EvidenceRef]:
    """Write pages with the crawler's own writer, the format this module reads."""
    writer = WarcEvidenceWriter(home, WARC, fsync=False, software="t")
    try:
        return [writer.write(item) for item in items]
    finally:
        writer.close()


def write_page(home: Path, body: bytes = BODY) -> EvidenceRef:
    return write_pages(home, page(body=body))[0]


def capture_of(ref: EvidenceRef, **changes: object) -> Capture:
    fields: dict[str, object] = {
        "url": URL,
        "http_status": 200,
        "content_type": "text/html; charset=utf-8",
        "fetched_at": FETCHED,
        "warc_file": ref.warc_file,
        "warc_offset": ref.offset,
        "warc_length": ref.length,
        "payload_sha256": ref.payload_sha256,
    }
    return Capture(**(fields | changes))


def sealed_run(home: Path) -> CrawlRun:
    """The crawl run of the file as `crawlers.crawlrun` closes it: with the file's seal."""
    size, sha256 = file_seal(home / WARC)
    return CrawlRun(id=7, warc_file=WARC, warc_bytes=size, warc_sha256=sha256)


def findings(home: Path, *captures: Capture) -> list[Finding]:
    return list(verify_captures(home, captures))


def edit_member(path: Path, offset: int, length: int, old: bytes, new: bytes) -> int:
    """Rewrite one gzip member's content as a careful tamperer would; return its new length.

    `new` is as long as `old`, so every Content-Length still holds.
    """
    data = path.read_bytes()
    content = gzip.decompress(data[offset : offset + length])
    assert old in content and len(old) == len(new)
    member = same_size_member(content.replace(old, new, 1), length)
    path.write_bytes(data[:offset] + member + data[offset + length :])
    return len(member)


def same_size_member(content: bytes, length: int) -> bytes:
    """Compress `content` into a gzip member of exactly `length` bytes where it fits, padding
    the header's file-name field, so that the offsets of every later record still hold."""
    body = min(
        (deflate(content, level, mem) for level in range(1, 10) for mem in range(1, 10)), key=len
    )
    trailer = struct.pack("<II", zlib.crc32(content), len(content) & 0xFFFFFFFF)
    bare = 10 + len(body) + len(trailer)
    if bare == length:  # exactly the writer's size: a header with no name
        return b"\x1f\x8b\x08\x00" + b"\0\0\0\0" + b"\x02\xff" + body + trailer
    if bare + 1 > length:  # no room even for an empty name's terminator: sizes differ
        return gzip.compress(content)
    name = b"x" * (length - bare - 1) + b"\0"
    header = b"\x1f\x8b\x08\x08" + b"\0\0\0\0" + b"\x02\xff"
    return header + name + body + trailer


def deflate(content: bytes, level: int, mem: int = 8) -> bytes:
    # The smallest of every level and memory level: one setting alone can come out a byte
    # longer than the writer's, whatever zlib and warcio versions wrote it.
    compressor = zlib.compressobj(level, zlib.DEFLATED, -zlib.MAX_WBITS, mem)
    return compressor.compress(content) + compressor.flush()


def flip(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def forge_block_digest(path: Path, offset: int, length: int) -> int:
    """Recompute the WARC-Block-Digest of an edited record: digests are not secret."""
    data = path.read_bytes()
    content = gzip.decompress(data[offset : offset + length])
    head, block = content.split(b"\r\n\r\n", 1)
    block = block[: -len(b"\r\n\r\n")]
    digest = payload_digest(hashlib.sha256(block).hexdigest()).encode()
    head = re.sub(rb"WARC-Block-Digest: \S+", b"WARC-Block-Digest: " + digest, head)
    member = gzip.compress(head + b"\r\n\r\n" + block + b"\r\n\r\n")
    path.write_bytes(data[:offset] + member + data[offset + length :])
    return len(member)


def test_a_written_page_verifies_with_its_payload_and_content_type(tmp_path: Path) -> None:
    ref = write_page(tmp_path)

    record = read_capture(tmp_path, capture_of(ref))

    assert record.status == VERIFIED and record.verified, record.message
    assert record.message == (
        f"{ref.warc_file}@{ref.offset}: response and request records verified,"
        f" payload SHA-256 {ref.payload_sha256}"
    )
    assert record.payload == BODY
    assert record.content_type == "text/html; charset=utf-8"
    assert record.end == (tmp_path / WARC).stat().st_size
    assert ref.payload_sha256 == hashlib.sha256(BODY).hexdigest()


def test_an_untouched_sealed_file_verifies_every_capture_and_the_file(tmp_path: Path) -> None:
    refs = write_pages(tmp_path, page(), page(url=URL + "?v=2", body=b"<p>two</p>"))
    run = sealed_run(tmp_path)
    captures = [capture_of(refs[0], crawl_run=run), capture_of(refs[1], url=URL + "?v=2")]
    captures[1].payload_sha256, captures[1].crawl_run = refs[1].payload_sha256, run

    found = findings(tmp_path, *captures)

    assert [f.status for f in found] == [VERIFIED] * 3, [f.message for f in found]
    assert found[2].capture is None and "length" in found[2].message


def test_the_payload_digest_is_base32_sha256() -> None:
    assert payload_digest("00" * 32) == "sha256:" + "A" * 52 + "===="


def test_a_flipped_byte_is_a_mismatch(tmp_path: Path) -> None:
    ref = write_page(tmp_path)
    flip(tmp_path / WARC, ref.offset + ref.length // 2)

    record = read_capture(tmp_path, capture_of(ref))

    assert record.status == MISMATCH and not record.verified
    assert ref.warc_file in record.message


def test_a_changed_payload_is_a_mismatch_that_names_both_hashes(tmp_path: Path) -> None:
    ref = write_page(tmp_path, b"<p>original</p>")
    length = edit_member(tmp_path / WARC, ref.offset, ref.length, b"original", b"forgedxx")

    record = read_capture(tmp_path, capture_of(ref, warc_length=length))

    actual = hashlib.sha256(b"<p>forgedxx</p>").hexdigest()
    assert record.status == MISMATCH
    assert f"payload SHA-256 is {actual}, recorded {ref.payload_sha256}" in record.message
    assert record.payload == b"<p>forgedxx</p>"  # shown to the reviewer as what is there now


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (b"HTTP/1.1 200 OK", b"HTTP/1.1 410 OK"),
        (b"Content-Type: text/html;", b"Content-Type: text/json;"),
    ],
    ids=["status line", "content type"],
)
def test_a_rewritten_response_header_is_found_by_the_block_digest(
    tmp_path: Path, old: bytes, new: bytes
) -> None:
    ref = write_page(tmp_path)
    length = edit_member(tmp_path / WARC, ref.offset, ref.length, old, new)

    record = read_capture(tmp_path, capture_of(ref, warc_length=length))

    assert record.status == MISMATCH and "block digest failed" in record.message


def test_a_rewritten_status_with_a_forged_block_digest_is_found_by_the_capture_row(
    tmp_path: Path,
) -> None:
    ref = write_page(tmp_path)
    path = tmp_path / WARC
    run = sealed_run(tmp_path)
    length = edit_member(path, ref.offset, ref.length, b"200 OK", b"451 OK")
    length = forge_block_digest(path, ref.offset, length)

    capture = capture_of(ref, warc_length=length, crawl_run=run)
    record, file_check = findings(tmp_path, capture)

    assert record.status == MISMATCH and "HTTP status 451, recorded 200" in record.message
    assert file_check.status == MISMATCH and "when run 7 closed" in file_check.message


def test_a_changed_byte_in_the_request_record_is_found(tmp_path: Path) -> None:
    ref = write_page(tmp_path)
    path = tmp_path / WARC
    start = ref.offset + ref.length
    edit_member(path, start, path.stat().st_size - start, b"SynthWatch tests", b"SynthWatch tesTs")

    record = read_capture(tmp_path, capture_of(ref))

    assert record.status == MISMATCH
    assert f"request record at {start}" in record.message and "block digest" in record.message


def test_a_flipped_compressed_byte_in_the_request_record_is_found(tmp_path: Path) -> None:
    ref = write_page(tmp_path)
    path = tmp_path / WARC
    start = ref.offset + ref.length
    flip(path, (start + path.stat().st_size) // 2)

    assert read_capture(tmp_path, capture_of(ref)).status == MISMATCH


def test_a_changed_byte_in_the_warcinfo_record_is_found(tmp_path: Path) -> None:
    ref = write_page(tmp_path)
    path = tmp_path / WARC
    original = path.read_bytes()
    # The record holds its date, so one edit can compress a byte longer than the writer's:
    # a careful tamperer tries another letter until the member keeps its size.
    for letter in b"TuvwxyzsrqpUVW":
        path.write_bytes(original)
        length = edit_member(path, 0, ref.offset, b"software: t", b"software: " + bytes([letter]))
        if length == ref.offset:
            break
    assert length == ref.offset  # same size: the captures' offsets still hold

    record, file_check = findings(tmp_path, capture_of(ref))

    assert record.verified
    assert file_check.status == MISMATCH and "warcinfo record" in file_check.message


def test_a_flipped_byte_in_the_warcinfo_record_is_found(tmp_path: Path) -> None:
    ref = write_page(tmp_path)
    flip(tmp_path / WARC, ref.offset // 2)

    *_, file_check = findings(tmp_path, capture_of(ref))

    assert file_check.status == MISMATCH and "warcinfo" in file_check.message


def test_a_cut_tail_is_found_even_without_a_seal(tmp_path: Path) -> None:
    ref = write_page(tmp_path)
    path = tmp_path / WARC
    path.write_bytes(path.read_bytes()[: ref.offset + ref.length])

    record = read_capture(tmp_path, capture_of(ref))

    assert record.status == MISSING and "ends before the request record" in record.message


def test_a_cut_tail_past_the_last_capture_is_found_by_the_seal(tmp_path: Path) -> None:
    # The second page's listing was never stored (say, a database error): no capture names it.
    first, second = write_pages(tmp_path, page(), page(url=URL + "?v=2"))
    run = sealed_run(tmp_path)
    path = tmp_path / WARC
    path.write_bytes(path.read_bytes()[: second.offset])

    record, file_check = findings(tmp_path, capture_of(first, crawl_run=run))

    assert record.verified
    assert file_check.status == MISMATCH and "(cut)" in file_check.message


def test_a_file_without_a_seal_says_its_length_was_not_recorded(tmp_path: Path) -> None:
    ref = write_page(tmp_path)
    run = CrawlRun(id=3, warc_file=WARC)  # closed before seals were kept

    record, file_check = findings(tmp_path, capture_of(ref, crawl_run=run))

    assert record.verified and file_check.verified
    assert "file length not recorded for older captures (run 3" in file_check.message


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"url": URL + "?other"}, "WARC-Target-URI differs"),
        ({"http_status": 404}, "HTTP status 200, recorded 404"),
        ({"content_type": "text/plain"}, "Content-Type 'text/html; charset=utf-8'"),
        ({"fetched_at": datetime(2026, 1, 1, tzinfo=UTC)}, "WARC-Date"),
    ],
)
def test_a_record_that_disagrees_with_its_capture_row_is_a_mismatch(
    tmp_path: Path, change: dict[str, object], why: str
) -> None:
    ref = write_page(tmp_path)

    record = read_capture(tmp_path, capture_of(ref, **change))

    assert record.status == MISMATCH and why in record.message


def test_a_wrong_recorded_hash_is_a_mismatch(tmp_path: Path) -> None:
    ref = write_page(tmp_path)

    assert read_capture(tmp_path, capture_of(ref, payload_sha256="0" * 64)).status == MISMATCH


def test_a_wrong_offset_reads_no_response_record(tmp_path: Path) -> None:
    ref = write_page(tmp_path)

    record = read_capture(tmp_path, capture_of(ref, warc_offset=0))

    assert record.status != VERIFIED  # the warcinfo record, then part of the response


@pytest.mark.parametrize(
    ("home", "warc_file", "why"),
    [
        (True, "../outside.warc.gz", "path lies outside SYNTHWATCH_HOME"),
        (True, "evidence/x/1.warc.gz", "cannot read"),
        (False, WARC, "the evidence folder is not configured"),
    ],
)
def test_evidence_that_cannot_be_read_is_missing(
    tmp_path: Path, home: bool, warc_file: str, why: str
) -> None:
    ref = write_page(tmp_path)

    record = read_capture(tmp_path if home else None, capture_of(ref, warc_file=warc_file))

    assert record.status == MISSING and why in record.message and record.payload is None


def test_a_truncated_file_is_missing(tmp_path: Path) -> None:
    ref = write_page(tmp_path)
    path = tmp_path / ref.warc_file
    path.write_bytes(path.read_bytes()[: ref.offset + ref.length - 10])

    record = read_capture(tmp_path, capture_of(ref))

    assert record.status == MISSING and "file ends 10 bytes early" in record.message


def test_the_members_are_the_response_and_its_request_as_stored(tmp_path: Path) -> None:
    ref = write_page(tmp_path)
    capture = capture_of(ref)

    response = response_member(tmp_path, capture)
    request = request_member(tmp_path, capture, response)

    assert record_payload(response) == BODY
    assert request is not None and b"WARC-Type: request" in gzip.decompress(request)
    assert ref.offset + ref.length + len(request) == (tmp_path / WARC).stat().st_size
    assert request_member(tmp_path, capture_of(ref, warc_offset=0), response) is None
    with pytest.raises(OSError, match="outside SYNTHWATCH_HOME"):
        response_member(tmp_path, capture_of(ref, warc_file="../x.warc.gz"))
