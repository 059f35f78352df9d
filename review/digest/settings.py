"""Settings of the digest: its links, when it falls due and the SMTP relay that delivers it.

``DigestSettings.from_env()`` is what callers read; ``SYNTHWATCH_SMTP_*`` and
``SYNTHWATCH_DIGEST_*`` are read here and nowhere else. The base URL of the links is the review
app's (``review.settings.base_url_from_env``), so the app and its digest never disagree.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from review.errors import SettingsError
from review.settings import DEFAULT_BASE_URL, base_url_from_env

DEFAULT_SMTP_PORT = 587
DEFAULT_SMTP_TIMEOUT_S = 60.0
DEFAULT_DIGEST_HOUR = 7
DEFAULT_DIGEST_TZ = "UTC"
FALLBACK_MESSAGE_ID_DOMAIN = "synthwatch.invalid"
SMTP_REQUIRED = "sending the digest needs SYNTHWATCH_SMTP_HOST and SYNTHWATCH_SMTP_FROM"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    """Where and how the digest is handed to a mail server."""

    host: str
    sender: str
    port: int = DEFAULT_SMTP_PORT
    starttls: bool = True
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_SMTP_TIMEOUT_S
    ca_file: str | None = None

    def __post_init__(self) -> None:
        if self.user and not self.starttls and not _loopback(self.host):
            raise SettingsError(
                f"SYNTHWATCH_SMTP_USER is set but SYNTHWATCH_SMTP_STARTTLS is off: the password "
                f"would cross the network to {self.host} in clear text"
            )
        check_address(self.sender, what="SYNTHWATCH_SMTP_FROM")

    @property
    def sender_address(self) -> str:
        """Return the bare address of the sender (the envelope's MAIL FROM)."""
        return parseaddr(self.sender)[1]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings:
        """Read ``SYNTHWATCH_SMTP_HOST/PORT/USER/PASSWORD/STARTTLS/FROM/TIMEOUT/CA_FILE``."""
        env = os.environ if environ is None else environ
        host = env.get("SYNTHWATCH_SMTP_HOST", "")
        sender = env.get("SYNTHWATCH_SMTP_FROM", "")
        if not host or not sender:
            raise SettingsError(SMTP_REQUIRED)
        return cls(
            host=host,
            sender=sender,
            port=_int(env, "SYNTHWATCH_SMTP_PORT", DEFAULT_SMTP_PORT, 1, 65535),
            starttls=_flag(env, "SYNTHWATCH_SMTP_STARTTLS", default=True),
            user=env.get("SYNTHWATCH_SMTP_USER") or None,
            password=env.get("SYNTHWATCH_SMTP_PASSWORD") or None,
            timeout=float(
                _int(env, "SYNTHWATCH_SMTP_TIMEOUT", int(DEFAULT_SMTP_TIMEOUT_S), 1, 600)
            ),
            ca_file=env.get("SYNTHWATCH_SMTP_CA_FILE") or None,
        )


@dataclass(frozen=True, slots=True)
class DigestSchedule:
    """When a week's digest falls due: the Monday after it, at ``hour`` in ``tz``.

    Weeks themselves are ISO weeks in UTC (Monday 00:00 UTC to the next); the time zone only
    says when the team wants the e-mail.
    """

    hour: int = DEFAULT_DIGEST_HOUR
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo(DEFAULT_DIGEST_TZ))

    def due_at(self, week_end: datetime) -> datetime:
        """Return the first Monday ``hour``:00 in ``tz`` at or after the end of a week, in UTC."""
        local_day = week_end.astimezone(self.tz).date()
        for offset in range(-1, 9):
            day = local_day + timedelta(days=offset)
            if day.weekday() != 0:
                continue
            moment = datetime.combine(day, time(self.hour), tzinfo=self.tz).astimezone(UTC)
            if moment >= week_end:
                return moment
        raise AssertionError("a Monday falls within any nine days")  # pragma: no cover

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DigestSchedule:
        """Read ``SYNTHWATCH_DIGEST_HOUR`` (0-23) and ``SYNTHWATCH_DIGEST_TZ`` (IANA name)."""
        env = os.environ if environ is None else environ
        hour = _int(env, "SYNTHWATCH_DIGEST_HOUR", DEFAULT_DIGEST_HOUR, 0, 23)
        name = env.get("SYNTHWATCH_DIGEST_TZ") or DEFAULT_DIGEST_TZ
        try:
            tz = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise SettingsError(
                f"SYNTHWATCH_DIGEST_TZ {name!r} is not an IANA time zone such as Europe/Berlin"
            ) from error
        return cls(hour=hour, tz=tz)


@dataclass(frozen=True, slots=True)
class DigestSettings:
    """Everything the digest takes from the environment, read and checked at once."""

    base_url: str = DEFAULT_BASE_URL
    schedule: DigestSchedule = field(default_factory=DigestSchedule)
    message_id_domain: str = FALLBACK_MESSAGE_ID_DOMAIN
    # None without SYNTHWATCH_SMTP_HOST and _FROM: a preview needs no relay, sending does.
    smtp: SmtpSettings | None = None

    def relay(self) -> SmtpSettings:
        """Return the SMTP settings, or raise naming what sending needs."""
        if self.smtp is None:
            raise SettingsError(SMTP_REQUIRED)
        return self.smtp

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> DigestSettings:
        """Read the base URL, ``SYNTHWATCH_DIGEST_*`` and, when set, ``SYNTHWATCH_SMTP_*``."""
        env = os.environ if environ is None else environ
        configured = env.get("SYNTHWATCH_SMTP_HOST") and env.get("SYNTHWATCH_SMTP_FROM")
        return cls(
            base_url=base_url_from_env(env),
            schedule=DigestSchedule.from_env(env),
            message_id_domain=message_id_domain(env),
            smtp=SmtpSettings.from_env(env) if configured else None,
        )


def message_id_domain(environ: Mapping[str, str] | None = None) -> str:
    """Return the domain of the digest's Message-IDs: the sender's, else a reserved one."""
    env = os.environ if environ is None else environ
    address = parseaddr(env.get("SYNTHWATCH_SMTP_FROM", ""))[1]
    domain = address.rpartition("@")[2].strip().lower()
    if domain and all(c.isalnum() or c in ".-" for c in domain):
        return domain
    return FALLBACK_MESSAGE_ID_DOMAIN


def check_address(value: str, *, what: str) -> str:
    """Return an e-mail address (optionally with a display name) or raise naming ``what``.

    Deliberately strict: one ASCII address, no line breaks or commas, a dot in the domain (or
    ``localhost``), so a value can never add a header or a second recipient.
    """
    _name, address = parseaddr(value)
    local, _, domain = address.rpartition("@")
    # Non-ASCII addresses need SMTPUTF8, which the digest does not use.
    bad = any(c in value for c in "\r\n,;") or not address.isascii()
    bad = bad or any(ord(c) < 0x20 for c in value)
    if bad or not local or not domain or " " in address:
        raise SettingsError(f"{what} {value!r} is not one e-mail address such as ops@example.org")
    if "." not in domain and domain != "localhost":
        raise SettingsError(f"{what} {value!r}: the domain {domain!r} has no dot")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name) or str(default)
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise SettingsError(f"{name} {text!r} must be a whole number in [{low}, {high}]")
    return value


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    text = (env.get(name) or "").strip().lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise SettingsError(f"{name} {text!r} must be 1 or 0 (true/false, yes/no, on/off)")
