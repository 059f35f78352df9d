"""Reading WARC evidence back: what verifies, what is a mismatch, what is missing."""

from __future__ import annotations

import gzip
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import pytest

from crawlers.evidence import WarcEvidenceWriter
from crawlers.items import EvidenceRef, PageItem
from storage.models import Capture
from storage.warc import (
    MISMATCH,
    MISSING,
    VERIFIED,
    payload_digest,
    read_capture,
    read_record,
    record_payload,
    request_member,
    response_member,
)

FETCHED = datetime(2026, 11, 25, 12, 0, 1, tzinfo=UTC)
BODY = b"<html><body><h1>4-ANPP</h1><p>USD 450/kg</p></body></html>"


def write_page(home: Path, body: bytes = BODY) -> EvidenceRef:
    """Write one page with the crawler's own writer, the format this module reads."""
    writer = WarcEvidenceWriter(home, "evidence/demo-b2b/7.warc.gz", fsync=False, software="t")
    try:
        return writer.write(
            PageItem(
                source_id="demo-b2b",
                url="http://127.0.0.1:8421/b2b/products/4-anpp.html",
                status=200,
                headers=[("Content-Type", "text/html; charset=utf-8")],
                body=body,
                request_headers=[("User-Agent", "SynthWatch tests")],
                fetched_at=FETCHED,
            )
        )
    finally:
        writer.close()


def capture_of(ref: EvidenceRef, **changes: object) -> Capture:
    fields: dict[str, object] = {
        "warc_file": ref.warc_file,
        "warc_offset": ref.offset,
        "warc_length": ref.length,
        "payload_sha256": ref.payload_sha256,
    }
    return Capture(**(fields | changes))


def test_a_written_page_verifies_with_its_payload_and_content_type(tmp_path: Path) -> None:
    ref = write_page(tmp_path)

    record = read_capture(tmp_path, capture_of(ref))

    assert record.status == VERIFIED and record.verified
    assert (
        record.message
        == f"{ref.warc_file}@{ref.offset}: payload SHA-256 {ref.payload_sha256} verified"
    )
    assert record.payload == BODY
    assert record.content_type == "text/html; charset=utf-8"
    assert ref.payload_sha256 == hashlib.sha256(BODY).hexdigest()


def test_the_payload_digest_is_base32_sha256() -> None:
    assert payload_digest("00" * 32) == "sha256:" + "A" * 52 + "===="


def test_a_flipped_byte_is_a_mismatch(tmp_path: Path) -> None:
    ref = write_page(tmp_path)
    path = tmp_path / ref.warc_file
    data = bytearray(path.read_bytes())
    data[ref.offset + ref.length // 2] ^= 0x01
    path.write_bytes(bytes(data))

    record = read_record(tmp_path, ref.warc_file, ref.offset, ref.length, ref.payload_sha256)

    assert record.status == MISMATCH and not record.verified
    assert ref.warc_file in record.message


def test_a_changed_payload_is_a_mismatch_that_names_both_hashes(tmp_path: Path) -> None:
    ref = write_page(tmp_path, b"<p>original</p>")
    path = tmp_path / ref.warc_file
    member = gzip.decompress(path.read_bytes()[ref.offset : ref.offset + ref.length])
    forged = gzip.compress(member.replace(b"original", b"forgedxx"))
    path.write_bytes(path.read_bytes()[: ref.offset] + forged)

    record = read_record(tmp_path, ref.warc_file, ref.offset, len(forged), ref.payload_sha256)

    actual = hashlib.sha256(b"<p>forgedxx</p>").hexdigest()
    assert record.status == MISMATCH
    assert f"payload SHA-256 is {actual}, recorded {ref.payload_sha256}" in record.message
    assert record.payload == b"<p>forgedxx</p>"  # shown to the reviewer as what is there now


def test_a_wrong_recorded_hash_is_a_mismatch(tmp_path: Path) -> None:
    ref = write_page(tmp_path)

    assert read_record(tmp_path, ref.warc_file, ref.offset, ref.length, "0" * 64).status == MISMATCH


def test_a_wrong_offset_reads_no_response_record(tmp_path: Path) -> None:
    ref = write_page(tmp_path)

    record = read_record(tmp_path, ref.warc_file, 0, ref.length, ref.payload_sha256)

    assert record.status != VERIFIED  # the warcinfo record, then part of the response


@pytest.mark.parametrize(
    ("home", "warc_file", "why"),
    [
        (True, "../outside.warc.gz", "path lies outside SYNTHWATCH_HOME"),
        (True, "evidence/x/1.warc.gz", "cannot read"),
        (False, "evidence/demo-b2b/7.warc.gz", "the evidence folder is not configured"),
    ],
)
def test_evidence_that_cannot_be_read_is_missing(
    tmp_path: Path, home: bool, warc_file: str, why: str
) -> None:
    ref = write_page(tmp_path)

    record = read_record(
        tmp_path if home else None, warc_file, ref.offset, ref.length, ref.payload_sha256
    )

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
    assert request_member(tmp_path, capture_of(ref, warc_offset=0), response) is None
    with pytest.raises(OSError, match="outside SYNTHWATCH_HOME"):
        response_member(tmp_path, capture_of(ref, warc_file="../x.warc.gz"))
