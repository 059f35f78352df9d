"""Context cues govern their block: boilerplate and one benign card cancel no other offer."""

from __future__ import annotations

import pytest

from nlp import analyse

OFFERS = {
    "sidebar": (
        "Home | Shop | Testing kits | FAQ\nIsotonitazene 1g $95 - Wickr: iso_depot\n"
        "Metonitazene 1g $110 - stealth shipping"
    ),
    "naloxone-card": (
        "Carfentanil 1g $200 - Telegram @carf_x\nNaloxone nasal spray, 2 pack $40\n"
        "Metonitazene 5g $250 - stealth shipping"
    ),
    "systematic": "A systematic investigation of our route gives 99.8% purity. Bromazolam 5g €70",
}
GENUINE = {
    "news": (
        "Police seized 12 kg of fentanyl powder, officials said.\n"
        "Prosecutors said the pills were sold for $10 each through Telegram channels."
    ),
    "harm-reduction": (
        "Fentanyl is showing up in pressed pills.\nCarry naloxone, never use alone, and test "
        "with fentanyl test strips.\nFree kits: message us on Signal."
    ),
    "pharmacy": (
        "Lorazepam (Ativan) 1mg tablets: each tablet contains 1 mg lorazepam.\n"
        "Prescription-only medicine. Talk to your doctor about side effects."
    ),
}


@pytest.mark.parametrize("name", sorted(OFFERS))
def test_a_benign_block_cancels_no_offer_elsewhere(name: str) -> None:
    analysis = analyse(OFFERS[name])
    assert analysis.offer, analysis.reasons


def test_scoped_out_cues_are_shown_at_no_weight() -> None:
    reasons = analyse(OFFERS["sidebar"]).reasons
    shown = [r for r in reasons if "harm reduction" in r.text]
    assert shown and all(r.weight == 0.0 for r in shown)


@pytest.mark.parametrize("name", sorted(GENUINE))
def test_genuine_context_pages_stay_unflagged(name: str) -> None:
    assert not analyse(GENUINE[name]).offer


def test_non_prefix_makes_no_mention() -> None:
    assert analyse("non-morphine painkiller, 20 tablets $5").mentions == ()
