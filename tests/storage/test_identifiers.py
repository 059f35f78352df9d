"""Identifiers that tie listings together, read the same however a seller writes them."""

from __future__ import annotations

import pytest

from storage.identifiers import Identifier, identifier_of


@pytest.mark.parametrize(
    ("kind", "value", "text", "expected"),
    [
        ("contact", "wickr", "wickr: chemking", Identifier("handle", "wickr:chemking")),
        ("contact", "wickr", "Wickr me ID: ChemKing", Identifier("handle", "wickr:chemking")),
        ("contact", "telegram", "Telegram @Chem_King", Identifier("handle", "telegram:chem_king")),
        ("contact", "telegram", "t.me/Chem_King", Identifier("handle", "telegram:chem_king")),
        ("contact", "telegram:@chemking", "", Identifier("handle", "telegram:chemking")),
        ("contact", "telegram", "Telegram @chem_king.", Identifier("handle", "telegram:chem_king")),
        (
            "wallet",
            "BTC:bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
            "",
            Identifier("wallet", "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"),
        ),
        ("contact", "email", "mail Sales@Shop.Example", Identifier("email", "sales@shop.example")),
        ("contact", "whatsapp", "WhatsApp +1 (555) 123-4567", Identifier("phone", "+15551234567")),
        ("phone", "+15551234567", "call 555 123 4567", Identifier("phone", "+15551234567")),
        (
            "payment",
            "BTC",
            "send to BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ",
            Identifier("wallet", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
        ),
        (
            "payment",
            "ETH",
            "0xDE0B295669a9FD93d5F28D9Ec85E40f4cb697BAe",
            Identifier("wallet", "0xde0b295669a9fd93d5f28d9ec85e40f4cb697bae"),
        ),
        ("payment", "BTC", "we take BTC", None),
        ("contact", "wickr", "wickr", None),
        ("price", "USD 120", "$120", None),
        ("shipping", "stealth", "stealth shipping", None),
    ],
)
def test_identifiers(kind: str, value: str, text: str, expected: Identifier | None) -> None:
    assert identifier_of(kind, value, text) == expected


def test_base58_wallets_keep_their_case() -> None:
    found = identifier_of("payment", "BTC", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
    assert found == Identifier("wallet", "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2")
