"""Referral packages: what leaves SynthWatch about an approved case, signed, and their check.

A package is a zip (stored, not compressed, laid out the same way every time) holding::

    README.txt                  what this is and how to check it
    report.html                 the case for a reader: the listing, its marked-up text, the
                                reasons and weights, the decisions, the hashes of the other
                                files (review.referral_report)
    case.json                   the case, its source's approvals, the listing's versions with
                                mentions and indicators, the captures, the decisions
    audit.jsonl                 the audit rows about the case, its captures and its source,
                                each with the hashes that chain it in the full log
    evidence/capture-N.warc.gz  each capture's WARC response record (and its request record),
                                byte for byte as the crawler stored them
    signing-key.pub.pem         the public key that signed it (check its fingerprint apart)
    manifest.json               SHA-256 and size of each file above
    manifest.sig                Ed25519 signature of manifest.json, base64

``review.referral_check.verify_package`` checks the signature with a public key the caller
trusts, every file against the manifest (report.html too), the WARC payloads against case.json,
and that the zip is laid out exactly as written, so any changed byte of the file fails it.
Format 1 packages, made before the report existed, still verify without one.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.orm import Session

from review.errors import ReviewError
from review.referral_report import REPORT, PackageFile, render_report
from review.signing import fingerprint, public_key_pem
from storage.audit import append_event, audit_excerpt, event_data
from storage.cases import cases_with_details
from storage.evidence_store import EvidenceStore
from storage.listings import listing_captures
from storage.models import Capture, Case, User
from storage.warc import read_capture, request_member, response_member

PACKAGE_FORMAT = "synthwatch-referral-2"
# What verification accepts, and the files each format must hold besides the evidence.
PACKAGE_FORMATS: dict[str, tuple[str, ...]] = {
    "synthwatch-referral-1": ("case.json",),
    PACKAGE_FORMAT: ("case.json", REPORT),
}
MANIFEST, SIGNATURE, README, PUBLIC_KEY = (
    "manifest.json",
    "manifest.sig",
    "README.txt",
    "signing-key.pub.pem",
)
REFERABLE_STATES = frozenset({"approved", "referred"})
EXPORTING_ROLES = frozenset({"analyst", "legal"})
# Fixed, so the same contents always make the same bytes (the zip format starts in 1980).
ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)

README_TEXT = """\
SynthWatch referral package ({format})

Case {case_id}, made {created_at} by {created_by}.

report.html is the case for a reader (open it in a browser; it loads and runs nothing).
case.json holds the case and the listing it is about; evidence/ holds the captured pages as WARC
records, exactly as they were stored when the page was fetched; audit.jsonl holds the audit rows
about the case. manifest.json lists the SHA-256 of every file, and manifest.sig is the Ed25519
signature of manifest.json (base64) by the key in signing-key.pub.pem, whose fingerprint is
{fingerprint}. Confirm that fingerprint with the sender by another channel.

To check the package:
    synthwatch referral verify PACKAGE.zip --public-key KEY
or by hand:
    base64 -d manifest.sig > manifest.sig.bin
    openssl pkeyutl -verify -pubin -inkey signing-key.pub.pem -rawin \\
        -in manifest.json -sigfile manifest.sig.bin
    sha256sum the files and compare them with manifest.json
"""


class ReferralError(ReviewError):
    """A referral package that can't be made (case not approved, evidence damaged, ...)."""


@dataclass(frozen=True, slots=True)
class ReferralPackage:
    """A built package: its bytes, a file name, and the SHA-256 of its manifest."""

    data: bytes
    filename: str
    manifest_sha256: str
    files: tuple[str, ...]


