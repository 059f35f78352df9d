"""The report in a referral package: what it shows, that it stays inert, and that it is signed."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import lxml.html
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from review.invisible import INVISIBLE_MARK, mark_invisible
from review.referral import MANIFEST, SIGNATURE, build_package, canonical_zip
from review.referral_check import verify_package
from review.referral_report import REPORT
from review.signing import load_signing_key
from review.workflow import transition
from storage.db import transaction
from storage.models import Case, Indicator, User
from tests.review.evidence_testkit import EvidenceCase, add_evidence_case
from tests.review.review_testkit import NOW, SIGNING_KEY, Seed, assert_inert
from tests.review.test_xss_corpus import PAYLOADS

KEY = load_signing_key(SIGNING_KEY)
TEXT = "Carfentanil HCl 99%, 10g. Wickr: chem\u200bking, BTC bc1qsynthwatchtestwallet0000000"
WALLET = "btc:bc1qsynthwatchtestwallet0000000"
REASONS = [
    {"text": "names carfentanil (fentanyl class)", "weight": 2.5},
    {"text": "states prices: USD 950", "weight": 1.2},
    {"text": "harm-reduction page", "weight": -0.75},
]
# Every tag the report is made of: anything else in it came from a listing.
REPORT_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "p", "code", "dl",
    "dt", "dd", "span", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "div", "mark",
}  # fmt: skip


def approve(factory: sessionmaker[Session], case_id: int, basis: str = "art. 6(1)(e) GDPR") -> None:
    """Walk a case to approved: ana confirms and escalates, lee approves on ``basis``."""
    steps = [
        ("ana", "confirmed", ""),
        ("ana", "escalated", "needs legal"),
        ("lee", "approved", basis),
    ]
    for name, to_state, note in steps:
        with transaction(factory) as session:
            actor = session.scalar(select(User).where(User.username == name))
            transition(session, case_id, to_state, actor=actor, now=NOW, note=note)


def enrich(factory: sessionmaker[Session], found: EvidenceCase, text: str = TEXT) -> None:
    """Give the latest version reasons and the indicators a crawl would have found in it."""
    with transaction(factory) as session:
        version = session.get(Case, found.case_id).listing.versions[-1]
        version.reasons = REASONS
        start, end = text.find("Wickr"), text.find(",", text.find("Wickr"))
        if 0 <= start < end:
            version.indicators.append(
                Indicator(
                    kind="contact",
                    start=start,
                    end=end,
                    text=text[start:end],
                    value="wickr",
                    key="wickr:chemking",
                )
            )
        start = text.find("BTC")
        if start >= 0:
            version.indicators.append(
                Indicator(
                    kind="wallet",
                    start=start + 4,
                    end=len(text),
                    text=text[start + 4 :],
                    value="BTC",
                    key=WALLET,
                )
            )


def build(factory: sessionmaker[Session], home: Path, case_id: int, tmp_path: Path) -> Path:
    with transaction(factory) as session:
        legal = session.scalar(select(User).where(User.username == "lee"))
        assert legal is not None
        package = build_package(session, case_id, home=home, signing_key=KEY, actor=legal, now=NOW)
    path = tmp_path / package.filename
    path.write_bytes(package.data)
    return path


@pytest.fixture
def package(
    factory: sessionmaker[Session], home: Path, seed: Seed, tmp_path: Path
) -> tuple[Path, EvidenceCase]:
    found = add_evidence_case(
        factory,
        home,
        pages=[(TEXT, b"<html><body><p>Carfentanil HCl 99%</p></body></html>")],
        fields={"seller": "chemking", "price": "$950"},
        title="Carfentanil\u200b HCl",
    )
    enrich(factory, found)
    approve(factory, found.case_id)
    return build(factory, home, found.case_id, tmp_path), found


def report_of(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(zipfile.ZipFile(path).read(REPORT).decode("utf-8"))


def cells(page: lxml.html.HtmlElement, section: str) -> list[list[str]]:
    """Return the body rows of the tables after the heading with this id, as cell texts."""
    heading = page.get_element_by_id(section)
    rows = []
    for sibling in heading.itersiblings():
        if sibling.tag == "h2":
            break
        for row in sibling.xpath(".//tbody/tr"):
            rows.append([cell.text_content() for cell in row.xpath("./td")])
    return rows


def test_the_report_shows_the_listing_and_its_marked_text(
    package: tuple[Path, EvidenceCase],
) -> None:
    path, _found = package
    page = report_of(path)

    listing = page.get_element_by_id("listing").getnext()
    values = [d.text_content() for d in listing.xpath("./dd")]
    terms = dict(zip(listing.xpath("./dt/text()"), values, strict=True))
    assert terms["Title"] == "Carfentanil HCl v1"
    assert terms["Title as written"].startswith(f"Carfentanil{INVISIBLE_MARK} HCl v1 (1 invisible")
    assert terms["Address"] == "http://127.0.0.1:8421/item/evidence"
    assert terms["seller"] == "chemking"
    assert terms["price"] == "$950"
    assert terms["Case"].startswith("approved, score 8.00")
    (text,) = page.find_class("text")
    assert text.text_content() == TEXT.replace("\u200b", INVISIBLE_MARK)
    assert [m.text_content() for m in text.xpath(".//mark[contains(@class, 'mention')]")] == [
        "Carfentanil"
    ]
    marked = [m.text_content() for m in text.xpath(".//mark[contains(@class, 'indicator')]")]
    assert marked == [f"Wickr: chem{INVISIBLE_MARK}king", WALLET[4:]]
    assert ["handle", "chemking", "wickr:chemking"] in cells(page, "seller")
    assert ["wallet", WALLET[4:], WALLET] in cells(page, "seller")


def test_the_report_shows_reasons_with_weights_and_the_decisions(
    package: tuple[Path, EvidenceCase],
) -> None:
    path, _found = package
    page = report_of(path)

    assert cells(page, "reasons") == [
        ["names carfentanil (fentanyl class)", "+2.50"],
        ["states prices: USD 950", "+1.20"],
        ["harm-reduction page", "-0.75"],
    ]
    decisions = cells(page, "decisions")
    at = NOW.isoformat()
    assert decisions[:3] == [
        [at, "ana", "new → confirmed", ""],
        [at, "ana", "confirmed → escalated", "needs legal"],
        [at, "lee", "escalated → approved", "art. 6(1)(e) GDPR"],
    ]


def test_the_report_lists_every_other_file_with_the_manifests_hash(
    package: tuple[Path, EvidenceCase],
) -> None:
    path, found = package
    archive = zipfile.ZipFile(path)
    manifest = json.loads(archive.read(MANIFEST))

    listed = {e["path"]: (e["sha256"], e["bytes"]) for e in manifest["files"]}
    shown = {name: (sha256, int(size)) for name, size, sha256 in cells(report_of(path), "files")}
    assert REPORT in listed  # the report is signed with the rest
    assert set(shown) == set(listed) - {REPORT}
    assert {f"evidence/capture-{i}.warc.gz" for i in found.capture_ids} <= set(shown)
    for name, (sha256, size) in shown.items():
        data = archive.read(name)
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (sha256, size) == listed[name]
    assert manifest["format"] == "synthwatch-referral-2"
    assert verify_package(path, KEY.public_key()) == []


def test_the_report_is_self_contained_and_runs_nothing(package: tuple[Path, EvidenceCase]) -> None:
    path, _found = package
    page = report_of(path)

    assert_inert(page)
    assert page.xpath("//script | //link | //img | //iframe | //a | //form | //@style") == []
    (policy,) = page.xpath("//meta[@http-equiv='Content-Security-Policy']/@content")
    assert "default-src 'none'" in policy
    (style,) = page.xpath("//style/text()")
    digest = base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in policy  # the one style block, by its hash
    assert not re.search(r"url\(|@import", style)


def test_hostile_text_in_every_part_of_the_report_is_escaped(
    factory: sessionmaker[Session], home: Path, seed: Seed, tmp_path: Path
) -> None:
    text = "Carfentanil " + "\n".join(PAYLOADS)
    found = add_evidence_case(
        factory,
        home,
        pages=[(text, b"<html><body><p>Carfentanil</p></body></html>")],
        fields={"seller": PAYLOADS[1], PAYLOADS[2][:40]: PAYLOADS[3], "jsonld": {"x": PAYLOADS[4]}},
        title=PAYLOADS[5],
    )
    with transaction(factory) as session:
        listing = session.get(Case, found.case_id).listing
        listing.url = PAYLOADS[0]  # scraped too (the WARC record keeps the fetched one)
        version = listing.versions[-1]
        version.reasons = [{"text": p, "weight": p} for p in PAYLOADS]
        for start, payload in ((text.index(p), p) for p in PAYLOADS[:50]):
            version.indicators.append(
                Indicator(
                    kind=payload[:40],
                    start=start,
                    end=start + len(payload),
                    text=payload,
                    value=payload,
                    key=f"wickr:{payload}"[:320],
                )
            )
    approve(factory, found.case_id, basis=PAYLOADS[6])
    path = build(factory, home, found.case_id, tmp_path)
    page = report_of(path)

    assert_inert(page)
    tags = {element.tag for element in page.iter() if isinstance(element.tag, str)}
    assert tags <= REPORT_TAGS, tags - REPORT_TAGS
    (shown,) = page.find_class("text")
    # Shown as text, whole: escaped, not stripped (invisible characters marked one for one).
    assert shown.text_content() == mark_invisible(text)
    assert [r[0] for r in cells(page, "reasons")] == PAYLOADS
    assert PAYLOADS[6] in {row[-1] for row in cells(page, "decisions")}
    assert verify_package(path, KEY.public_key()) == []


def repack(path: Path, change: dict[str, bytes | None], *, sign: bool, out: Path) -> Path:
    """Write the package with members replaced (None: dropped), its manifest re-signed or not."""
    archive = zipfile.ZipFile(path)
    entries = {n: archive.read(n) for n in archive.namelist()}
    for name, data in change.items():
        if data is None:
            del entries[name]
        else:
            entries[name] = data
    if sign:
        manifest = json.loads(entries[MANIFEST])
        manifest["files"] = [
            {"path": n, "sha256": hashlib.sha256(d).hexdigest(), "bytes": len(d)}
            for n, d in entries.items()
            if n not in (MANIFEST, SIGNATURE)
        ]
        entries[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        entries[SIGNATURE] = base64.b64encode(KEY.sign(entries[MANIFEST])) + b"\n"
    order = [n for n in entries if n not in (MANIFEST, SIGNATURE)] + [MANIFEST, SIGNATURE]
    out.write_bytes(canonical_zip([(n, entries[n]) for n in order]))
    return out


@pytest.mark.parametrize(
    "tamper",
    [
        lambda html: html.replace(
            b"escalated \xe2\x86\x92 approved", b"escalated \xe2\x86\x92 rejected"
        ),
        lambda html: html.replace(b"chemking", b"chemqueen"),
        lambda html: html + b"<!-- -->",
    ],
)
def test_a_changed_report_fails_verification(
    package: tuple[Path, EvidenceCase], tmp_path: Path, tamper: Callable[[bytes], bytes]
) -> None:
    path, _found = package
    original = zipfile.ZipFile(path).read(REPORT)
    changed = tamper(original)
    assert changed != original

    repacked = repack(path, {REPORT: changed}, sign=False, out=tmp_path / "changed.zip")

    (problem,) = verify_package(repacked, KEY.public_key())
    assert problem.startswith(f"{REPORT}: ")


def test_a_package_of_format_2_without_its_report_fails(
    package: tuple[Path, EvidenceCase], tmp_path: Path
) -> None:
    path, _found = package

    # Signed by the right key, so only the missing report is wrong with it.
    repacked = repack(path, {REPORT: None}, sign=True, out=tmp_path / "no-report.zip")

    assert verify_package(repacked, KEY.public_key()) == [f"{REPORT}: not in the package"]


def test_a_package_of_format_1_still_verifies_without_a_report(
    package: tuple[Path, EvidenceCase], tmp_path: Path
) -> None:
    path, _found = package
    manifest = json.loads(zipfile.ZipFile(path).read(MANIFEST))
    manifest["format"] = "synthwatch-referral-1"
    old = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()

    repacked = repack(path, {REPORT: None, MANIFEST: old}, sign=True, out=tmp_path / "v1.zip")

    assert verify_package(repacked, KEY.public_key()) == []
    assert REPORT not in zipfile.ZipFile(io.BytesIO(repacked.read_bytes())).namelist()
