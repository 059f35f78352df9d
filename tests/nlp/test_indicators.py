"""Indicators: each kind found with a normalised value and offsets into the original text."""

from __future__ import annotations

import pytest

from nlp import NlpDataError, analyse
from nlp.cues import parse_cues


def _indicators(text: str, kind: str) -> list[tuple[str, str]]:
    """(original text at the indicator's offsets, value) for each indicator of `kind`."""
    return [(text[i.start : i.end], i.value) for i in analyse(text).indicators if i.kind == kind]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("5g", [("5g", "5 g")]),
        ("100 g", [("100 g", "100 g")]),
        ("1 kg", [("1 kg", "1 kg")]),
        ("2.5 Kilos", [("2.5 Kilos", "2.5 kg")]),
        ("10 pills", [("10 pills", "10 pills")]),
        ("250 tabs and 5 blotters", [("250 tabs", "250 tablets"), ("5 blotters", "5 blotters")]),
        ("1,000 pcs", [("1,000 pcs", "1000 pieces")]),
        ("200mcg", [("200mcg", "200 mcg")]),
        ("\uff15\uff47", [("\uff15\uff47", "5 g")]),  # full-width
        ("24 hours and 3 days", []),
    ],
)
def test_quantity(text: str, found: list[tuple[str, str]]) -> None:
    assert _indicators(text, "quantity") == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("$120", [("$120", "USD 120")]),
        ("120 USD", [("120 USD", "USD 120")]),
        ("\u20ac80/g", [("\u20ac80/g", "EUR 80/g")]),
        ("USD 1,200", [("USD 1,200", "USD 1200")]),
        ("\u00a3 24,500 a year", [("\u00a3 24,500", "GBP 24500")]),
        ("$50 per gram", [("$50 per gram", "USD 50/g")]),
        ("USD 1-10 / Kilogram", [("USD 1-10 / Kilogram", "USD 1-10/kg")]),
        ("0.05 BTC", [("0.05 BTC", "BTC 0.05")]),
        ("45 euros", [("45 euros", "EUR 45")]),
        ("priced at 120", []),
    ],
)
def test_price(text: str, found: list[tuple[str, str]]) -> None:
    assert _indicators(text, "price") == found


def test_a_price_per_unit_is_not_also_a_quantity() -> None:
    assert _indicators("\u20ac80/g", "quantity") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Ships worldwide", "worldwide"),
        ("worldwide shipping", "worldwide"),
        ("stealth", "stealth"),
        ("discreet packaging", "discreet"),
        ("express courier", "express"),
        ("tracking number provided", "tracking"),
        ("free reship policy", "reship"),
        ("100% customs clearance", "delivery_guarantee"),
        ("via DHL", "courier"),
    ],
)
def test_shipping(text: str, value: str) -> None:
    assert [v for _, v in _indicators(text, "shipping")] == [value]


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("Wickr: h1a2b3c", [("Wickr: h1a2b3c", "wickr")]),
        ("wickr me - plug_77", [("wickr me - plug_77", "wickr")]),
        ("Telegram @h4d5e6", [("Telegram @h4d5e6", "telegram")]),
        ("WhatsApp +44 7700 900123", [("WhatsApp +44 7700 900123", "whatsapp")]),
        ("Signal: +1 555 010 9999", [("Signal: +1 555 010 9999", "signal")]),
        ("t.me/chem_shop", [("t.me/chem_shop", "telegram")]),
        ("mail sales@chem-example.org", [("sales@chem-example.org", "email")]),
        # A channel named without a handle is a contact too (issue 10), with no key.
        ("contact us on telegram for prices", [("telegram", "telegram")]),
        ("Threema ID X7Y8Z9AB", [("Threema ID X7Y8Z9AB", "threema")]),
        ("contact us on wickr at chem_king", [("wickr at chem_king", "wickr")]),
    ],
)
def test_contact(text: str, found: list[tuple[str, str]]) -> None:
    assert _indicators(text, "contact") == found


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("for sale", "sale", "for_sale"),
        ("in stock", "sale", "in_stock"),
        ("MOQ: 1 kg", "bulk", "moq"),
        ("minimum order quantity", "bulk", "moq"),
        ("wholesale prices", "bulk", "wholesale"),
        ("payment in Monero", "payment", "crypto"),
        ("Western Union accepted", "payment", "money_transfer"),
        ("pressed M30s", "pill_press", "pressed"),
        ("we relabel as cosmetics", "relabel", "relabel"),
        ("warehouse in Poland", "shipping", "warehouse"),
        ("Purity: 99.5%", "purity", "99.5%"),
        ("99% pure", "purity", "99%"),
        ("COA available", "purity", "coa"),
        ("HPLC", "purity", "hplc"),
        ("research chemical", "disclaimer", "research_chemical"),
        ("Not for human consumption", "disclaimer", "not_for_human_consumption"),
    ],
)
def test_sale_purity_and_disclaimer(text: str, kind: str, value: str) -> None:
    assert [v for _, v in _indicators(text, kind)] == [value]