def build_package(
    session: Session,
    case_id: int,
    *,
    home: EvidenceStore | Path | None,
    signing_key: Ed25519PrivateKey,
    actor: User,
    now: datetime,
    request_id: str | None = None,
) -> ReferralPackage:
    """Build and sign the referral package of an approved case; audit it (the caller commits)."""
    if not actor.active or actor.role not in EXPORTING_ROLES:
        raise ReferralError(f"{actor.username} ({actor.role}) may not export referral packages")
    found = cases_with_details(session, [case_id])
    if not found:
        raise ReferralError(f"there is no case {case_id}")
    case = found[0]
    if case.state not in REFERABLE_STATES:
        raise ReferralError(f"case {case_id} is {case.state}; only an approved case is referred")
    if home is None:
        raise ReferralError("the evidence folder (SYNTHWATCH_HOME) is not configured")
    captures = listing_captures(session, case.listing_id)
    files: list[tuple[str, bytes]] = []
    for capture in captures:
        files.append((capture_file(capture), _warc_of(home, capture)))
    excerpt = audit_excerpt(
        session,
        case_id=case.id,
        capture_ids=[c.id for c in captures],
        source_id=case.listing.source_id,
    )
    public_key = signing_key.public_key()
    key_fingerprint = fingerprint(public_key)
    readme = README_TEXT.format(
        format=PACKAGE_FORMAT,
        case_id=case.id,
        created_at=now.isoformat(),
        created_by=actor.username,
        fingerprint=key_fingerprint,
    )
    files = [
        (README, readme.encode()),
        (
            "case.json",
            _json_bytes(case_document(case, captures)),
        ),
        ("audit.jsonl", b"".join(_json_line(event_data(e)) for e in excerpt)),
        *files,
        (PUBLIC_KEY, public_key_pem(public_key).encode()),
    ]
    report = render_report(
        case,
        captures,
        files=[
            PackageFile(name, hashlib.sha256(data).hexdigest(), len(data)) for name, data in files
        ],
        created_at=now,
        created_by=actor.username,
        fingerprint=key_fingerprint,
        package_format=PACKAGE_FORMAT,
        capture_files={c.id: capture_file(c) for c in captures},
    )
    files.insert(1, (REPORT, report))
    manifest = {
        "format": PACKAGE_FORMAT,
        "case_id": case.id,
        "created_at": now.isoformat(),
        "created_by": actor.username,
        "signing_key": {"algorithm": "Ed25519", "fingerprint": key_fingerprint},
        "files": [
            {"path": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
            for name, data in files
        ],
    }
    manifest_bytes = _json_bytes(manifest)
    signature = base64.b64encode(signing_key.sign(manifest_bytes)) + b"\n"
    entries = [*files, (MANIFEST, manifest_bytes), (SIGNATURE, signature)]
    manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    append_event(
        session,
        action="referral.exported",
        object_type="case",
        object_id=case.id,
        actor=actor,
        now=now,
        request_id=request_id,
        detail={
            "manifest_sha256": manifest_sha256,
            "signing_key": key_fingerprint,
            "captures": [c.id for c in captures],
        },
    )
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    return ReferralPackage(
        data=canonical_zip(entries),
        filename=f"synthwatch-case-{case.id}-referral-{stamp}.zip",
        manifest_sha256=manifest_sha256,
        files=tuple(name for name, _data in entries),
    )


def capture_file(capture: Capture) -> str:
    """Return the name of a capture's WARC file inside a package."""
    return f"evidence/capture-{capture.id}.warc.gz"


def _warc_of(home: EvidenceStore | Path, capture: Capture) -> bytes:
    check = read_capture(home, capture)
    if not check.verified:
        raise ReferralError(f"capture {capture.id} can't be referred: {check.message}")
    response = response_member(home, capture)
    return response + (request_member(home, capture, response) or b"")


def case_document(case: Case, captures: list[Capture]) -> dict[str, Any]:
    """Return the case as the package's case.json holds it."""
    listing, source = case.listing, case.listing.source
    return {
        "format": "synthwatch-case-1",
        "case": {
            "id": case.id,
            "state": case.state,
            "score": case.score,
            "assignee": case.assignee.username if case.assignee else None,
            "created_at": case.created_at.isoformat(),
            "updated_at": case.updated_at.isoformat(),
        },
        "source": {
            "id": source.id,
            "name": source.name,
            "approvals": [
                {
                    "legal_basis": a.legal_basis,
                    "approved_by": a.approved_by.username,
                    "approved_at": a.approved_at.isoformat(),
                    "scope_fingerprint": a.scope_fingerprint,
                }
                for a in source.approvals
            ],
        },
        "listing": {
            "id": listing.id,
            "url": listing.url,
            "first_seen": listing.first_seen.isoformat(),
            "last_seen": listing.last_seen.isoformat(),
            "gone_at": listing.gone_at.isoformat() if listing.gone_at else None,
        },
        "versions": [
            {
                "id": v.id,
                "created_at": v.created_at.isoformat(),
                "capture_id": v.capture_id,
                "title": v.title,
                "text": v.text,
                "text_sha256": v.text_sha256,
                "fields": v.fields,
                "score": v.score,
                "offer": v.offer,
                "reasons": v.reasons,
                "context": v.context,
                "mentions": [
                    {
                        "concept_id": m.concept_id,
                        "name": m.name,
                        "class": m.substance_class,
                        "control": m.control,
                        "start": m.start,
                        "end": m.end,
                        "text": m.text,
                        "confidence": m.confidence,
                    }
                    for m in v.mentions
                ],
                "indicators": [
                    {
                        "kind": i.kind,
                        "value": i.value,
                        "text": i.text,
                        "start": i.start,
                        "end": i.end,
                    }
                    for i in v.indicators
                ],
            }
            for v in listing.versions
        ],
        "captures": [
            {
                "id": c.id,
                "url": c.url,
                "http_status": c.http_status,
                "content_type": c.content_type,
                "fetched_at": c.fetched_at.isoformat(),
                "payload_sha256": c.payload_sha256,
                "crawl_run_id": c.crawl_run_id,
                "warc_file": c.warc_file,
                "warc_offset": c.warc_offset,
                "warc_length": c.warc_length,
                "package_file": capture_file(c),
            }
            for c in captures
        ],
        "decisions": [
            {
                "id": d.id,
                "from": d.from_state,
                "to": d.to_state,
                "by": d.actor.username,
                "at": d.at.isoformat(),
                "note": d.note,
            }
            for d in case.decisions
        ],
    }


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode()


def _json_line(data: Any) -> bytes:
    return (json.dumps(data, ensure_ascii=False, sort_keys=True) + "\n").encode()


def canonical_zip(entries: list[tuple[str, bytes]]) -> bytes:
    """Return a zip of these files, stored, with fixed dates and modes: same input, same bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


# ---------------------------------------------------------------- verification
