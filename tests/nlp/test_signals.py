"""Typed page signals: structure the crawler found becomes named, weighted reasons."""

from __future__ import annotations

from nlp import Analyser, PageSignals, analyse, analyse_many
from nlp.scoring import load_weights
from nlp.signals import SIGNAL_KINDS

TEXT = "Protonitazene HCl, white crystalline powder."


def test_signals_are_built_from_plain_values() -> None:
    signals = PageSignals.of(
        offer_price=49.9, offer_currency=" USD ", availability="", add_to_cart=1
    )
    assert signals == PageSignals(
        jsonld_offer=True, offer_price="49.9", offer_currency="USD", add_to_cart=True
    )
    assert not signals.in_stock
    assert PageSignals.of(availability="https://schema.org/InStock").in_stock
    assert not PageSignals.of(availability="https://schema.org/OutOfStock").in_stock


def test_every_signal_kind_has_a_weight() -> None:
    assert set(load_weights().signals) == set(SIGNAL_KINDS)


def test_signals_make_a_bare_product_text_an_offer() -> None:
    assert not analyse(TEXT).offer
    signals = PageSignals.of(offer_price="120", offer_currency="USD", add_to_cart=True)
    analysis = analyse(TEXT, signals)
    assert analysis.offer
    texts = [r.text for r in analysis.reasons]
    assert "page carries a schema.org Offer priced USD 120" in texts
    assert "page has an add-to-cart form" in texts
    assert all(r.weight > 0 for r in analysis.reasons if r.text.startswith("page "))


def test_signals_do_not_make_an_offer_without_a_substance() -> None:
    signals = PageSignals.of(offer_price="9.50", availability="InStock", add_to_cart=True)
    assert not analyse("Ceramic coffee mug, 350 ml.", signals).offer


def test_the_batch_api_takes_texts_and_pairs() -> None:
    signals = PageSignals.of(price_field="$140")
    offers = [a.offer for a in analyse_many([TEXT, (TEXT, signals), (TEXT, None)])]
    assert offers == [False, True, False]
    assert Analyser().analyse(TEXT, signals).offer
