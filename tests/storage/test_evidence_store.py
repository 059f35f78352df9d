"""The evidence store: a local folder, or S3 objects (moto on 127.0.0.1) read as one file."""

from __future__ import annotations

from pathlib import Path

import pytest

from storage.errors import StorageError
from storage.evidence_store import LocalEvidenceStore, file_seal, open_evidence_store
from tests.s3_server import S3Server, s3, s3_endpoint

__all__ = ["s3", "s3_endpoint"]

WARC = "evidence/shop/7.warc.gz"


def spool(home: Path, data: bytes, *, append: bool = False) -> Path:
    path = home / WARC
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("ab" if append else "wb") as fh:
        fh.write(data)
    return path


def test_the_local_store_reads_ranges_and_seals_and_refuses_paths_outside(tmp_path: Path) -> None:
    path = spool(tmp_path, b"0123456789")
    store = LocalEvidenceStore(tmp_path)

    store.publish([WARC], fsync=True)

    assert store.read(WARC, 2, 3) == b"234" and store.read(WARC, 8, 10) == b"89"
    assert store.seal(WARC) == file_seal(path)
    assert store.spooled() == []
    with pytest.raises(OSError, match="outside SYNTHWATCH_HOME"):
        store.read("../x.warc.gz", 0, 1)


def test_each_publish_uploads_the_new_bytes_and_reads_span_the_parts(
    tmp_path: Path, s3: S3Server
) -> None:
    store = s3.store(tmp_path)
    spool(tmp_path, b"warcinfo|first-batch|")
    store.publish([WARC], fsync=False)
    spool(tmp_path, b"second-batch|", append=True)
    store.publish([WARC, WARC], fsync=False)
    store.publish([WARC], fsync=False)  # nothing new: no empty part

    assert s3.keys(store.client) == [
        f"watch/{WARC}.parts/{0:015d}",
        f"watch/{WARC}.parts/{21:015d}",
    ]
    whole = b"warcinfo|first-batch|second-batch|"
    assert store.read(WARC, 9, 20) == whole[9:29]  # across the two parts
    assert store.read(WARC, 30, 100) == whole[30:]
    assert store.read(WARC, len(whole), 100) == b""
    assert store.seal(WARC) == file_seal(tmp_path / WARC)
    assert store.spooled() == [WARC]


def test_finish_uploads_the_whole_file_then_drops_the_parts_and_the_spool(
    tmp_path: Path, s3: S3Server
) -> None:
    store = s3.store(tmp_path)
    path = spool(tmp_path, b"A" * 1000)
    store.publish([WARC], fsync=False)
    spool(tmp_path, b"B" * 10, append=True)
    seal = file_seal(path)

    store.finish(WARC)

    assert not path.exists() and store.spooled() == []
    assert s3.keys(store.client) == [f"watch/{WARC}"]
    assert store.seal(WARC) == seal
    assert store.read(WARC, 995, 10) == b"AAAAABBBBB"


def test_a_file_in_neither_place_is_missing(tmp_path: Path, s3: S3Server) -> None:
    store = s3.store(tmp_path)

    with pytest.raises(FileNotFoundError, match="no such object"):
        store.read(WARC, 0, 10)
    with pytest.raises(OSError, match="outside the evidence store"):
        store.read("evidence/../../x", 0, 10)


def test_a_missing_part_is_reported_not_papered_over(tmp_path: Path, s3: S3Server) -> None:
    store = s3.store(tmp_path)
    spool(tmp_path, b"first|")
    store.publish([WARC], fsync=False)
    spool(tmp_path, b"second|", append=True)
    store.publish([WARC], fsync=False)
    store.client.delete_object(Bucket=s3.bucket, Key=f"watch/{WARC}.parts/{0:015d}")

    with pytest.raises(OSError, match=r"parts missing at 0\.\.6"):
        store.read(WARC, 0, 5)


def test_an_evidence_url_that_is_not_s3_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="use s3://bucket/prefix"):
        open_evidence_store(tmp_path, "ftp://host/x")
    assert isinstance(open_evidence_store(tmp_path, ""), LocalEvidenceStore)
