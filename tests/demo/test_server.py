from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import Message
from pathlib import Path

import pytest

from demo.responses import site_file
from demo.server import AccessLogEntry, DemoServer, read_access_log

# No proxies: every request in these tests goes straight to the server on 127.0.0.1.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@pytest.fixture
def server(tmp_path: Path) -> Iterator[DemoServer]:
    with DemoServer(port=0, access_log=tmp_path / "access.jsonl") as running:
        yield running


def fetch(
    url: str, headers: dict[str, str] | None = None, method: str = "GET", data: bytes | None = None
) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with OPENER.open(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


def raw_get(server: DemoServer, path: str) -> tuple[int, dict[str, str], bytes]:
    """Send the request target exactly as given: urllib would not send some of these."""
    connection = http.client.HTTPConnection("127.0.0.1", int(server.base_url.rsplit(":", 1)[1]))
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_index_page_is_served(server: DemoServer) -> None:
    status, headers, body = fetch(server.base_url + "/")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    for section in ("/b2b/", "/classifieds/", "/forum/"):
        assert f'href="{section}"'.encode() in body


def test_folder_path_serves_its_index_html(server: DemoServer) -> None:
    assert fetch(server.base_url + "/b2b/")[2] == fetch(server.base_url + "/b2b/index.html")[2]


def test_folder_without_trailing_slash_redirects(server: DemoServer) -> None:
    status, headers, _ = raw_get(server, "/forum")
    assert status == 301
    assert headers["Location"] == server.base_url + "/forum/"


def test_head_sends_headers_without_body(server: DemoServer) -> None:
    status, headers, body = fetch(server.base_url + "/forum/", method="HEAD")
    assert status == 200
    assert int(headers["Content-Length"]) > 0
    assert body == b""


def test_base_url_is_substituted_in_robots_and_sitemap(server: DemoServer) -> None:
    _, _, robots = fetch(server.base_url + "/robots.txt")
    assert f"Sitemap: {server.base_url}/sitemap.xml" in robots.decode()
    _, headers, sitemap = fetch(server.base_url + "/sitemap.xml")
    assert "xml" in headers["Content-Type"]
    locs = re.findall(r"<loc>([^<]+)</loc>", sitemap.decode())
    assert locs
    assert all(loc.startswith(server.base_url + "/") for loc in locs)
    assert b"{{BASE_URL}}" not in robots + sitemap


def test_base_url_is_substituted_in_html(server: DemoServer) -> None:
    _, _, body = fetch(server.base_url + "/b2b/products/4-anpp.html")
    assert b"{{BASE_URL}}" not in body
    assert f'"url": "{server.base_url}/b2b/products/4-anpp.html"'.encode() in body


def test_conditional_get_answers_304(server: DemoServer) -> None:
    url = server.base_url + "/classifieds/ad/20418.html"
    status, headers, _ = fetch(url)
    assert status == 200
    etag, last_modified = headers["ETag"], headers["Last-Modified"]
    assert etag and last_modified

    status, headers, body = fetch(url, {"If-None-Match": etag})
    assert (status, body) == (304, b"")
    assert headers["ETag"] == etag
    assert fetch(url, {"If-Modified-Since": last_modified})[0] == 304
    assert fetch(url, {"If-None-Match": '"stale", ' + etag})[0] == 304
    # If-None-Match decides when both are sent (RFC 9110 §13.2.2).
    assert fetch(url, {"If-None-Match": '"stale"', "If-Modified-Since": last_modified})[0] == 200
    assert fetch(url, {"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})[0] == 200


def test_changed_file_gets_a_new_etag(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    page = site / "index.html"
    page.write_text("<p>one</p>", encoding="utf-8")
    with DemoServer(site_dir=site) as running:
        first = fetch(running.base_url + "/")[1]["ETag"]
        page.write_text("<p>two</p>", encoding="utf-8")
        status, headers, body = fetch(running.base_url + "/", {"If-None-Match": first})
    assert (status, body) == (200, b"<p>two</p>")
    assert headers["ETag"] != first


def test_unknown_path_is_404_html(server: DemoServer) -> None:
    status, headers, body = fetch(server.base_url + "/b2b/products/no-such-product.html")
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    assert b"Page not found" in body


def test_folder_without_index_is_404_not_a_listing(server: DemoServer) -> None:
    status, _, body = fetch(server.base_url + "/b2b/products/")
    assert status == 404
    assert b"4-anpp.html" not in body


@pytest.mark.parametrize(
    "path",
    [
        "/../server.py",
        "/%2e%2e/server.py",
        "/static/../../server.py",
        "/static/..%2f..%2fserver.py",
        "/static/%2e%2e%2f%2e%2e%2fserver.py",
        "/..%5cserver.py",
        "//etc/passwd",
        "/%00/index.html",
        "/static/.hidden",
    ],
)
def test_path_traversal_is_refused(server: DemoServer, path: str) -> None:
    status, _, body = raw_get(server, path)
    assert status == 404
    assert b"DemoServer" not in body
    assert b"root:" not in body


def test_symlink_out_of_the_site_is_refused(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("secret", encoding="utf-8")
    (site / "link.txt").symlink_to(secret)
    assert site_file(site, "/link.txt") is None
    with DemoServer(site_dir=site) as running:
        assert fetch(running.base_url + "/link.txt")[0] == 404


@pytest.mark.parametrize("path", ["/forum/members/", "/forum/members/x", "/classifieds/my-ads/"])
def test_members_area_is_401_with_a_login_form(server: DemoServer, path: str) -> None:
    status, headers, body = fetch(server.base_url + path)
    assert status == 401
    assert "WWW-Authenticate" in headers
    assert b'type="password"' in body


def test_login_page_shows_a_password_form(server: DemoServer) -> None:
    status, _, body = fetch(server.base_url + "/forum/login")
    assert status == 200
    assert b'type="password"' in body
    assert b'action="/forum/members/"' in body


@pytest.mark.parametrize("path", ["/forum/members/", "/classifieds/my-ads/", "/index.html"])
def test_post_is_403(server: DemoServer, path: str) -> None:
    status, _, body = fetch(server.base_url + path, method="POST", data=b"username=a&password=b")
    assert status == 403
    assert b"sign-ins" in body


def test_access_log_records_every_request(server: DemoServer, tmp_path: Path) -> None:
    agent = {"User-Agent": "SynthWatchTest/1.0 (+https://synthwatch.example/bot)"}
    url = server.base_url + "/forum/thread/3105.html"
    etag = fetch(url, agent)[1]["ETag"]
    fetch(url, {**agent, "If-None-Match": etag})
    fetch(server.base_url + "/nope?q=nitazene", agent)
    fetch(server.base_url + "/forum/members/x", agent)
    fetch(server.base_url + "/forum/login", agent, method="POST", data=b"x=1")

    entries = server.requests()
    assert [(e.method, e.path, e.status) for e in entries] == [
        ("GET", "/forum/thread/3105.html", 200),
        ("GET", "/forum/thread/3105.html", 304),
        ("GET", "/nope?q=nitazene", 404),
        ("GET", "/forum/members/x", 401),
        ("POST", "/forum/login", 403),
    ]
    assert {e.user_agent for e in entries} == {agent["User-Agent"]}
    assert all(e.time.utcoffset() == UTC.utcoffset(None) for e in entries)
    assert read_access_log(tmp_path / "access.jsonl") == entries


def test_access_log_file_is_json_lines(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "access.jsonl"
    with DemoServer(access_log=log) as running:
        fetch(running.base_url + "/robots.txt")
    [line] = log.read_text(encoding="utf-8").splitlines()
    assert set(json.loads(line)) == {"time", "method", "path", "status", "user_agent"}


def test_read_access_log_names_the_bad_line(tmp_path: Path) -> None:
    log = tmp_path / "access.jsonl"
    when = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    entry = AccessLogEntry(time=when, method="GET", path="/", status=200, user_agent="ua")
    log.write_text(entry.to_json() + "\nnot json\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"access.jsonl:2"):
        read_access_log(log)


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.com", "localhost", ""])
def test_non_loopback_host_is_refused(host: str) -> None:
    with pytest.raises(ValueError, match="loopback"):
        DemoServer(host=host)


def test_port_zero_picks_a_free_port(server: DemoServer) -> None:
    match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)", server.base_url)
    assert match is not None
    assert int(match.group(1)) > 0


def test_base_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        _ = DemoServer().base_url


@pytest.mark.slow
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_main_prints_the_base_url_and_stops_quietly(tmp_path: Path, signum: int) -> None:
    log = tmp_path / "access.jsonl"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "demo.server", "--port", "0", "--access-log", str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        base_url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", base_url)
        assert fetch(base_url + "/")[0] == 200
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert "Traceback" not in stderr
    assert [e.path for e in read_access_log(log)] == ["/"]


def test_every_expected_listing_is_served(server: DemoServer) -> None:
    expected = tomllib.loads(
        (Path(__file__).resolve().parents[2] / "demo" / "expected.toml").read_text(encoding="utf-8")
    )
    for entry in expected["offer"] + expected["benign"]:
        status, headers, _ = fetch(server.base_url + entry["path"])
        assert (status, headers["Content-Type"]) == (200, "text/html; charset=utf-8"), entry
    for entry in expected["refused"]:
        if entry["reason"] == "login" and entry["url"].startswith("/"):
            status, _, body = fetch(server.base_url + entry["url"])
            assert status in (200, 401) and b'type="password"' in body, entry
