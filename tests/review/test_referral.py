"""Referral packages: built for an approved case only, signed, and any changed byte fails them."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from warcio.archiveiterator import ArchiveIterator

from review.app import create_app
from review.referral import MANIFEST, SIGNATURE, canonical_zip
from review.referral_check import verify_package
from review.settings import ReviewSettings
from review.signing import (
    KeyFormatError,
    fingerprint,
    generate_key_text,
    load_public_key,
    load_signing_key,
    public_key_pem,
    public_key_text,
)
from review.workflow import transition
from storage.db import transaction
from storage.models import AuditEvent, Capture, User
from tests.review.evidence_testkit import EvidenceCase, add_evidence_case
from tests.review.review_testkit import NOW, SIGNING_KEY, Clock, Seed, signed_in

PUBLIC_KEY = load_signing_key(SIGNING_KEY).public_key()
PAGES = [
    (
        "Carfentanil HCl 99%. Wickr: chemking",
        b"<html><body><p>Carfentanil HCl 99%</p></body></html>",
    ),
    (
        "Carfentanil HCl 99.5%, now 10g. Wickr: chemking",
        b"<html><body><p>Carfentanil HCl 99.5%, now 10g</p></body></html>",
    ),
]


def approved_case(factory: sessionmaker[Session], home: Path) -> EvidenceCase:
    found = add_evidence_case(factory, home, pages=PAGES)
    steps = [("ana", "confirmed", ""), ("ana", "escalated", ""), ("lee", "approved", "basis")]
    for name, to_state, note in steps:
        with transaction(factory) as session:
            actor = session.scalar(select(User).where(User.username == name))
            transition(session, found.case_id, to_state, actor=actor, now=NOW, note=note)
    return found


@pytest.fixture
def package(
    app: Flask, factory: sessionmaker[Session], home: Path, seed: Seed, tmp_path: Path
) -> tuple[Path, EvidenceCase]:
    found = approved_case(factory, home)
    legal = signed_in(app, "lee")
    response = legal.get(f"/cases/{found.case_id}/referral.zip")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/zip"
    disposition = response.headers["Content-Disposition"]
    assert f"synthwatch-case-{found.case_id}-referral-" in disposition
    path = tmp_path / "package.zip"
    path.write_bytes(response.get_data())
    return path, found


def test_a_fresh_package_verifies(package: tuple[Path, EvidenceCase]) -> None:
    path, _found = package

    assert verify_package(path, PUBLIC_KEY) == []
    assert verify_package(path, public_key_text(PUBLIC_KEY)) == []
    assert verify_package(path, public_key_pem(PUBLIC_KEY)) == []


def test_the_package_holds_case_evidence_audit_and_a_manifest(
    package: tuple[Path, EvidenceCase],
) -> None:
    path, found = package
    archive = zipfile.ZipFile(path)
    names = archive.namelist()

    assert names[:4] == ["README.txt", "report.html", "case.json", "audit.jsonl"]
    assert names[-2:] == [MANIFEST, SIGNATURE]
    evidence = [n for n in names if n.startswith("evidence/")]
    assert evidence == [f"evidence/capture-{i}.warc.gz" for i in found.capture_ids]
    case = json.loads(archive.read("case.json"))
    assert case["case"]["state"] == "approved"
    assert [v["text"] for v in case["versions"]] == [text for text, _html in PAGES]
    assert case["versions"][0]["mentions"][0]["concept_id"] == "carfentanil"
    assert [(d["from"], d["to"], d["by"]) for d in case["decisions"]] == [
        ("new", "confirmed", "ana"),
        ("confirmed", "escalated", "ana"),
        ("escalated", "approved", "lee"),
    ]
    for name, (_text, html) in zip(evidence, PAGES, strict=True):
        records = list(ArchiveIterator(io.BytesIO(archive.read(name))))
        assert [r.rec_type for r in records] == ["response", "request"]
        response = next(ArchiveIterator(io.BytesIO(archive.read(name))))
        assert response.raw_stream.read() == html
    manifest = json.loads(archive.read(MANIFEST))
    assert manifest["signing_key"]["fingerprint"] == fingerprint(PUBLIC_KEY)
    for entry in manifest["files"]:
        assert hashlib.sha256(archive.read(entry["path"])).hexdigest() == entry["sha256"]
    audit = [json.loads(line) for line in archive.read("audit.jsonl").splitlines()]
    assert [a["action"] for a in audit if a["object_type"] == "case"] == [
        "case.opened",
        "case.confirmed",
        "case.escalated",
        "case.approved",
    ]
    assert {a["hash"] for a in audit} and all(len(a["prev_hash"]) == 64 for a in audit)


def test_the_export_is_audited(
    package: tuple[Path, EvidenceCase], factory: sessionmaker[Session]
) -> None:
    path, found = package
    manifest = zipfile.ZipFile(path).read(MANIFEST)
    with factory() as session:
        (event,) = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "referral.exported")
        )
    assert (event.actor, event.object_id) == ("lee", str(found.case_id))
    assert event.detail["manifest_sha256"] == hashlib.sha256(manifest).hexdigest()
    assert event.detail["captures"] == found.capture_ids


def test_any_flipped_byte_fails_verification(
    package: tuple[Path, EvidenceCase], tmp_path: Path
) -> None:
    path, _found = package
    data = path.read_bytes()
    # Every byte of the headers and the end of the zip, and a spread through the contents.
    positions = sorted(
        set(range(0, 200)) | set(range(len(data) - 300, len(data))) | set(range(0, len(data), 37))
    )
    broken = tmp_path / "broken.zip"
    passed = []
    for position in positions:
        changed = bytearray(data)
        changed[position] ^= 0x01
        broken.write_bytes(bytes(changed))
        if verify_package(broken, PUBLIC_KEY) == []:
            passed.append(position)

    assert passed == []


def test_a_package_checked_with_another_key_fails(package: tuple[Path, EvidenceCase]) -> None:
    path, _found = package
    other = Ed25519PrivateKey.generate().public_key()

    problems = verify_package(path, other)

    assert problems == [f"{MANIFEST}: the signature does not verify with key {fingerprint(other)}"]


@pytest.mark.parametrize("change", ["add a file", "drop a file", "swap evidence", "trailing"])
def test_a_repacked_package_fails(
    package: tuple[Path, EvidenceCase], tmp_path: Path, change: str
) -> None:
    path, _found = package
    archive = zipfile.ZipFile(path)
    entries = [(n, archive.read(n)) for n in archive.namelist()]
    if change == "add a file":
        entries.insert(3, ("evidence/extra.txt", b"planted"))
    elif change == "drop a file":
        entries = [e for e in entries if not e[0].startswith("evidence/")]
    elif change == "swap evidence":
        first, second = [i for i, (n, _d) in enumerate(entries) if n.startswith("evidence/")]
        entries[first], entries[second] = (
            (entries[first][0], entries[second][1]),
            (entries[second][0], entries[first][1]),
        )
    repacked = tmp_path / "repacked.zip"
    data = canonical_zip(entries) + (b"\x00junk" if change == "trailing" else b"")
    repacked.write_bytes(data)

    assert verify_package(repacked, PUBLIC_KEY) != []


def test_not_a_zip_fails(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_bytes(b"not a zip")

    (problem,) = verify_package(path, PUBLIC_KEY)
    assert problem.endswith("not a readable zip: File is not a zip file")
    assert "cannot read" in verify_package(tmp_path / "absent.zip", PUBLIC_KEY)[0]


def test_only_an_approved_case_is_referred(app: Flask, seed: Seed) -> None:
    legal = signed_in(app, "lee")

    response = legal.get(f"/cases/{seed.cases['fentanyl']}/referral.zip")

    assert response.status_code == 409
    assert "only an approved case" in response.get_data(as_text=True)


def test_damaged_evidence_is_never_referred(
    app: Flask, factory: sessionmaker[Session], home: Path, seed: Seed
) -> None:
    found = approved_case(factory, home)
    with factory() as session:
        capture = session.get(Capture, found.capture_ids[0])
        middle = capture.warc_offset + capture.warc_length // 2
    warc = home / found.warc_file
    data = bytearray(warc.read_bytes())
    data[middle] ^= 0xFF  # inside the first page's response record
    warc.write_bytes(bytes(data))

    response = signed_in(app, "lee").get(f"/cases/{found.case_id}/referral.zip")

    assert response.status_code == 409
    assert "be referred" in response.get_data(as_text=True)


def test_without_a_signing_key_there_is_no_referral(
    factory: sessionmaker[Session], home: Path, seed: Seed, clock: Clock
) -> None:
    found = approved_case(factory, home)
    app = create_app(factory, ReviewSettings(secret_key="k" * 48, evidence_home=home), clock=clock)
    legal = signed_in(app, "lee")

    page = legal.get(f"/cases/{found.case_id}").get_data(as_text=True)
    response = legal.get(f"/cases/{found.case_id}/referral.zip")

    assert "SYNTHWATCH_SIGNING_KEY" in page
    assert response.status_code == 503


def test_keys_in_each_accepted_format() -> None:
    text = generate_key_text()
    key = load_signing_key(text)
    public = key.public_key()

    assert load_public_key(public_key_text(public)) == public
    assert load_public_key(public_key_pem(public)) == public
    assert fingerprint(public).startswith("sha256:")
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    assert load_signing_key(pem).public_key() == public


@pytest.mark.parametrize("text", ["", "not base64!", "c2hvcnQ=", "-----BEGIN PRIVATE KEY-----\nx"])
def test_a_bad_signing_key_is_refused_with_its_variable(text: str) -> None:
    with pytest.raises(KeyFormatError, match="SYNTHWATCH_SIGNING_KEY"):
        load_signing_key(text)
    with pytest.raises(KeyFormatError, match="SYNTHWATCH_SIGNING_KEY"):
        ReviewSettings.from_env(
            {"SYNTHWATCH_SECRET_KEY": "s" * 40, "SYNTHWATCH_SIGNING_KEY": text or "?"}
        )


def test_the_same_contents_make_the_same_zip() -> None:
    entries = [("a.txt", b"one"), ("b/c.json", b"{}")]
    assert canonical_zip(entries) == canonical_zip(list(entries))


def declare_size(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the uncompressed size a zip declares for `name`, in both of its headers."""
    changed = bytearray(data)
    for signature, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        start = 0
        while (start := data.find(signature, start)) >= 0:
            name_at = start + (30 if at == 22 else 46)
            if data[name_at : name_at + len(name)] == name.encode():
                changed[start + at : start + at + 4] = struct.pack("<I", size)
            start += 4
    return bytes(changed)


