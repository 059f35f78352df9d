"""Ed25519 keys of referral packages: their text formats, generation and fingerprints.

The private key (``SYNTHWATCH_SIGNING_KEY``) is the 32-byte Ed25519 private key, base64-encoded
(44 characters); a PKCS#8 PEM block (``openssl genpkey -algorithm ed25519``) is accepted too.
A public key is the 32-byte raw key in base64, or a PEM ``PUBLIC KEY`` block.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
    load_pem_private_key,
    load_pem_public_key,
)

from review.errors import SettingsError

KEY_BYTES = 32


class KeyFormatError(SettingsError):
    """A key that is not an Ed25519 key in one of the accepted formats."""


def load_signing_key(text: str, *, name: str = "SYNTHWATCH_SIGNING_KEY") -> Ed25519PrivateKey:
    """Return the private key that ``text`` holds (base64 of 32 bytes, or PKCS#8 PEM)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = load_pem_private_key(text.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"{name}: not a readable PEM private key ({exc})") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFormatError(f"{name}: the PEM key is not an Ed25519 key")
        return key
    return Ed25519PrivateKey.from_private_bytes(_raw(text, name, "private key"))


def load_public_key(text: str, *, name: str = "public key") -> Ed25519PublicKey:
    """Return the public key that ``text`` holds (base64 of 32 bytes, or a PEM PUBLIC KEY)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        try:
            key = load_pem_public_key(text.encode())
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"{name}: not a readable PEM public key ({exc})") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise KeyFormatError(f"{name}: the PEM key is not an Ed25519 key")
        return key
    return Ed25519PublicKey.from_public_bytes(_raw(text, name, "public key"))


def _raw(text: str, name: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyFormatError(f"{name}: not base64 ({exc})") from exc
    if len(raw) != KEY_BYTES:
        raise KeyFormatError(
            f"{name}: an Ed25519 {what} is {KEY_BYTES} bytes; this one is {len(raw)}"
        )
    return raw


def public_key_text(key: Ed25519PublicKey) -> str:
    """Return a public key as base64 of its 32 raw bytes."""
    return base64.b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")


def public_key_pem(key: Ed25519PublicKey) -> str:
    """Return a public key as a PEM ``PUBLIC KEY`` block (for openssl)."""
    return key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def fingerprint(key: Ed25519PublicKey) -> str:
    """Return ``sha256:`` and the hex SHA-256 of the raw public key."""
    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def generate_key_text() -> str:
    """Return a new private key in the format of ``SYNTHWATCH_SIGNING_KEY``."""
    raw = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    return base64.b64encode(raw).decode("ascii")
