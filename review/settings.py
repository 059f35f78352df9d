"""The review app's settings: the one module of this package that reads the environment."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from review.errors import SettingsError
from review.signing import load_signing_key
from storage.config import StorageSettings
from storage.errors import StorageError
from storage.evidence_store import EvidenceStore, LocalEvidenceStore

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_SESSION_HOURS = 8.0
DEFAULT_IDLE_MINUTES = 30.0
# Shorter than this, the random per-process key would be the safer choice.
MIN_SECRET_KEY_LENGTH = 32
# The file in $SYNTHWATCH_HOME that keeps the key when SYNTHWATCH_SECRET_KEY is not set.
SECRET_KEY_FILE = "secret_key"


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    """What the review app and the digest need to know about their deployment."""

    secret_key: str = field(repr=False)
    base_url: str = DEFAULT_BASE_URL
    session_lifetime: timedelta = timedelta(hours=DEFAULT_SESSION_HOURS)
    # A session unused this long ends, however young it is.
    session_idle: timedelta = timedelta(minutes=DEFAULT_IDLE_MINUTES)
    # $SYNTHWATCH_HOME, where the WARC files of captures are; None: evidence can't be read.
    evidence_home: Path | None = None
    # Where captures are read from when it is not the folder above (SYNTHWATCH_EVIDENCE_URL).
    evidence_store: EvidenceStore | None = None
    # The Ed25519 key that signs referral packages (see review.referral); None: no referrals.
    signing_key: str | None = field(default=None, repr=False)

    @property
    def evidence(self) -> EvidenceStore | None:
        """Return the evidence store captures are read from, or None when there is none."""
        if self.evidence_store is not None:
            return self.evidence_store
        return LocalEvidenceStore(self.evidence_home) if self.evidence_home else None

    @property
    def secure_cookies(self) -> bool:
        """Send the session cookie over HTTPS only when the app is served over HTTPS."""
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReviewSettings:
        """Read the ``SYNTHWATCH_*`` variables of the review app.

        ``SECRET_KEY``, ``BASE_URL``, ``SESSION_HOURS``, ``SESSION_IDLE_MINUTES``,
        ``SIGNING_KEY``, and ``HOME`` for the evidence files.

        Without ``SYNTHWATCH_SECRET_KEY`` the key is kept in ``$SYNTHWATCH_HOME/secret_key``
        (made on first use, readable by its owner only), so sessions survive a restart; only
        when that folder does not exist is a random key made for this process (with a warning).
        """
        env = os.environ if environ is None else environ
        storage = StorageSettings.from_env(env)
        home = storage.home
        try:
            store = storage.evidence_store() if storage.evidence_url else None
        except StorageError as error:
            raise SettingsError(str(error)) from error
        key = env.get("SYNTHWATCH_SECRET_KEY", "")
        if not key:
            key = secret_key_in(home)
        elif len(key) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                f"SYNTHWATCH_SECRET_KEY is {len(key)} characters long; "
                f"use at least {MIN_SECRET_KEY_LENGTH} random characters"
            )
        base_url = base_url_from_env(env)
        hours = _number(env, "SYNTHWATCH_SESSION_HOURS", DEFAULT_SESSION_HOURS, 24 * 30, "hours")
        idle = _number(
            env, "SYNTHWATCH_SESSION_IDLE_MINUTES", DEFAULT_IDLE_MINUTES, 24 * 60, "minutes"
        )
        return cls(
            secret_key=key,
            base_url=base_url,
            session_lifetime=timedelta(hours=hours),
            session_idle=timedelta(minutes=idle),
            evidence_home=home,
            evidence_store=store,
            signing_key=signing_key_from_env(env),
        )


def secret_key_in(home: Path) -> str:
    """Return the key kept in ``home/secret_key``, making the file (mode 0600) if it is missing.

    A home folder that does not exist gives a random key for this process instead: sessions
    then end when the process does, and several processes don't share them.
    """
    path = home / SECRET_KEY_FILE
    if not home.is_dir():
        log.warning(
            "SYNTHWATCH_SECRET_KEY is not set and %s does not exist: using a random key for "
            "this process; sessions end when it stops",
            home,
        )
        return secrets.token_urlsafe(48)
    try:
        if not path.exists():
            _create_secret_file(path)
        key = path.read_text(encoding="utf-8").strip()
    except OSError as error:
        raise SettingsError(
            f"cannot keep the secret key in {path}: {error.strerror or error}; "
            "set SYNTHWATCH_SECRET_KEY instead"
        ) from error
    if len(key) < MIN_SECRET_KEY_LENGTH:
        raise SettingsError(
            f"{path} holds a key of {len(key)} characters; use at least "
            f"{MIN_SECRET_KEY_LENGTH} random characters, or delete the file to get a new key"
        )
    return key


def _create_secret_file(path: Path) -> None:
    # Written beside the target and linked into place: another process starting at the same
    # moment either links first (and this one reads its key) or finds the whole file.
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def _number(env: Mapping[str, str], name: str, default: float, most: float, unit: str) -> float:
    text = env.get(name) or str(default)
    try:
        number = float(text)
    except ValueError:
        number = -1.0
    if not 0 < number <= most:
        raise SettingsError(f"{name} {text!r} must be a number of {unit} in (0, {most:g}]")
    return number


def signing_key_from_env(environ: Mapping[str, str] | None = None) -> str | None:
    """Read ``SYNTHWATCH_SIGNING_KEY`` and check its format; None when it is not set."""
    env = os.environ if environ is None else environ
    text = env.get("SYNTHWATCH_SIGNING_KEY", "").strip()
    if not text:
        return None
    load_signing_key(text)  # a key in the wrong format stops the app now, not at a referral
    return text


def base_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """Read ``SYNTHWATCH_BASE_URL`` alone (the digest needs no secret key)."""
    env = os.environ if environ is None else environ
    base_url = (env.get("SYNTHWATCH_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise SettingsError(f"SYNTHWATCH_BASE_URL {base_url!r} must start with http(s)://")
    return base_url
