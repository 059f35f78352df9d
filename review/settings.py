"""The review app's settings: the one module of this package that reads the environment."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from review.errors import SettingsError

log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://127.0.0.1:8000"
DEFAULT_SESSION_HOURS = 8.0
# Shorter than this, the random per-process key would be the safer choice.
MIN_SECRET_KEY_LENGTH = 32


@dataclass(frozen=True, slots=True)
class ReviewSettings:
    """What the review app and the digest need to know about their deployment."""

    secret_key: str
    base_url: str = DEFAULT_BASE_URL
    session_lifetime: timedelta = timedelta(hours=DEFAULT_SESSION_HOURS)

    @property
    def secure_cookies(self) -> bool:
        """Send the session cookie over HTTPS only when the app is served over HTTPS."""
        return self.base_url.startswith("https://")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> ReviewSettings:
        """Read ``SYNTHWATCH_SECRET_KEY``, ``SYNTHWATCH_BASE_URL``, ``SYNTHWATCH_SESSION_HOURS``.

        Without a secret key a random one is made for this process, so sessions end when the
        process does and several processes don't share sessions.
        """
        env = os.environ if environ is None else environ
        key = env.get("SYNTHWATCH_SECRET_KEY", "")
        if not key:
            log.warning(
                "SYNTHWATCH_SECRET_KEY is not set: using a random key for this process; "
                "sessions end when it stops"
            )
            key = secrets.token_urlsafe(48)
        elif len(key) < MIN_SECRET_KEY_LENGTH:
            raise SettingsError(
                f"SYNTHWATCH_SECRET_KEY is {len(key)} characters long; "
                f"use at least {MIN_SECRET_KEY_LENGTH} random characters"
            )
        base_url = base_url_from_env(env)
        hours_text = env.get("SYNTHWATCH_SESSION_HOURS") or str(DEFAULT_SESSION_HOURS)
        try:
            hours = float(hours_text)
        except ValueError:
            hours = -1.0
        if not 0 < hours <= 24 * 30:
            raise SettingsError(
                f"SYNTHWATCH_SESSION_HOURS {hours_text!r} must be a number of hours in (0, 720]"
            )
        return cls(secret_key=key, base_url=base_url, session_lifetime=timedelta(hours=hours))


def base_url_from_env(environ: Mapping[str, str] | None = None) -> str:
    """Read ``SYNTHWATCH_BASE_URL`` alone (the digest needs no secret key)."""
    env = os.environ if environ is None else environ
    base_url = (env.get("SYNTHWATCH_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if not base_url.startswith(("http://", "https://")):
        raise SettingsError(f"SYNTHWATCH_BASE_URL {base_url!r} must start with http(s)://")
    return base_url
