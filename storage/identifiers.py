"""Identifiers in indicators that tie listings together: handles, phones, e-mails, wallets.

An indicator's ``value`` is normalised by extraction, but for a contact it may name only the
channel ("wickr"), with the handle itself in the matched ``text`` ("Wickr: ChemKing"). So the key
is built from both: the same seller written two ways gives the same key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Indicator kinds that can carry an identifier of a person or an account.
IDENTIFIER_KINDS = ("contact", "phone", "email", "payment", "wallet")

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?\d[\d \-().]{6,18}\d")
_LINK = re.compile(r"(?:https?://)?(t\.me|telegram\.me|wa\.me)/([A-Za-z0-9_]{3,})", re.I)
_HANDLE = re.compile(r"@?([A-Za-z0-9_][A-Za-z0-9_.\-]{2,39})")
# Bitcoin (base58 and bech32), Ethereum and Monero addresses, as extraction validates them.
_WALLET = re.compile(
    r"\b((?i:bc1[a-z0-9]{20,80})|[13][a-km-zA-HJ-NP-Z1-9]{25,34}|0x[0-9a-fA-F]{40}"
    r"|[48][0-9AB][1-9A-HJ-NP-Za-km-z]{93})\b"
)
_CHANNEL_WORDS = re.compile(
    r"(?P<ch>wickr(?:[ ]?me)?|telegram|whats[ ]?app|signal|threema|session|wechat|skype|kik"
    r"|snapchat|icq|viber|jabber|xmpp)(?:[ ]?(?:id|username|user|handle|number|no\.?))?[ ]?"
    r"[:=\-]?[ ]?",
    re.I,
)
_CHANNEL_ALIASES = {"wickrme": "wickr", "xmpp": "jabber"}
_LINK_CHANNELS = {"t.me": "telegram", "telegram.me": "telegram", "wa.me": "whatsapp"}


@dataclass(frozen=True, slots=True)
class Identifier:
    """A normalised identifier: what it is (``handle``, ``phone``, ``email``, ``wallet``)."""

    kind: str
    key: str

    def __str__(self) -> str:
        return self.key


def identifier_of(kind: str, value: str, text: str) -> Identifier | None:
    """Return the identifier an indicator carries, or None when it names none."""
    if kind not in IDENTIFIER_KINDS:
        return None
    for candidate in (value, text):
        found = _from_text(kind, candidate or "")
        if found is not None:
            return found
    return None


def _from_text(kind: str, text: str) -> Identifier | None:
    text = text.strip()
    if not text:
        return None
    wallet = _WALLET.search(text)
    if wallet:
        address = wallet.group(1)
        # Hex and bech32 addresses are case-insensitive; base58 ones are not.
        if address.lower().startswith(("0x", "bc1")):
            address = address.lower()
        return Identifier("wallet", address)
    if kind in ("payment", "wallet"):
        return None
    email = _EMAIL.search(text)
    if email:
        return Identifier("email", email.group(0).lower())
    link = _LINK.search(text)
    if link:
        channel = _LINK_CHANNELS[link.group(1).lower()]
        return Identifier("handle", f"{channel}:{link.group(2).lower()}")
    words = _CHANNEL_WORDS.match(text)
    if words:
        channel = words.group("ch").lower().replace(" ", "")
        channel, rest = _CHANNEL_ALIASES.get(channel, channel), text[words.end() :].strip()
    elif kind == "phone":
        channel, rest = "phone", text
    else:
        return None  # no channel word in front: nothing says this is a handle
    phone = _PHONE.fullmatch(rest)
    if phone:
        digits = re.sub(r"\D", "", phone.group(0))
        return Identifier("phone", ("+" if phone.group(0).startswith("+") else "") + digits)
    handle = _HANDLE.fullmatch(rest)
    if handle:
        # A handle at the end of a sentence keeps the full stop in the indicator's text.
        name = handle.group(1).rstrip(".-").lower()
        return Identifier("handle", f"{channel}:{name}") if len(name) >= 3 else None
    return None
