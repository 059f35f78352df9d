"""Unknown chemical-looking names beside sale indicators are kept for lexicon curation."""

from __future__ import annotations

from nlp import Candidate, analyse
from nlp.candidates import CandidateTally


def _terms(text: str) -> list[str]:
    return [c.term for c in analyse(text).candidates]


def test_unknown_names_beside_a_price_are_candidates() -> None:
    text = "New: 2-(4-chlorophenyl)-tryptamine 10 g $500 and QX-2201 5 g $90, Telegram @x_lab"
    analysis = analyse(text)
    assert [c.term for c in analysis.candidates] == ["2-(4-chlorophenyl)-tryptamine", "QX-2201"]
    for candidate in analysis.candidates:
        assert text[candidate.start : candidate.end] == candidate.term
        assert candidate.term in candidate.context


def test_an_unknown_valid_cas_number_is_a_candidate_and_an_indicator() -> None:
    text = "Product CAS 1234-56-6, 99%, 1 kg $300, MOQ 1 kg"
    analysis = analyse(text)
    assert [c.term for c in analysis.candidates] == ["1234-56-6"]
    assert [(i.kind, i.value) for i in analysis.indicators if i.kind == "cas"] == [
        ("cas", "1234-56-6")
    ]


def test_known_names_and_texts_without_a_sale_give_none() -> None:
    assert _terms("carfentanil 1 g $700, Wickr: cf_1") == []
    assert _terms("2-(4-chlorophenyl)-tryptamine was described in 1962.") == []
    assert _terms("COVID-19 test kits 10 pcs $20, ISO-9001 certified") == []


def test_tally_counts_texts_and_keeps_a_few_examples() -> None:
    tally = CandidateTally(max_examples=2)
    seen = Candidate("QX-2201", 0, 7, "QX-2201 5 g $90")
    for n in range(3):
        tally.add([seen, Candidate("qx 2201", 10, 17, "again")], source=f"page-{n}")
    tally.add([Candidate("ZZ-9", 0, 4, "ZZ-9 1 g $5")])
    (first, second) = tally.most_common()
    assert (first.term, first.count, len(first.examples)) == ("QX-2201", 3, 2)
    assert first.examples[0] == "page-0: QX-2201 5 g $90"
    assert (second.term, second.count) == ("ZZ-9", 1)
