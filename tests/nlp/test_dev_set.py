"""The development set (invented texts) meets the acceptance thresholds of the extraction."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from nlp import analyse_many
from nlp.evaluate import Report, evaluate, format_report, load_gold

DEV_SET = Path(__file__).resolve().parents[1] / "fixtures" / "nlp" / "dev.jsonl"
# Wallets of the dev set: BIP-173/EIP-55 and Bitcoin wiki documentation examples, and one
# Monero address made from the bytes 1..64 (see test_wallets.py).
DOCUMENTED_WALLETS = {
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
    "bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3",
    "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed",
    "0xfb6916095ca1df60bb79ce92ce3ea74c37c5d359",
    "0xdbf03b407c01e7cd3cbea99509d93f8dddc8c6fb",
    "0xd1220a0cf47c7b9be7a2e6ba89f429762e7b9adb",
    "1bvbmseystwetqtfn5au4m4gfg7xjanvn2",
    "3j98t1wpez73cnmqviecrnyiwrnqrhwnly",
    "41fkjwjqysv2lxfsmtsq5k3gshpkecmxt52nkm8zy8z26nhmjwtswsa7icpfuecstj94xrdhzyflsaqstaftscna8juzejt",
}


@pytest.fixture(scope="module")
def report() -> Report:
    gold = load_gold(DEV_SET)
    return evaluate(gold, analyse_many(g.text for g in gold))


def test_the_dev_set_is_large_and_varied() -> None:
    rows = [json.loads(line) for line in DEV_SET.read_text(encoding="utf-8").splitlines()]
    assert len(rows) >= 200
    styles = Counter(row["id"].split("-")[0] for row in rows)
    # offers: B2B, classifieds, forum, shop, obfuscated; negatives: news, harm reduction,
    # pharmacy/medical, legitimate suppliers, questions, negation, other drugs, no drugs
    for style in ("b2b", "cls", "frm", "shp", "obf", "nws", "hrm", "med", "sup", "qst", "neg"):
        assert styles[style] >= 5, style
    assert 0.35 <= sum(row["offer"] for row in rows) / len(rows) <= 0.65


def test_the_dev_set_holds_no_real_identifiers() -> None:
    text = DEV_SET.read_text(encoding="utf-8")
    for domain in re.findall(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)", text):
        assert domain == "example.com" or domain.endswith(".example.com"), domain
    for phone in re.findall(r"\+\d[\d ]{8,}\d", text):
        assert phone.replace(" ", "").startswith("+447700900"), phone
    for row in map(json.loads, text.splitlines()):
        for span in row["spans"]:
            if span["kind"] == "wallet":
                wallet = row["text"][span["start"] : span["end"]]
                assert wallet.lower() in DOCUMENTED_WALLETS, wallet


def test_offers_are_found(report: Report) -> None:
    assert report.offer.f1 >= 0.95, format_report(report)


def test_substance_classes_are_found(report: Report) -> None:
    assert report.classes.f1 >= 0.94, format_report(report)


@pytest.mark.parametrize("kind", ["cas", "wallet", "contact"])
def test_identifiers_are_precise(report: Report, kind: str) -> None:
    counts = report.spans[kind]
    assert counts.tp >= 10
    assert counts.precision >= 0.97, format_report(report)
