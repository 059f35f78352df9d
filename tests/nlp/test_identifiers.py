"""Identifier keys: one spelling per handle, phone, e-mail and wallet, from text and stored rows."""

from __future__ import annotations

import pytest

from nlp import analyse, identifier_key, key_kind

BECH32 = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"  # BIP-173 example
SESSION = "05" + "ab" * 32


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("Wickr: ChemKing", "wickr:chemking"),
        ("Wickr me ID: ChemKing", "wickr:chemking"),
        ("Telegram @Chem_King.", "telegram:chem_king"),
        ("t.me/Chem_King", "telegram:chem_king"),
        ("Threema ID X7Y8Z9AB", "threema:x7y8z9ab"),
        ("contact us on wickr at chemking", "wickr:chemking"),
        ("WhatsApp +44 7700 900123", "phone:+447700900123"),
        ("call +44 7700 900123", "phone:+447700900123"),
        ("wa.me/447700900123", "phone:+447700900123"),
        ("mail Sales@Shop.Example", "email:sales@shop.example"),
        (f"Session: {SESSION}", f"session:{SESSION}"),
        (f"BTC: {BECH32.upper()}", f"btc:{BECH32}"),
        ("send to 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", "btc:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
    ],
)
def test_the_pipeline_keys_identifiers(text: str, key: str) -> None:
    keys = [i.key for i in analyse(text).indicators if i.key]
    assert keys == [key]


@pytest.mark.parametrize(
    "text", ["message us on Signal", "contact me on whatsapp", "we take BTC", "$120, 5 g"]
)
def test_indicators_naming_no_identifier_have_no_key(text: str) -> None:
    indicators = analyse(text).indicators
    assert indicators and all(i.key is None for i in indicators)


def test_identifier_key_agrees_with_the_pipeline() -> None:
    text = f"Wickr: Chem_King | +44 7700 900123 | shop@example.com | BTC {BECH32}"
    for indicator in analyse(f"call {text}").indicators:
        assert identifier_key(indicator.kind, indicator.text, indicator.value) == indicator.key


@pytest.mark.parametrize(
    ("kind", "value", "text", "key"),
    [
        # Stored rows the storage migration backfills (cases of storage.identifiers).
        ("contact", "wickr", "wickr: chemking", "wickr:chemking"),
        ("contact", "telegram", "Telegram @Chem_King", "telegram:chem_king"),
        ("contact", "telegram:@chemking", "", "telegram:chemking"),
        ("contact", "whatsapp", "WhatsApp +1 (555) 123-4567", "phone:+15551234567"),
        ("phone", "+15551234567", "call 555 123 4567", "phone:+15551234567"),
        ("wallet", f"BTC:{BECH32}", "", f"btc:{BECH32}"),
        (
            "payment",
            "ETH",
            "0xDE0B295669a9FD93d5F28D9Ec85E40f4cb697BAe",
            "eth:0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae",
        ),
        ("contact", "signal", "Signal: " + "x" * 50, "signal:" + "x" * 50),  # past 40 chars
        ("payment", "BTC", "we take BTC", None),
        ("contact", "wickr", "wickr", None),
        ("price", "USD 120", "$120", None),
        ("shipping", "stealth", "stealth shipping", None),
    ],
)
def test_identifier_key_of_stored_rows(kind: str, value: str, text: str, key: str | None) -> None:
    assert identifier_key(kind, text, value) == key


def test_hidden_characters_do_not_split_a_key() -> None:
    assert identifier_key("contact", "Wickr: Chem\u200bKing", "wickr") == "wickr:chemking"


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("phone:+12025550143", "phone"),
        ("email:sales@shop.example", "email"),
        ("btc:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "wallet"),
        ("eth:0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae", "wallet"),
        ("xmr:4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx", "wallet"),
        ("wickr:chemking", "handle"),
        ("session:05" + "ab" * 32, "handle"),
        ("telegram:chem_king", "handle"),
    ],
)
def test_a_key_prefix_says_what_it_names(key: str, kind: str) -> None:
    assert key_kind(key) == kind
