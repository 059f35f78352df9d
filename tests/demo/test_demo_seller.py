"""The demo's one seller on two sites: its two listings, read and analysed as a crawl reads
them and stored, make one seller with both handles and the shared phone (demo/expected.toml
[[shared]]), apart from the other demo sellers."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from crawlers.html_text import PageReader
from crawlers.pipelines import analysis_record
from demo.responses import default_site_dir
from nlp import analyse
from storage.db import transaction
from storage.seller_pages import common_identifiers, seller_profile, sellers_of_listing
from storage.sources import upsert_source
from tests.factories import add_listing

DEMO = Path(__file__).resolve().parents[2] / "demo"
EXPECTED = tomllib.loads((DEMO / "expected.toml").read_text(encoding="utf-8"))
BASE = "http://127.0.0.1:8765"


def store_page(session: Session, path: str, source_id: str, now: object) -> int:
    body = (default_site_dir() / path.lstrip("/")).read_text(encoding="utf-8")
    page = PageReader().read(body.replace("{{BASE_URL}}", BASE).encode())
    analysis = analysis_record(analyse(page.text, page.signals))
    upsert_source(
        session,
        source_id=source_id,
        name=source_id,
        config={"seeds": [f"{BASE}/"]},
        scope_fingerprint="d" * 64,
        now=now,  # type: ignore[arg-type]
    )
    stored = add_listing(
        session,
        f"{BASE}{path}",
        now,  # type: ignore[arg-type]
        source_id=source_id,
        text=page.text,
        title=page.title,
        analysis=analysis,
    )
    return stored.listing.id


def stored_demo(session: Session, now: object) -> dict[str, int]:
    """Store every listing page of the demo, in the order of demo/expected.toml."""
    pages = EXPECTED["offer"] + EXPECTED["benign"]
    return {o["path"]: store_page(session, o["path"], o["source"], now) for o in pages}


@pytest.mark.parametrize("shared", EXPECTED["shared"], ids=lambda s: s["key"])
def test_the_demo_seller_posts_on_two_sites_under_two_handles(
    session_factory: object, now: object, shared: dict[str, object]
) -> None:
    with transaction(session_factory) as session:  # type: ignore[arg-type]
        ids = stored_demo(session, now)
        mine = [ids[p] for p in shared["paths"]]  # type: ignore[attr-defined]

        (seller,) = {s.id: s for i in mine for s in sellers_of_listing(session, i)}.values()
        profile = seller_profile(session, seller)
        keys = [i.key for i in profile.identifiers]
        assert shared["key"] in keys
        handles = [k for k in keys if k.split(":")[0] in ("telegram", "wickr", "whatsapp")]
        assert len(handles) >= 2, keys
        assert len({item.source_id for item in profile.listings}) == 2
        assert sorted(item.listing_id for item in profile.listings) == sorted(mine)


def test_the_classifieds_safety_address_is_common_and_links_no_ads(
    session_factory: object, now: object
) -> None:
    with transaction(session_factory) as session:  # type: ignore[arg-type]
        ids = stored_demo(session, now)
        common = [row.key for row, _listings, _sources in common_identifiers(session)]
        assert common == ["email:safety.lanternlane@example.com"]
        # An ad with no contact of its own has no seller; the others one each.
        assert sellers_of_listing(session, ids["/classifieds/ad/20412.html"]) == []
        ads = [p for p in ids if p.startswith("/classifieds/")]
        owners = [s.id for p in ads for s in sellers_of_listing(session, ids[p])]
        assert len(owners) == len(set(owners))
