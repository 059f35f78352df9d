"""The WARC writer: a request and a response record per page, appended (reading: tests/storage)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from crawlers.evidence import WarcEvidenceWriter, warc_relpath
from crawlers.items import EvidenceRef, PageItem
from storage.models import Capture
from storage.warc import payload_digest, read_capture

FETCHED = datetime(2026, 11, 25, 12, 0, 1, 250000, tzinfo=UTC)


def page(
    url: str = "http://127.0.0.1:8421/b2b/products/4-anpp.html", body: bytes = b""
) -> PageItem:
    body = body or b"<html><body><h1>4-ANPP</h1><p>USD 450/kg</p></body></html>"
    return PageItem(
        source_id="demo-b2b",
        url=url,
        status=200,
        headers=[
            ("Content-Type", "text/html; charset=utf-8"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Length", "999"),
        ],
        body=body,
        request_headers=[("User-Agent", "SynthWatch/0.1.0 (+https://example.org)")],
        fetched_at=FETCHED,
    )


def write_pages(home: Path, *items: PageItem) -> list[EvidenceRef]:
    writer = WarcEvidenceWriter(home, warc_relpath("demo-b2b", 7), fsync=False, software="test")
    try:
        return [writer.write(item) for item in items]
    finally:
        writer.close()


def verify(home: Path, ref: EvidenceRef, url: str = page().url) -> bool:
    capture = Capture(
        url=url,
        http_status=200,
        content_type="text/html; charset=utf-8",
        fetched_at=FETCHED,
        warc_file=ref.warc_file,
        warc_offset=ref.offset,
        warc_length=ref.length,
        payload_sha256=ref.payload_sha256,
    )
    return read_capture(home, capture).verified


def test_written_captures_verify(tmp_path: Path) -> None:
    first, second = write_pages(tmp_path, page(), page(url="http://127.0.0.1:8421/b", body=b"B"))

    assert first.warc_file == "evidence/demo-b2b/7.warc.gz"
    assert (tmp_path / first.warc_file).is_file()
    assert second.offset > first.offset + first.length  # a request record sits between
    assert verify(tmp_path, first) and verify(tmp_path, second, "http://127.0.0.1:8421/b")


def test_the_warc_file_holds_a_request_and_response_per_page(tmp_path: Path) -> None:
    (ref,) = write_pages(tmp_path, page())

    with (tmp_path / ref.warc_file).open("rb") as fh:
        records = [
            (
                r.rec_type,
                r.rec_headers.get_header("WARC-Target-URI"),
                r.rec_headers.get_header("WARC-Date"),
                r.rec_headers.get_header("WARC-Payload-Digest"),
                r.rec_headers.get_header("WARC-Record-ID"),
                r.rec_headers.get_header("WARC-Concurrent-To"),
                r.http_headers,
                r.content_stream().read(),
            )
            for r in ArchiveIterator(fh)
        ]

    assert [r[0] for r in records] == ["warcinfo", "response", "request"]
    # Every record, warcinfo included, carries a SHA-256 block digest that storage.warc checks.
    assert all(d.startswith("sha256:") for d in block_digests(tmp_path / ref.warc_file))
    response, request = records[1], records[2]
    assert response[1] == request[1] == page().url
    assert response[2] == request[2] == "2026-11-25T12:00:01.250000Z"
    assert response[3] == payload_digest(ref.payload_sha256)
    assert request[5] == response[4]
    assert response[6].get_header("Content-Length") == str(len(page().body))
    assert response[6].get_header("X-Archive-Orig-Transfer-Encoding") == "chunked"
    assert response[6].get_header("Transfer-Encoding") is None
    assert request[6].protocol == "GET"
    assert request[6].get_header("User-Agent").startswith("SynthWatch/")
    assert response[7] == page().body


def block_digests(path: Path) -> list[str]:
    with path.open("rb") as fh:
        return [r.rec_headers.get_header("WARC-Block-Digest") or "" for r in ArchiveIterator(fh)]


def test_the_file_is_only_appended(tmp_path: Path) -> None:
    (first,) = write_pages(tmp_path, page())
    before = (tmp_path / first.warc_file).read_bytes()

    (second,) = write_pages(tmp_path, page(body=b"<p>changed</p>"))

    after = (tmp_path / first.warc_file).read_bytes()
    assert after.startswith(before)
    assert second.offset >= len(before)
    assert verify(tmp_path, first) and verify(tmp_path, second)
