"""Check a referral package as its recipient would: the signature over the manifest, then every
file against the manifest's SHA-256 (report.html among them), that the files its format needs
are there, then each WARC record's payload against the case document.

The package is untrusted input, so it is read in bounded pieces: no member is read whole except
the small JSON ones, every member is hashed in chunks, and a member is refused before any byte
of it is read when its declared size exceeds the manifest's, `MAX_MEMBER_BYTES`, or its
compressed size `MAX_RATIO` times over (SynthWatch stores members uncompressed). Peak memory is
then about one chunk plus the JSON members, whatever the members declare.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from warcio.archiveiterator import ArchiveIterator

from review.referral import MANIFEST, PACKAGE_FORMATS, SIGNATURE, ZIP_DATE_TIME
from review.signing import fingerprint, load_public_key

CHUNK = 1024 * 1024
# A member is one page's WARC records (DOWNLOAD_MAXSIZE, 10 MiB, plus headers) or a JSON
# document of one case; no honest package has one near this.
MAX_MEMBER_BYTES = 256 * 1024 * 1024
# JSON members are parsed whole, so they get a tighter bound.
MAX_JSON_BYTES = 64 * 1024 * 1024
MAX_SIGNATURE_BYTES = 4096
# Stored members have a ratio of 1; anything far above it is a compression bomb.
MAX_RATIO = 100
CASE = "case.json"
# Spooled to disk past this while the canonical layout is rebuilt for comparison.
SPOOL_BYTES = 8 * 1024 * 1024


def verify_package(path: Path | str, public_key: Ed25519PublicKey | str) -> list[str]:
    """Check a referral package; return what is wrong with it (nothing: it is intact).

    ``public_key`` is the signer's key as the caller trusts it: a key object, or its text
    (base64 of the 32 raw bytes, or a PEM ``PUBLIC KEY``).
    """
    key = load_public_key(public_key) if isinstance(public_key, str) else public_key
    where = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except OSError as exc:
        return [f"{where}: cannot read: {exc}"]
    except Exception as exc:  # the file is untrusted input: a finding, not a crash
        return [f"{where}: not a readable zip: {exc}"]
    with archive:
        return _verify(archive, Path(path), key)


def _verify(archive: zipfile.ZipFile, path: Path, key: Ed25519PublicKey) -> list[str]:
    where = str(path)
    infos = archive.infolist()
    problems: list[str] = []
    names = [info.filename for info in infos]
    for name in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{name}: appears more than once")
    by_name = {info.filename: info for info in infos}
    small: dict[str, bytes] = {}
    for name, limit in ((MANIFEST, MAX_JSON_BYTES), (SIGNATURE, MAX_SIGNATURE_BYTES)):
        if name in by_name:
            try:
                small[name] = _read_small(archive, by_name[name], limit)
            except _Refused as exc:
                problems.append(str(exc))
    manifest_bytes, signature = small.get(MANIFEST), small.get(SIGNATURE)
    if manifest_bytes is None or signature is None:
        return [*problems, f"{where}: {MANIFEST} or {SIGNATURE} is missing or unreadable"]
    problems += _check_signature(manifest_bytes, signature, key)
    try:
        manifest = json.loads(manifest_bytes)
        listed = [(str(f["path"]), str(f["sha256"]), int(f["bytes"])) for f in manifest["files"]]
    except (ValueError, KeyError, TypeError) as exc:
        return [*problems, f"{MANIFEST}: not a manifest: {exc}"]
    required = PACKAGE_FORMATS.get(str(manifest.get("format")))
    if required is None:
        known = ", ".join(PACKAGE_FORMATS)
        problems.append(f"{MANIFEST}: format {manifest.get('format')!r}, not one of {known}")
    listed_names = {name for name, _sha, _size in listed}
    for name, sha256, size in listed:
        info = by_name.get(name)
        if info is None:
            problems.append(f"{name}: listed in the manifest but missing")
            continue
        try:
            _refuse_size(info, size)
            actual = _hash_member(archive, info, size)
        except _Refused as exc:
            problems.append(str(exc))
            continue
        if actual != sha256:
            problems.append(f"{name}: SHA-256 or size differs from the manifest")
    expected_order = [name for name, _sha, _size in listed] + [MANIFEST, SIGNATURE]
    for name in names:
        if name not in expected_order:
            problems.append(f"{name}: not listed in the manifest")
    for name in required or ():
        if name not in listed_names:
            problems.append(f"{name}: not in the package")
    if not problems:
        problems += _check_evidence(archive, by_name)
    if not problems:
        if names != expected_order:
            problems.append(f"{where}: the files are not in the manifest's order")
        elif not _canonical(archive, infos, path):
            problems.append(
                f"{where}: the zip's bytes differ from the layout SynthWatch writes "
                "(a header, comment or trailing byte was changed)"
            )
    return problems


class _Refused(Exception):
    """A member not read, or not read through: why, naming it."""


def _refuse_size(
    info: zipfile.ZipInfo, expected: int | None, limit: int = MAX_MEMBER_BYTES
) -> None:
    """Refuse a member before reading it when what it declares is out of bounds."""
    name, size = info.filename, info.file_size
    if expected is not None and size != expected:
        raise _Refused(f"{name}: declares {size} bytes, the manifest {expected}: not read")
    if size > limit:
        raise _Refused(f"{name}: declares {size} bytes, more than the {limit} allowed: not read")
    if size > MAX_RATIO * max(info.compress_size, 1):
        raise _Refused(
            f"{name}: {size} bytes compressed into {info.compress_size} (a compression bomb?):"
            " not read"
        )


def _chunks(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> Iterator[bytes]:
    """Yield a member's bytes in chunks; refuse it if it yields more than `limit`."""
    read = 0
    try:
        with archive.open(info) as member:
            while chunk := member.read(CHUNK):
                read += len(chunk)
                if read > limit:
                    raise _Refused(f"{info.filename}: more than {limit} bytes: not read through")
                yield chunk
    except _Refused:
        raise
    except Exception as exc:  # zipfile raises many kinds of errors on damaged input
        raise _Refused(f"{info.filename}: damaged: {exc}") from exc


