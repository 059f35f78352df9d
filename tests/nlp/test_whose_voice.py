"""Who speaks and what is sold: buyers, complainers, researchers and merchandise are no seller.

Each case pairs a kind that read as an offer (or hid one) with the offer it must not become or
must stay; texts are invented for this file.
"""

from __future__ import annotations

import pytest

from nlp import analyse
from nlp.indicators import prices_and_quantities
from nlp.normalise import Normaliser

NOT_OFFERS = {
    "wanted": "who can ship to Portugal? looking to buy 5g of 4-MMC, dm me on telegram",
    "complaint": (
        "Stay away from 'NordLab': paid for 2g of etizolam, it never arrived and they stopped "
        "replying. $90 gone."
    ),
    "research": (
        "Methods: we crawled 230 listings of nitazene analogues from 19 shops. Results: the "
        "median price was $60 per gram; protonitazene was offered most."
    ),
    "merchandise": "Mephedrone Summer \u2013 hardcover, 240 pages, signed by the author. £18",
    "merchandise-print": "'Fentanyl Skies' giclee print, 50x70 cm, edition of 30 \u2013 $120",
    "supply-refused": (
        "Solvents and glassware, bulk stock. We do not sell scheduled drugs or precursors such "
        "as NPP or 4-ANPP."
    ),
    "description-governs": (
        "Zolpidem 10mg tablets £12\nPrescription-only medicine: our prescriber reviews a free "
        "online consultation before anything is dispensed."
    ),
    "business-name": "Carfentenil Garden Centre \u2013 roses and shrubs £8.99, delivery Saturdays",
    "hyphenated": "Coke-bottle glasses, vintage 1970s frames, £25 each, message us on WhatsApp",
    "the-name-counted": "Handmade candle bars, cedar scent, 3 bars for $15, free shipping",
    "law-firm": (
        "Accused of supplying ketamine? Our defence lawyers can help.\n"
        "Fixed fee from $1,800, call +1 555 0163"
    ),
    "clinic": (
        "Harbour Lane Recovery\nInpatient detox for fentanyl and oxycodone dependence\n"
        "14 days from $6,200, insurance accepted"
    ),
    "vet": "Veterinary clinic bill: ketamine sedation and aftercare, total $280",
    "collectible": "Antique tin labelled 'Cocaine Toothache Drops', empty, collector's item, $95",
    "tapestry": "'Mephedrone molecule' tapestry 120x150 cm | $34 | free shipping",
}
OFFERS = {
    "menu-with-emoji-lines": (
        "💎 PRICE LIST 💎\n❄️ crystal meth 1g \u2013 70$\n💊 Oxycodone 30mg \u2013 25$ each\n"
        "🙏 be safe, start low, never use alone 🙏"
    ),
    "price-on-request": "Protonitazene powder, 99% purity, price on request, worldwide delivery",
    "glued-bracket": "2C-B(pink tabs)x20 €60 tracked",
    "zloty": "Alprazolam 2mg \u2013 30 tabletek 150 zł, wysyłka 24h",
    "pills-by-name": "xtc pills, 100 for €250, stamp Tesla, fast post",
    "z-drug": "Zopiclone 7.5mg, 84 tablets £60, no prescription needed, next day",
}


@pytest.mark.parametrize("name", sorted(NOT_OFFERS))
def test_look_alikes_are_not_offers(name: str) -> None:
    analysis = analyse(NOT_OFFERS[name])
    assert not analysis.offer, analysis.reasons


@pytest.mark.parametrize("name", sorted(OFFERS))
def test_offers_stay_offers(name: str) -> None:
    analysis = analyse(OFFERS[name])
    assert analysis.offer, analysis.reasons


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (NOT_OFFERS["wanted"], "wanted"),
        (NOT_OFFERS["complaint"], "complaint"),
        (NOT_OFFERS["research"], "research"),
        (NOT_OFFERS["merchandise"], "merchandise"),
        (NOT_OFFERS["description-governs"], "medical"),
    ],
)
def test_each_kind_is_a_named_reason(text: str, kind: str) -> None:
    analysis = analyse(text)
    assert kind in analysis.context
    assert any(r.weight < 0 for r in analysis.reasons if "cancels" in r.text or r.weight < 0)


def test_a_seller_page_keeps_its_offers_beside_a_buyers_line() -> None:
    text = (
        "Etizolam 1mg x 100 €40 - Wickr: calm_depot\nBromazolam 1mg x 100 €45 - stealth\n"
        "Reseller? anyone know a good courier to Malta, tell us"
    )
    assert analyse(text).offer


def test_a_harm_reduction_reply_cancels_no_vendors_post() -> None:
    text = (
        "Thread: pressed oxys, Leeds\nPost by vendor_x: 200 M30s in, $8 each, DM me\n"
        "Reply by a moderator: free fentanyl test strips at the drop-in centre, stay safe"
    )
    assert analyse(text).offer


def test_misspelt_names_in_a_product_title_still_count() -> None:
    analysis = analyse("Isotonitazine Powder 1g $120, Telegram @iso_lab_x")
    assert analysis.offer, analysis.reasons
    assert analysis.mentions[0].concept_id == "isotonitazene"


def test_line_breaks_survive_an_emoji_at_a_line_start() -> None:
    assert Normaliser(frozenset())("🔥 menu\n❄️ one\n💊 two").text.count("\n") == 2


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100 pln", "PLN 100"),
        ("cena 120 zł", "PLN 120"),
        ("chf 40", "CHF 40"),
        ("900 czk", "CZK 900"),
    ],
)
def test_more_currencies(text: str, value: str) -> None:
    assert [h.value for h in prices_and_quantities(text) if h.kind == "price"] == [value]


def test_words_that_are_also_codes_count_only_after_an_amount() -> None:
    assert not [h for h in prices_and_quantities("try 2 pills") if h.kind == "price"]
    assert [h.value for h in prices_and_quantities("50 try") if h.kind == "price"] == ["TRY 50"]


@pytest.mark.parametrize(
    "text",
    [
        "Ketamine-assisted therapy clinic: 6 sessions from $2,400, book a consultation",
        "Our pharmacy dispenses oxycodone only against a valid prescription. Delivery £5",
        "Documentary: 'Fentanyl Highway' on Blu-ray, $19.99, free shipping",
        "Looking for a plug for molly in Bristol, will pay £40 a g, DM me",
        "History of methamphetamine: from Pervitin to Breaking Bad, a lecture, tickets €12",
    ],
)
def test_services_media_events_and_buyers_are_not_offers(text: str) -> None:
    assert not analyse(text).offer, analyse(text).reasons


def test_a_vendors_plug_pitch_is_no_buyer() -> None:
    text = "Looking for a plug? MDMA 84% crystals 1g £40, UK tracked, Signal: +44 7700 900417"
    assert analyse(text).offer


def test_a_seller_vouching_for_itself_is_no_complaint() -> None:
    text = "Legit vendor, no scam, not a scammer. Carfentanil 1g $200, escrow, Wickr: carf_x"
    analysis = analyse(text)
    assert analysis.offer, analysis.reasons
    assert "complaint" not in analysis.context
