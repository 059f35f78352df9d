"""The digest as an e-mail: a MIME message built from an outbox row, and its SMTP delivery.

The message is a pure function of the row and the sender: Message-ID, Date (the row's creation),
subject, both parts and the MIME boundaries are all fixed, so a resend after a crash is the same
message, byte for byte. The chart travels in the stored HTML as a ``data:`` URI (the preview
shows it that way); here it becomes an inline ``image/png`` part referenced by ``cid:``, as
mail clients block ``data:`` images.

Structure: ``multipart/alternative`` of ``text/plain`` and ``multipart/related`` (``text/html``
plus the inline PNG). Both text parts are quoted-printable, which never leaves two ``=`` in a
row in the body, so the ``==``-framed boundaries can't be forged by anything a listing says.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime

from review.digest.settings import SmtpSettings
from storage.models import DigestMessage

log = logging.getLogger(__name__)

# Only our own template writes this exact attribute: escaped text has no bare quote.
_DATA_IMAGE = re.compile(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"')

Step = Callable[[str], None]
# Headers are not folded (a subject of 80 characters would otherwise move whole to a second
# line, and some clients then show it with a leading space); the bodies were encoded to
# 76-character quoted-printable lines when set, and are written as they are.
_WIRE = policy.SMTP.clone(max_line_length=998)


@dataclass(frozen=True, slots=True)
class SmtpOutcome:
    """How the server answered one message: ``accepted``, ``transient`` or ``permanent``."""

    kind: str
    reply: str

    @property
    def accepted(self) -> bool:
        """Say whether the server took responsibility for the message."""
        return self.kind == "accepted"


def build_message(row: DigestMessage, *, sender: str) -> EmailMessage:
    """Return the MIME message of an outbox row; the same row gives the same bytes."""
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = row.subject
    message["From"] = sender
    message["To"] = row.email
    message["Date"] = format_datetime(row.created_at)
    message["Message-ID"] = row.message_id
    message["Auto-Submitted"] = "auto-generated"
    message["X-SynthWatch-Digest"] = f"{row.week}{' late' if row.late else ''}"
    message.set_content(row.body_text, subtype="plain", cte="quoted-printable")
    html, images = inline_images(row.body_html, row.message_id)
    message.add_alternative(html, subtype="html", cte="quoted-printable")
    html_part = message.get_body(preferencelist=("html",))
    assert isinstance(html_part, EmailMessage)
    for cid, png in images:
        html_part.add_related(png, maintype="image", subtype="png", cid=f"<{cid}>")
    for number, part in enumerate(message.walk()):
        if part.is_multipart():
            part.set_boundary(_boundary(row.message_id, number))
    return message


def message_bytes(row: DigestMessage, *, sender: str) -> bytes:
    """Return the message of an outbox row as it goes over the wire (CRLF line ends)."""
    return build_message(row, sender=sender).as_bytes(policy=_WIRE)


def inline_images(html: str, message_id: str) -> tuple[str, list[tuple[str, bytes]]]:
    """Replace the HTML's ``data:`` PNGs by ``cid:`` references; return the HTML and the images."""
    images: list[tuple[str, bytes]] = []
    local, _, domain = message_id.strip("<>").partition("@")

    def replace(match: re.Match[str]) -> str:
        try:
            png = base64.b64decode(match[1], validate=True)
        except binascii.Error:
            return match[0]
        cid = f"chart{len(images) + 1}.{local}@{domain}"
        images.append((cid, png))
        return f'src="cid:{cid}"'

    return _DATA_IMAGE.sub(replace, html), images


def _boundary(message_id: str, number: int) -> str:
    digest = hashlib.sha256(f"{message_id}/{number}".encode()).hexdigest()[:32]
    return f"==synthwatch-{digest}=="


# ---------------------------------------------------------------- SMTP


class SmtpTransport:
    """Hand one message at a time to the configured server, one connection per message.

    ``step`` is called with ``connect``, ``rcpt`` and ``accepted`` as the conversation gets
    there (debug logging by default; the tests use it to stop the process at those points).
    """

    def __init__(self, settings: SmtpSettings, *, ssl_context: ssl.SSLContext | None = None):
        self.settings = settings
        self.ssl_context = ssl_context

    def send(self, recipient: str, message: bytes, *, step: Step | None = None) -> SmtpOutcome:
        """Send ``message`` to ``recipient``; classify the server's answer.

        Failures before MAIL FROM (connection, TLS, authentication) are about our setup, not
        this message: they are transient, so the message waits until the setup is fixed. A 5xx
        to MAIL, RCPT or DATA is permanent. A connection lost after the message was sent is
        transient too: the server may have it, and the resend carries the same Message-ID.
        """
        step = step or _log_step
        settings = self.settings
        step("connect")
        try:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
        except smtplib.SMTPResponseException as error:
            return SmtpOutcome("transient", _reply(error.smtp_code, error.smtp_error))
        except (OSError, smtplib.SMTPException) as error:
            return SmtpOutcome("transient", f"{type(error).__name__}: {error}")
        try:
            try:
                self._start(smtp)
            except smtplib.SMTPResponseException as error:
                return SmtpOutcome("transient", _reply(error.smtp_code, error.smtp_error))
            except (OSError, smtplib.SMTPException) as error:
                return SmtpOutcome("transient", f"{type(error).__name__}: {error}")
            try:
                code, text = smtp.mail(settings.sender_address)
                if code != 250:
                    return _refused(code, text)
                code, text = smtp.rcpt(recipient)
                if code not in (250, 251):
                    return _refused(code, text)
                step("rcpt")
                code, text = smtp.data(message)
            except smtplib.SMTPResponseException as error:
                return _refused(error.smtp_code, error.smtp_error)
            except UnicodeError as error:
                return SmtpOutcome("permanent", f"not sent: {error}")
            except (OSError, smtplib.SMTPException) as error:
                return SmtpOutcome("transient", f"{type(error).__name__}: {error}")
            if code != 250:
                return _refused(code, text)
            step("accepted")
            _quit(smtp)
            return SmtpOutcome("accepted", _reply(code, text))
        finally:
            # Closing without QUIT when anything went wrong: the server drops an unfinished
            # transaction with the connection.
            smtp.close()

    def _start(self, smtp: smtplib.SMTP) -> None:
        settings = self.settings
        smtp.ehlo()
        if settings.starttls:
            context = self.ssl_context or ssl.create_default_context(cafile=settings.ca_file)
            smtp.starttls(context=context)
            smtp.ehlo()
        if settings.user:
            smtp.login(settings.user, settings.password or "")


def _refused(code: int, text: bytes | str) -> SmtpOutcome:
    kind = "permanent" if 500 <= code < 600 else "transient"
    return SmtpOutcome(kind, _reply(code, text))


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}"[:1000]


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (OSError, smtplib.SMTPException):
        log.debug("QUIT failed after the message was accepted; it is delivered all the same")


def _log_step(name: str) -> None:
    log.debug("smtp: %s", name)