def _hash_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, size: int) -> str:
    digest = hashlib.sha256()
    for chunk in _chunks(archive, info, size):
        digest.update(chunk)
    return digest.hexdigest()


def _read_small(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    _refuse_size(info, None, limit)
    return b"".join(_chunks(archive, info, limit))


def _check_signature(manifest: bytes, signature: bytes, key: Ed25519PublicKey) -> list[str]:
    try:
        raw = base64.b64decode(signature.strip(), validate=True)
        key.verify(raw, manifest)
    except (binascii.Error, ValueError, InvalidSignature):
        return [f"{MANIFEST}: the signature does not verify with key {fingerprint(key)}"]
    return []


def _check_evidence(archive: zipfile.ZipFile, by_name: dict[str, zipfile.ZipInfo]) -> list[str]:
    """Check each WARC payload against the SHA-256 case.json records for its capture."""
    try:
        case = json.loads(_read_small(archive, by_name[CASE], MAX_JSON_BYTES))
        expected = {c["package_file"]: c["payload_sha256"] for c in case["captures"]}
    except _Refused as exc:
        return [str(exc)]
    except (KeyError, ValueError, TypeError) as exc:
        return [f"{CASE}: no list of captures: {exc}"]
    problems = []
    for name, sha256 in expected.items():
        info = by_name.get(name)
        if info is None:
            problems.append(f"{name}: named in {CASE} but missing")
            continue
        try:
            actual = _payload_sha256(archive, info)
        except Exception as exc:  # warcio raises many kinds of errors on damaged input
            problems.append(f"{name}: not a readable WARC record: {exc}")
            continue
        if actual != sha256:
            problems.append(f"{name}: payload SHA-256 {actual}, {CASE} records {sha256}")
    return problems


def _payload_sha256(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    """Hash the HTTP payload of a member's first WARC record, reading it in chunks."""
    digest = hashlib.sha256()
    with archive.open(info) as member:
        record = next(iter(ArchiveIterator(member)))
        while chunk := record.raw_stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _canonical(archive: zipfile.ZipFile, infos: list[zipfile.ZipInfo], path: Path) -> bool:
    """Tell whether the file is byte for byte the zip `canonical_zip` writes of its members.

    Rebuilt into a spooled temporary file (memory up to SPOOL_BYTES, then disk) and compared
    by SHA-256, so no member is held whole.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as rebuilt:
        with zipfile.ZipFile(rebuilt, "w", compression=zipfile.ZIP_STORED) as copy:
            for info in infos:
                # The same ZipInfo as review.referral.canonical_zip makes.
                out = zipfile.ZipInfo(info.filename, date_time=ZIP_DATE_TIME)
                out.compress_type = zipfile.ZIP_STORED
                out.create_system = 3
                out.external_attr = 0o100644 << 16
                out.file_size = info.file_size
                with archive.open(info) as source, copy.open(out, "w") as target:
                    shutil.copyfileobj(source, target, CHUNK)
        rebuilt.seek(0)
        return _sha256_of(rebuilt) == _sha256_of_path(path)


def _sha256_of(stream: IO[bytes] | Any) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _sha256_of_path(path: Path) -> str:
    with path.open("rb") as fh:
        return _sha256_of(fh)
