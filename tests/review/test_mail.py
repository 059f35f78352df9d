"""The digest as a MIME message (fixed bytes, inline chart, clean headers) and its settings."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from review.digest.mail import build_message, inline_images, message_bytes
from review.digest.settings import (
    DigestSchedule,
    DigestSettings,
    SmtpSettings,
    check_address,
    message_id_domain,
)
from review.errors import SettingsError
from storage.models import DIGEST_STATUSES, DigestMessage

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
SENDER = "SynthWatch <digest@synthwatch.example>"
# A listing that tries to close our MIME parts and start its own.
FORGED = "--==synthwatch-0==\r\nContent-Type: text/html\r\n\r\n<script>alert(1)</script>"


def row(**overrides: object) -> DigestMessage:
    values: dict[str, object] = {
        "id": 7,
        "week": "2026-W48",
        "recipient_id": 3,
        "email": "lee@team.example",
        "message_id": "<digest-2026-W48-3@synthwatch.example>",
        "subject": "SynthWatch 2026-W48: 4 new flagged listings",
        "body_text": f"Hello\n{FORGED}\n.\nend",
        "body_html": (
            f"<p>{FORGED.replace('<', '&lt;')}</p>"
            f'<img src="data:image/png;base64,{base64.b64encode(PNG).decode()}" alt="chart">'
        ),
        "late": False,
        "status": "pending",
        "attempts": 0,
        "created_at": datetime(2026, 11, 30, 8, 0, tzinfo=UTC),
    }
    values.update(overrides)
    return DigestMessage(**values)


def parse(data: bytes) -> EmailMessage:
    parsed = message_from_bytes(data, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_the_message_has_both_parts_and_the_chart_inline() -> None:
    message = parse(message_bytes(row(), sender=SENDER))

    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.walk()] == [
        "multipart/alternative",
        "text/plain",
        "multipart/related",
        "text/html",
        "image/png",
    ]
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert FORGED.replace("\r\n", "\n") in text.get_content().replace("\r\n", "\n")
    image = next(p for p in message.walk() if p.get_content_type() == "image/png")
    cid = image["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html.get_content()
    assert "data:image" not in html.get_content()
    assert image.get_content() == PNG
    assert cid.endswith("@synthwatch.example")


def test_the_headers_are_fixed_and_nothing_else() -> None:
    message = build_message(row(late=True), sender=SENDER)

    assert message["Message-ID"] == "<digest-2026-W48-3@synthwatch.example>"
    assert message["Date"] == "Mon, 30 Nov 2026 08:00:00 +0000"
    assert message["To"] == "lee@team.example"
    assert message["From"] == SENDER
    assert message["Subject"] == "SynthWatch 2026-W48: 4 new flagged listings"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["X-SynthWatch-Digest"] == "2026-W48 late"


def test_the_same_row_gives_the_same_bytes() -> None:
    first = message_bytes(row(), sender=SENDER)

    assert message_bytes(row(), sender=SENDER) == first
    assert b"\r\n" in first and b"\n" not in first.replace(b"\r\n", b"")
    # Quoted-printable bodies: a listing's text can't forge our boundaries.
    assert FORGED.encode() not in first
    boundaries = {p.get_boundary() for p in parse(first).walk() if p.is_multipart()}
    assert len(boundaries) == 2 and all(b and b.startswith("==synthwatch-") for b in boundaries)
    assert len(parse(first).get_payload()) == 2  # type: ignore[arg-type]


def test_a_header_value_with_a_line_break_is_refused() -> None:
    with pytest.raises(ValueError):
        message_bytes(row(email="lee@team.example\r\nBcc: all@example.org"), sender=SENDER)


def test_only_our_own_data_uri_becomes_an_inline_image() -> None:
    escaped = "&lt;img src=&#34;data:image/png;base64,AAAA&#34;&gt;"
    html, images = inline_images(f"<p>{escaped}</p>", "<m@x.example>")

    assert (html, images) == (f"<p>{escaped}</p>", [])


def test_smtp_settings_from_the_environment() -> None:
    settings = SmtpSettings.from_env(
        {
            "SYNTHWATCH_SMTP_HOST": "mail.example.org",
            "SYNTHWATCH_SMTP_PORT": "2525",
            "SYNTHWATCH_SMTP_USER": "digest",
            "SYNTHWATCH_SMTP_PASSWORD": "s3cret",
            "SYNTHWATCH_SMTP_FROM": SENDER,
        }
    )

    assert (settings.host, settings.port, settings.starttls) == ("mail.example.org", 2525, True)
    assert settings.sender_address == "digest@synthwatch.example"
    assert "s3cret" not in repr(settings)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "SYNTHWATCH_SMTP_HOST"),
        ({"SYNTHWATCH_SMTP_PORT": "0"}, "SYNTHWATCH_SMTP_PORT"),
        ({"SYNTHWATCH_SMTP_STARTTLS": "maybe"}, "SYNTHWATCH_SMTP_STARTTLS"),
        ({"SYNTHWATCH_SMTP_FROM": "a@b.example, c@d.example"}, "SYNTHWATCH_SMTP_FROM"),
        (
            {"SYNTHWATCH_SMTP_STARTTLS": "0", "SYNTHWATCH_SMTP_USER": "digest"},
            "clear text",
        ),
    ],
)
def test_bad_smtp_settings_are_refused(env: dict[str, str], message: str) -> None:
    base = {"SYNTHWATCH_SMTP_HOST": "mail.example.org", "SYNTHWATCH_SMTP_FROM": SENDER}
    if not env:
        base = {}
    with pytest.raises(SettingsError, match=message):
        SmtpSettings.from_env(base | env)


def test_authentication_without_tls_is_allowed_to_a_local_relay_only() -> None:
    local = SmtpSettings(host="127.0.0.1", sender=SENDER, starttls=False, user="u", password="p")
    assert local.user == "u"


@pytest.mark.parametrize(
    "value", ["ops@example.org", "Ops Team <ops@example.org>", "root@localhost"]
)
def test_good_addresses(value: str) -> None:
    assert check_address(value, what="address") == value


@pytest.mark.parametrize(
    "value", ["", "ops", "ops@example", "a@b.example\nBcc: x@y.example", "a@b.example;c@d.org"]
)
def test_bad_addresses(value: str) -> None:
    with pytest.raises(SettingsError, match="address"):
        check_address(value, what="address")


def test_message_ids_use_the_senders_domain() -> None:
    assert message_id_domain({"SYNTHWATCH_SMTP_FROM": SENDER}) == "synthwatch.example"
    assert message_id_domain({}) == "synthwatch.invalid"


def test_every_setting_and_outbox_state_is_documented() -> None:
    root = Path(__file__).resolve().parents[2]
    readme = (root / "README.md").read_text(encoding="utf-8")
    source = (root / "review" / "digest" / "settings.py").read_text(encoding="utf-8")
    names = set(re.findall(r'"(SYNTHWATCH_[A-Z_]+)"', source))

    assert len(names) >= 10
    assert sorted(n for n in names if f"`{n}`" not in readme) == []
    manual = (root / "docs" / "digest.md").read_text(encoding="utf-8")
    assert [s for s in DIGEST_STATUSES if f"`{s}`" not in manual] == []


def test_a_week_falls_due_on_the_monday_after_at_the_local_hour() -> None:
    week_end = datetime(2026, 11, 30, tzinfo=UTC)  # end of 2026-W48
    berlin = DigestSchedule(hour=7, tz=ZoneInfo("Europe/Berlin"))
    summer_end = datetime(2026, 7, 6, tzinfo=UTC)

    assert berlin.due_at(week_end) == datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    assert berlin.due_at(summer_end) == datetime(2026, 7, 6, 5, 0, tzinfo=UTC)
    # Monday 07:00 in Kiribati is still Sunday in UTC: the next Monday is the first one after.
    kiritimati = DigestSchedule(hour=7, tz=ZoneInfo("Pacific/Kiritimati"))
    assert kiritimati.due_at(week_end) == datetime(2026, 12, 6, 17, 0, tzinfo=UTC)
    new_york = DigestSchedule(hour=23, tz=ZoneInfo("America/New_York"))
    assert new_york.due_at(week_end) == datetime(2026, 12, 1, 4, 0, tzinfo=UTC)


def test_the_schedule_from_the_environment() -> None:
    schedule = DigestSchedule.from_env(
        {"SYNTHWATCH_DIGEST_HOUR": "9", "SYNTHWATCH_DIGEST_TZ": "Europe/Lisbon"}
    )
    assert (schedule.hour, schedule.tz.key) == (9, "Europe/Lisbon")
    assert DigestSchedule.from_env({}).tz.key == "UTC"
    with pytest.raises(SettingsError, match="SYNTHWATCH_DIGEST_TZ"):
        DigestSchedule.from_env({"SYNTHWATCH_DIGEST_TZ": "Mars/Olympus"})
    with pytest.raises(SettingsError, match="SYNTHWATCH_DIGEST_HOUR"):
        DigestSchedule.from_env({"SYNTHWATCH_DIGEST_HOUR": "24"})


def test_the_digest_settings_are_read_at_once() -> None:
    settings = DigestSettings.from_env(
        {
            "SYNTHWATCH_BASE_URL": "https://review.example/",
            "SYNTHWATCH_DIGEST_HOUR": "9",
            "SYNTHWATCH_SMTP_HOST": "mail.example.org",
            "SYNTHWATCH_SMTP_FROM": SENDER,
        }
    )

    assert (settings.base_url, settings.schedule.hour) == ("https://review.example", 9)
    assert settings.message_id_domain == "synthwatch.example"
    assert settings.relay().host == "mail.example.org"


def test_a_preview_needs_no_relay_but_sending_does() -> None:
    settings = DigestSettings.from_env({"SYNTHWATCH_SMTP_HOST": "mail.example.org"})

    assert settings.smtp is None and settings.message_id_domain == "synthwatch.invalid"
    with pytest.raises(SettingsError, match="SYNTHWATCH_SMTP_HOST and SYNTHWATCH_SMTP_FROM"):
        settings.relay()
