"""Settings of alerts: the named Apprise channels, and the digest's relay, sender and links.

``SYNTHWATCH_ALERT_CHANNELS`` is read here and nowhere else: named Apprise URLs, ``name=URL``
separated by blanks or line breaks, e.g.
``team-slack=slack://T000/B000/XXXX ops-hook=json://127.0.0.1:9000/alerts``. An analyst's rule
names channels; the URLs (which often hold a token) stay in the environment, never in the
database, a page or a log line. E-mail goes through the digest's relay (``SYNTHWATCH_SMTP_*``,
``review.digest.settings``) from its sender, and links start at ``SYNTHWATCH_BASE_URL``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import apprise

from review.digest.settings import DigestSettings, SmtpSettings
from review.errors import SettingsError
from review.settings import DEFAULT_BASE_URL
from storage.models import EMAIL_CHANNEL

CHANNELS_SETTING = "SYNTHWATCH_ALERT_CHANNELS"
CHANNEL_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
MAX_CHANNELS = 50


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """Everything alerts take from the environment, read and checked at once."""

    base_url: str = DEFAULT_BASE_URL
    # Channel name -> Apprise URL; kept out of repr, as a URL may hold a token.
    channels: Mapping[str, str] = field(default_factory=dict, repr=False)
    message_id_domain: str = "synthwatch.invalid"
    smtp: SmtpSettings | None = None

    @property
    def channel_names(self) -> tuple[str, ...]:
        """Return the channels a rule may name: e-mail, then the Apprise channels by name."""
        return (EMAIL_CHANNEL, *sorted(self.channels))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AlertSettings:
        """Read ``SYNTHWATCH_ALERT_CHANNELS`` and the digest's settings."""
        env = os.environ if environ is None else environ
        digest = DigestSettings.from_env(env)
        return cls(
            base_url=digest.base_url,
            channels=parse_channels(env.get(CHANNELS_SETTING, "")),
            message_id_domain=digest.message_id_domain,
            smtp=digest.smtp,
        )


def parse_channels(text: str) -> dict[str, str]:
    """Read ``name=URL`` entries; raise naming the entry at fault (never its URL)."""
    channels: dict[str, str] = {}
    for number, entry in enumerate(text.split(), start=1):
        name, sep, url = entry.partition("=")
        if not sep or not CHANNEL_NAME.fullmatch(name):
            raise SettingsError(
                f"{CHANNELS_SETTING}: entry {number} must be NAME=URL with a name of lower-case "
                "letters, digits, '-' and '_' (at most 32), such as team-slack=slack://..."
            )
        if name == EMAIL_CHANNEL:
            raise SettingsError(
                f"{CHANNELS_SETTING}: {EMAIL_CHANNEL!r} is the e-mail channel's name"
            )
        if name in channels:
            raise SettingsError(f"{CHANNELS_SETTING}: channel {name!r} is named twice")
        if apprise.Apprise.instantiate(url) is None:
            scheme = url.partition("://")[0] if "://" in url else ""
            raise SettingsError(
                f"{CHANNELS_SETTING}: channel {name!r} has a URL Apprise can't read"
                + (f" (scheme {scheme[:20]!r})" if scheme.isalnum() else "")
            )
        channels[name] = url
    if len(channels) > MAX_CHANNELS:
        raise SettingsError(f"{CHANNELS_SETTING}: at most {MAX_CHANNELS} channels")
    return channels
