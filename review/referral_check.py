"""Check a referral package as its recipient would: the signature over the manifest, then every
file against the manifest's SHA-256, then each WARC record's payload against the case document."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import zipfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from review.referral import MANIFEST, PACKAGE_FORMAT, SIGNATURE, canonical_zip
from review.signing import fingerprint, load_public_key
from storage.warc import record_payload


def verify_package(path: Path | str, public_key: Ed25519PublicKey | str) -> list[str]:
    """Check a referral package; return what is wrong with it (nothing: it is intact).

    ``public_key`` is the signer's key as the caller trusts it: a key object, or its text
    (base64 of the 32 raw bytes, or a PEM ``PUBLIC KEY``).
    """
    key = load_public_key(public_key) if isinstance(public_key, str) else public_key
    where = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return [f"{where}: cannot read: {exc}"]
    # The file is untrusted input: whatever zipfile raises on it is a finding, not a crash.
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except Exception as exc:
        return [f"{where}: not a readable zip: {exc}"]
    problems: list[str] = []
    names = [info.filename for info in infos]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{name}: appears more than once")
    entries: dict[str, bytes] = {}
    for info in infos:
        try:
            entries[info.filename] = archive.read(info)
        except Exception as exc:
            problems.append(f"{info.filename}: damaged: {exc}")
    manifest_bytes, signature = entries.get(MANIFEST), entries.get(SIGNATURE)
    if manifest_bytes is None or signature is None:
        return [*problems, f"{where}: {MANIFEST} or {SIGNATURE} is missing"]
    problems += _check_signature(manifest_bytes, signature, key)
    try:
        manifest = json.loads(manifest_bytes)
        listed = [(f["path"], f["sha256"], f["bytes"]) for f in manifest["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        return [*problems, f"{MANIFEST}: not a manifest: {exc}"]
    if manifest.get("format") != PACKAGE_FORMAT:
        problems.append(f"{MANIFEST}: format {manifest.get('format')!r}, not {PACKAGE_FORMAT}")
    for name, sha256, size in listed:
        content = entries.get(name)
        if content is None:
            if name in names:
                continue  # already reported as damaged
            problems.append(f"{name}: listed in the manifest but missing")
        elif len(content) != size or hashlib.sha256(content).hexdigest() != sha256:
            problems.append(f"{name}: SHA-256 or size differs from the manifest")
    expected_order = [name for name, _sha, _size in listed] + [MANIFEST, SIGNATURE]
    for name in names:
        if name not in expected_order:
            problems.append(f"{name}: not listed in the manifest")
    if not problems:
        problems += _check_evidence(entries)
    if not problems:
        if names != expected_order:
            problems.append(f"{where}: the files are not in the manifest's order")
        elif canonical_zip([(name, entries[name]) for name in names]) != data:
            problems.append(
                f"{where}: the zip's bytes differ from the layout SynthWatch writes "
                "(a header, comment or trailing byte was changed)"
            )
    return problems


def _check_signature(manifest: bytes, signature: bytes, key: Ed25519PublicKey) -> list[str]:
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
        key.verify(raw, manifest)
    except (binascii.Error, ValueError, InvalidSignature):
        return [f"{MANIFEST}: the signature does not verify with key {fingerprint(key)}"]
    return []


def _check_evidence(entries: dict[str, bytes]) -> list[str]:
    """Check each WARC payload against the SHA-256 case.json records for its capture."""
    try:
        captures = json.loads(entries["case.json"])["captures"]
        expected = {c["package_file"]: c["payload_sha256"] for c in captures}
    except (KeyError, ValueError, TypeError) as exc:
        return [f"case.json: no list of captures: {exc}"]
    problems = []
    for name, sha256 in expected.items():
        content = entries.get(name)
        if content is None:
            problems.append(f"{name}: named in case.json but missing")
            continue
        try:
            actual = hashlib.sha256(record_payload(content)).hexdigest()
        except Exception as exc:  # warcio raises many kinds of errors on damaged input
            problems.append(f"{name}: not a readable WARC record: {exc}")
            continue
        if actual != sha256:
            problems.append(f"{name}: payload SHA-256 {actual}, case.json records {sha256}")
    return problems