@pytest.mark.parametrize(
    "text",
    ["The marketplace does not list controlled precursors for sale.", "We don't ship worldwide."],
)
def test_negated_sale_and_shipping_terms_do_not_count(text: str) -> None:
    kinds = {i.kind for i in analyse(text).indicators}
    assert not kinds & {"sale", "shipping"}


def test_obfuscated_mentions_are_indicators() -> None:
    text = "Acetyl-F3ntanyl and C\u200barfentanil"
    assert _indicators(text, "obfuscation") == [
        ("Acetyl-F3ntanyl", "leetspeak"),
        ("C\u200barfentanil", "zero_width"),
    ]


def test_indicator_offsets_survive_normalisation_before_them() -> None:
    text = "m e t o n i t a z e n e \u200b\uff15\uff47 for \u20ac80/g, Wickr: h1a2b3c"
    assert _indicators(text, "price") == [("\u20ac80/g", "EUR 80/g")]
    assert _indicators(text, "contact") == [("Wickr: h1a2b3c", "wickr")]
    assert _indicators(text, "quantity") == [("\uff15\uff47", "5 g")]


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("[indicators.teleport]\nx = ['beam']", "unknown indicator kind"),
        ("[context]\ngossip = ['rumour']", "unknown context kind"),
        ("[indicators.sale]\nx = ['sale (unclosed']", "bad regex"),
        ("[indicators.sale]\nx = ['for (sale)']", "not capturing groups"),
        ("[indicators.sale]\nx = ['For Sale']", "must be lowercase"),
        ("[indicators.sale]\nx = ['%off']", "must start with a letter or digit"),
        ("[context]\nmedical = ['(?:\\\\w+-)?assisted']", "whose every alternative does"),
        ("[unknown]\nx = 1", "unknown section"),
    ],
)
def test_broken_cues_fail_clearly(raw: str, problem: str) -> None:
    with pytest.raises(NlpDataError, match=problem) as error:
        parse_cues(raw, "cues.toml")
    assert str(error.value).startswith("cues.toml: ")


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("call +44 7700 900123 today", [("+44 7700 900123", "+447700900123")]),
        ("ref +44 7700 900123", []),  # a reserved range counts only after a phone word
        ("office +49 151 23456789", [("+49 151 23456789", "+4915123456789")]),  # a valid number
        ("order 2024-000123", []),
    ],
)
def test_phone(text: str, found: list[tuple[str, str]]) -> None:
    assert _indicators(text, "phone") == found


def test_a_messenger_number_is_a_contact_not_also_a_phone() -> None:
    text = "WhatsApp +44 7700 900123"
    assert _indicators(text, "contact") == [(text, "whatsapp")]
    assert _indicators(text, "phone") == []


@pytest.mark.parametrize(
    ("text", "found"),
    [
        (
            "Session ID: 05d871e4f5a6b7c8d9e0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7",
            "session",
        ),
        ("0538a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f", "session"),
        ("Threema ID: K7XW2P9Q", "threema"),
        ("WeChat: cannachem2024", "wechat"),
        ("orders@vape-lab.example.com", "email"),
    ],
)
def test_more_contact_channels(text: str, found: str) -> None:
    assert [v for _, v in _indicators(text, "contact")] == [found]


def test_a_handle_is_not_mistaken_for_leetspeak() -> None:
    text = "Telegram @npp_chemlab"  # "@npp" must not become "anpp"
    assert _indicators(text, "contact") == [(text, "telegram")]
    assert analyse(text).mentions == ()
