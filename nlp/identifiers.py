"""Identifier keys: the one spelling of a handle, phone, e-mail or wallet that ties listings.

    wickr:chemking   telegram:chem_king   session:05ab...(66 hex)   phone:+447700900123
    email:sales@shop.example   btc:bc1q...   eth:0xde0b...   xmr:4...

Channels and handles are lower-cased, phone numbers are E.164 (digits only where the text
gives no country code), hex and bech32 addresses are lower-cased, base58 ones (Bitcoin
legacy, Monero) keep their case, which is part of the address. The pipeline gives every
indicator its key with `identifier_key`; storage recomputes keys of old rows with it too.
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

from nlp.wallets import find_wallets

# Indicator kinds that can name an identifier of a person or an account.
IDENTIFIER_KINDS: frozenset[str] = frozenset({"contact", "phone", "email", "payment", "wallet"})

CHANNELS: dict[str, str] = {
    "wickr": "wickr", "wickrme": "wickr", "telegram": "telegram", "whatsapp": "whatsapp",
    "signal": "signal", "threema": "threema", "session": "session", "wechat": "wechat",
    "skype": "skype", "kik": "kik", "snapchat": "snapchat", "icq": "icq", "viber": "viber",
    "jabber": "jabber", "xmpp": "jabber",
}  # fmt: skip
CHANNEL_WORDS = (
    r"wickr(?:[ ]?me)?|telegram|whats[ ]?app|signal|threema|session|wechat|skype|kik|snapchat"
    r"|icq|viber|jabber|xmpp"
)
# Session ids are 66 hex digits; other handles are shorter.
HANDLE = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{2,65}"
PHONE = r"\+?\d[\d \-().]{6,18}\d"
ID_WORDS = r"id|username|user|handle|number|no\.?|name"

_EMAIL = re.compile(r"[a-z0-9._%+\-]+@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}", re.I)
_LINK = re.compile(r"(?:https?://)?(t\.me|telegram\.me|wa\.me)/([a-z0-9_+]{3,})", re.I)
_LINK_CHANNELS = {"t.me": "telegram", "telegram.me": "telegram", "wa.me": "whatsapp"}
_SESSION_ID = re.compile(r"(?<![0-9a-f])05[0-9a-f]{64}(?![0-9a-f])", re.I)
_CHANNEL_LEAD = re.compile(
    rf"(?:.*?\b)?(?P<ch>{CHANNEL_WORDS})(?:[ ]?(?:{ID_WORDS}))?[ ]?(?:is[ ]|at[ ]|on[ ])?"
    r"[:=\-]?[ ]?",
    re.I,
)
_PHONE = re.compile(PHONE)
_HANDLE = re.compile(rf"@?({HANDLE})")
_STORED_VALUE = re.compile(rf"(?P<ch>{CHANNEL_WORDS}):@?(?P<handle>{HANDLE})", re.I)
_COINS = {"BTC": "btc", "ETH": "eth", "XMR": "xmr"}
_ETH = re.compile(r"(?<![0-9A-Za-z])0x[0-9a-fA-F]{40}(?![0-9A-Za-z])")


def _clean(text: str) -> str:
    """Fold full-width forms and drop invisible characters a seller may hide a handle with."""
    if text.isascii() and text.isprintable():
        return text.strip()  # NFKC keeps ASCII, whose only Cf/Cc characters are unprintable
    folded = unicodedata.normalize("NFKC", text)
    return "".join(c for c in folded if unicodedata.category(c) not in ("Cf", "Cc")).strip()


def wallet_key(coin: str, address: str) -> str:
    """Return the key of a checked wallet address ("BTC", "bc1q...") -> "btc:bc1q..."."""
    if address.lower().startswith(("0x", "bc1")):
        address = address.lower()  # hex and bech32 are case-insensitive; base58 is not
    return f"{_COINS.get(coin.upper(), coin.lower())}:{address}"


def phone_key(written: str) -> str | None:
    """Return "phone:+<E.164>" for a written number ("+44 7700 900123"), or None."""
    digits = re.sub(r"\D", "", written)
    if not 7 <= len(digits) <= 15:
        return None
    if written.lstrip().startswith("+"):
        try:
            number = phonenumbers.parse(written, None)
        except phonenumbers.NumberParseException:
            return f"phone:+{digits}"
        e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        return f"phone:{e164}"
    return f"phone:{digits}"


def _handle_key(channel: str, rest: str) -> str | None:
    phone = _PHONE.match(rest)
    if phone and (phone.end() == len(rest) or not rest[phone.end()].isalnum()):
        return phone_key(phone.group())
    handle = _HANDLE.match(rest)
    if handle is None:
        return None
    # A handle at the end of a sentence keeps its full stop in the matched text.
    name = handle.group(1).rstrip(".-").lower()
    return f"{channel}:{name}" if len(name) >= 3 else None


def identifier_key(kind: str, text: str, value: str) -> str | None:
    """Return the identifier key an indicator names, from its kind, matched text and value.

    None when it names no identifier ("message us on Signal", "we take BTC", a price).
    """
    if kind not in IDENTIFIER_KINDS:
        return None
    text, value = _clean(text), _clean(value)
    for written in (text, value) if kind in ("wallet", "payment") else (value, text):
        for wallet in find_wallets(written.split(":", 1)[-1] if ":" in written else written):
            return wallet_key(wallet.coin, wallet.address)
        if ":" in written:
            coin, _, address = written.partition(":")
            if coin.upper() in _COINS:
                for wallet in find_wallets(address):
                    return wallet_key(wallet.coin, wallet.address)
    # Stored rows may hold an Ethereum address whose mixed case fails EIP-55: the hex is the
    # address all the same.
    eth = _ETH.search(text) or _ETH.search(value)
    if eth:
        return f"eth:{eth.group().lower()}"
    if kind in ("wallet", "payment"):
        return None
    if kind == "phone":
        return phone_key(value) or phone_key(text)
    email = _EMAIL.search(text) or _EMAIL.search(value)
    if email:
        return f"email:{email.group().lower()}"
    link = _LINK.search(text) or _LINK.search(value)
    if link:
        channel = _LINK_CHANNELS[link.group(1).lower()]
        handle = link.group(2).lower()
        if channel == "whatsapp" and handle.lstrip("+").isdigit():
            return phone_key("+" + handle.lstrip("+"))  # wa.me links give the full number
        return f"{channel}:{handle}"
    session = _SESSION_ID.search(text)
    if session:
        return f"session:{session.group().lower()}"
    stored = _STORED_VALUE.fullmatch(value)
    if stored:
        channel = CHANNELS[stored["ch"].lower().replace(" ", "")]
        return f"{channel}:{stored['handle'].rstrip('.-').lower()}"
    lead = _CHANNEL_LEAD.match(text)
    if lead is None:
        return None
    channel = CHANNELS[lead["ch"].lower().replace(" ", "")]
    return _handle_key(channel, text[lead.end() :])


# What a key's prefix names; any other prefix is the channel of a handle ("wickr:chemking").
_KEY_KINDS = {"phone": "phone", "email": "email", **dict.fromkeys(_COINS.values(), "wallet")}


def key_kind(key: str) -> str:
    """Return what an identifier key names: ``phone``, ``email``, ``wallet`` or ``handle``."""
    return _KEY_KINDS.get(key.partition(":")[0], "handle")