def test_a_member_declaring_a_huge_size_is_refused_unread(
    package: tuple[Path, EvidenceCase], tmp_path: Path
) -> None:
    path, found = package
    name = f"evidence/capture-{found.capture_ids[0]}.warc.gz"
    crafted = tmp_path / "crafted.zip"
    crafted.write_bytes(declare_size(path.read_bytes(), name, 300 * 1024 * 1024))

    problems = verify_package(crafted, PUBLIC_KEY)

    assert crafted.stat().st_size < 64 * 1024
    assert f"{name}: declares 314572800 bytes, the manifest " in problems[0]
    assert problems[0].endswith(": not read")


@pytest.mark.parametrize("member", [MANIFEST, "case.json"])
def test_a_listed_member_compressed_far_past_the_ratio_is_refused(
    tmp_path: Path, member: str
) -> None:
    size = 16 * 1024 * 1024
    bomb = tmp_path / "bomb.zip"
    manifest = {"format": "x", "files": [{"path": "case.json", "sha256": "0", "bytes": size}]}
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        with z.open("case.json", "w") as out:
            for _ in range(16):
                out.write(b"\0" * 1024 * 1024)
        if member == MANIFEST:
            with z.open(MANIFEST, "w") as out:
                for _ in range(16):
                    out.write(b" " * 1024 * 1024)
        else:
            z.writestr(MANIFEST, json.dumps(manifest))
        z.writestr(SIGNATURE, "AAAA")

    problems = verify_package(bomb, PUBLIC_KEY)

    assert bomb.stat().st_size < 200 * 1024
    assert any(
        p.startswith(f"{member}: {size} bytes compressed into") and "bomb" in p for p in problems
    ), problems
