"""The marketplace's second day: the changed page, its validators, and the seller on two sites."""

from __future__ import annotations

import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from email.utils import format_datetime
from pathlib import Path

import pytest

from demo.responses import default_site_dir, site_file
from demo.second_day import CHANGES, changed_paths, second_day_body
from demo.server import DemoServer
from nlp.identifiers import identifier_key

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
EXPECTED = tomllib.loads(
    (Path(__file__).resolve().parents[2] / "demo" / "expected.toml").read_text(encoding="utf-8")
)


@pytest.fixture
def server() -> Iterator[DemoServer]:
    with DemoServer(port=0) as running:
        yield running


def fetch(url: str, headers: dict[str, str] | None = None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with OPENER.open(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


@pytest.mark.parametrize("path", sorted(CHANGES))
def test_every_change_replaces_text_the_first_day_has(path: str) -> None:
    page = site_file(default_site_dir(), path)
    assert page is not None, path
    text = page.read_text(encoding="utf-8")
    for old, new in CHANGES[path]:
        assert old in text, old
        assert new not in text, new
    assert second_day_body(path, text.encode()) != text.encode()


def test_a_listing_and_the_index_linking_it_change() -> None:
    listings = {entry["path"] for kind in ("offer", "benign") for entry in EXPECTED[kind]}
    assert changed_paths() & listings == {"/forum/thread/3106.html"}
    assert changed_paths() - listings == {"/forum/"}


def test_the_second_day_serves_the_changed_page_with_new_validators(server: DemoServer) -> None:
    path = "/forum/thread/3106.html"
    status, first, body = fetch(server.base_url + path)
    assert status == 200 and b"prices cut" not in body
    # A crawler's conditional GET of the first day's page is answered 304 on the first day.
    assert fetch(server.base_url + path, {"If-None-Match": first["ETag"]})[0] == 304

    server.set_day(2)

    status, second, changed = fetch(server.base_url + path, {"If-None-Match": first["ETag"]})
    assert status == 200
    assert b"prices cut" in changed and b'id="post-4"' in changed
    assert second["ETag"] != first["ETag"]
    assert fetch(server.base_url + path, {"If-Modified-Since": first["Last-Modified"]})[0] == 200
    since = format_datetime(server.day_began, usegmt=True)
    assert fetch(server.base_url + path, {"If-Modified-Since": since})[0] == 304


def test_unchanged_pages_stay_the_same_on_the_second_day(server: DemoServer) -> None:
    path = "/forum/thread/3105.html"
    assert path not in changed_paths()
    first = fetch(server.base_url + path)[1]
    server.set_day(2)
    status, second, _ = fetch(server.base_url + path, {"If-None-Match": first["ETag"]})
    assert status == 304 and second["ETag"] == first["ETag"]


def test_only_days_one_and_two_exist(server: DemoServer) -> None:
    with pytest.raises(ValueError, match="days 1 and 2"):
        server.set_day(3)


@pytest.mark.parametrize("shared", EXPECTED["shared"], ids=lambda s: s["key"])
def test_a_shared_identifier_is_on_pages_of_two_sites(shared: dict[str, object]) -> None:
    paths = shared["paths"]
    assert isinstance(paths, list) and len(paths) >= 2
    sources = {
        e["source"] for kind in ("offer", "benign") for e in EXPECTED[kind] if e["path"] in paths
    }
    assert len(sources) == len(paths), "each page of the seller is on another site"
    for path in paths:
        page = site_file(default_site_dir(), path)
        assert page is not None and str(shared["written"]) in page.read_text(encoding="utf-8")
    assert identifier_key("contact", f"WhatsApp: {shared['written']}", "whatsapp") == shared["key"]
