"""What the demo server answers for a path: site files, validators and its own pages."""

from __future__ import annotations

import hashlib
import html
from datetime import UTC, datetime
from email.message import Message
from email.utils import parsedate_to_datetime
from importlib.resources import files
from pathlib import Path
from urllib.parse import unquote

PLACEHOLDER = "{{BASE_URL}}"
LOGIN_PATH = "/forum/login"
# Both walls answer every request beneath them with 401: nothing behind a login is ever served.
MEMBERS_PREFIXES = ("/forum/members/", "/classifieds/my-ads/")
TEMPLATED_SUFFIXES = frozenset({".html", ".xml", ".txt"})
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".xml": "application/xml; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}


def default_site_dir() -> Path:
    """Return the `site/` folder shipped inside the demo package."""
    return Path(str(files("demo") / "site"))


def site_file(site_dir: Path, url_path: str) -> Path | None:
    """Map a URL path to a file under `site_dir`, or None when there is none to serve.

    `/x/` maps to `/x/index.html`. Dot segments, encoded slashes, backslashes, NUL and hidden
    files are refused outright rather than normalised, so no path can leave `site_dir`.
    """
    if "%2f" in url_path.lower() or "%5c" in url_path.lower():
        return None
    decoded = unquote(url_path)
    if not decoded.startswith("/") or "\\" in decoded or "\x00" in decoded:
        return None
    parts = decoded.split("/")[1:]
    if parts and parts[-1] == "":
        parts[-1] = "index.html"
    if any(part == "" or part.startswith(".") for part in parts):
        return None
    root = site_dir.resolve()
    candidate = root.joinpath(*parts).resolve()
    if not candidate.is_relative_to(root) or not candidate.is_file():
        return None
    return candidate


def is_directory(site_dir: Path, url_path: str) -> bool:
    """Tell whether a slash-less URL path names a folder with an index (it gets a redirect)."""
    return not url_path.endswith("/") and site_file(site_dir, url_path + "/") is not None


def etag_for(body: bytes) -> str:
    """Return a strong entity tag for a response body."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def not_modified(headers: Message, etag: str, last_modified: datetime) -> bool:
    """Decide a conditional GET (RFC 9110 §13.2.2: If-None-Match wins over If-Modified-Since)."""
    inm = headers.get("If-None-Match")
    if inm is not None:
        tags = {tag.strip().removeprefix("W/") for tag in inm.split(",")}
        return "*" in tags or etag in tags
    ims = headers.get("If-Modified-Since")
    if ims is None:
        return False
    try:
        since = parsedate_to_datetime(ims)
    except (TypeError, ValueError):
        return False
    if since.tzinfo is None:
        since = since.replace(tzinfo=UTC)
    return last_modified <= since


def render_page(title: str, body_html: str) -> bytes:
    """Render one of the server's own pages (login wall, 403, 404) in the site's look."""
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<link rel="stylesheet" href="/static/site.css">
</head>
<body>
<main>
<h1>{html.escape(title)}</h1>
{body_html}
</main>
<footer><p>Invented demo content for SynthWatch. Not a real site.</p></footer>
</body>
</html>
"""
    return page.encode("utf-8")


LOGIN_FORM = """<form class="login" method="post" action="/forum/members/">
<p><label>Username <input type="text" name="username"></label></p>
<p><label>Password <input type="password" name="password"></label></p>
<p><button type="submit">Sign in</button></p>
</form>"""
