"""The scale bench's parts: its options, its polite loopback shops and their source file."""

from __future__ import annotations

import http.client
from pathlib import Path

import pytest

from bench.scale import Shop, main, parse_args, source_file, source_id
from crawlers.sources import load_sources


def test_options_default_to_one_source_per_crawl_slot_of_the_largest_run() -> None:
    args = parse_args([])
    assert (args.workers, args.crawls, args.sources) == ((1, 2, 4), 1, 4)
    assert parse_args(["--workers", "1,3", "--crawls", "2"]).sources == 6
    assert parse_args(["--sources", "10"]).sources == 10


@pytest.mark.parametrize("argv", [["--workers", "0,2"], ["--workers", "two"], ["--pages", "0"]])
def test_bad_options_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(argv)
    assert "error:" in capsys.readouterr().err


def test_without_postgresql_it_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SYNTHWATCH_TEST_POSTGRES_URL", raising=False)
    assert main(["--workers", "1"]) == 2
    message = capsys.readouterr().err
    assert "SYNTHWATCH_TEST_POSTGRES_URL" in message and "Traceback" not in message


def get(connection: http.client.HTTPConnection, path: str) -> tuple[int, bytes]:
    connection.request("GET", path)
    response = connection.getresponse()
    return response.status, response.read()


def test_a_shop_serves_its_listings_on_its_own_address(tmp_path: Path) -> None:
    shop = Shop("127.0.0.2", 3, pages=4, delay=0.0)
    shop.start()
    try:
        host, port = shop.base_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        robots, index = get(connection, "/robots.txt"), get(connection, "/")
        item, missing = get(connection, "/item/3"), get(connection, "/item/4")
        connection.close()
        sources = load_sources(source_file([shop], 0.05, tmp_path / "sources.toml"))
    finally:
        shop.stop()
    assert robots == (200, b"User-agent: *\nAllow: /\n")
    assert index[0] == 200 and index[1].count(b'class="listing"') == 4
    assert item[0] == 200 and b"Lot 3" in item[1]
    assert missing[0] == 404
    assert shop.peak == 1
    [source] = sources
    assert source.id == source_id(shop) == "scale-3"
    assert source.allowed_domains == ("127.0.0.2",)
    assert source.politeness.download_delay == 0.05
