"""``synthwatch search``: full-text search over listings, as the listings page does it.

Each search writes its audit row (who, what, how many) as the person at the command line.
"""

from __future__ import annotations

import argparse
import json
import unicodedata
from typing import Any

from storage.clock import utcnow
from storage.listing_search import ListingFilter, ListingSummary, count_listings, listings_page
from storage.search_snippets import SearchHit, Segments, listing_hits
from storage.text_search import SearchSyntaxError, parse_search, record_search
from synthwatch.commands.common import Subparsers, err, open_store, source_id, whole_number
from synthwatch.errors import UsageError

MAX_LIMIT = 1000
# Around a match in text mode: plain characters, so the output stays greppable.
MARK_OPEN, MARK_CLOSE = "[", "]"
FLAGS = {"flagged": True, "unflagged": False}
CASES = {"with": True, "without": False}


def register(sub: Subparsers) -> None:
    search = sub.add_parser(
        "search",
        help='full-text search over listings (words, AND/OR/NOT, "phrases", prefix*, (…))',
    )
    search.add_argument("query", metavar="QUERY", help="e.g. '\"pressed pills\" OR fentanyl*'")
    search.add_argument("--json", action="store_true", help="print the results as JSON")
    search.add_argument(
        "--limit",
        type=whole_number(1, MAX_LIMIT),
        default=20,
        help=f"show the N highest-scoring matches (default 20, at most {MAX_LIMIT})",
    )
    search.add_argument("--source", type=source_id, metavar="ID", help="only this source")
    search.add_argument("--flag", choices=sorted(FLAGS), help="only flagged or unflagged ones")
    search.add_argument(
        "--case", choices=sorted(CASES), help="only listings with or without a case"
    )
    search.set_defaults(handler=run_search)


def run_search(args: argparse.Namespace) -> int:
    """Print the listings a query matches, highest score first, and audit the search."""
    try:
        query = parse_search(args.query)
    except SearchSyntaxError as error:
        raise UsageError(f"search {args.query[:80]!r}: {error}") from error
    filters = ListingFilter(
        source_id=args.source,
        flagged=FLAGS[args.flag] if args.flag else None,
        has_case=CASES[args.case] if args.case else None,
        search=query,
    )
    shown = {
        key: value
        for key, value in (("source", args.source), ("flag", args.flag), ("case", args.case))
        if value
    }
    with open_store().sessions() as session:
        total = count_listings(session, filters)
        rows = listings_page(session, filters, limit=args.limit)
        hits = listing_hits(session, [row.listing_id for row in rows], query)
        record_search(session, query, where="cli", results=total, now=utcnow(), filters=shown)
    if args.json:
        results = [result_data(row, hits.get(row.listing_id)) for row in rows]
        document = {"query": query.text, "filters": shown, "total": total, "results": results}
        # ASCII only: no control character of a scraped text reaches the terminal unescaped.
        print(json.dumps(document, indent=2))
        return 0
    for row in rows:
        print(text_lines(row, hits.get(row.listing_id)))
    more = f", the {len(rows)} highest-scoring shown" if total > len(rows) else ""
    err.print(
        f"{total} listing{'' if total == 1 else 's'} match {query.text!r}{more}",
        highlight=False,
        markup=False,
    )
    return 0


def terminal_safe(text: str) -> str:
    """Return scraped text fit for a terminal: no control characters (escape sequences) or
    invisible format characters (direction overrides), which could rewrite what is shown."""
    return "".join(
        " " if unicodedata.category(char) == "Cc" else char
        for char in text
        if unicodedata.category(char) != "Cf"
    )


def plain(segments: Segments) -> str:
    """Return segments as text, each match between the plain markers."""
    return "".join(
        f"{MARK_OPEN}{text}{MARK_CLOSE}" if matched else text for text, matched in segments
    )


def text_lines(row: ListingSummary, hit: SearchHit | None) -> str:
    """Return a result in text mode: id, source, score, title; the snippet indented below."""
    title = plain(hit.title) if hit and hit.title else row.title or "(untitled listing)"
    source, title = terminal_safe(row.source_name), terminal_safe(title)
    lines = [f"{row.listing_id}\t{source}\t{row.score:.2f}\t{title}"]
    if hit and hit.snippet:
        found = hit.snippet
        text = ("…" if found.cut_before else "") + terminal_safe(plain(found.segments))
        text += "…" if found.cut_after else ""
        lines.append(f"\t{'fields: ' if found.where == 'fields' else ''}{text}")
    return "\n".join(lines)


def result_data(row: ListingSummary, hit: SearchHit | None) -> dict[str, Any]:
    """Return a result as JSON-ready data, the snippet as segments (text, matched)."""
    found = hit.snippet if hit else None
    return {
        "listing_id": row.listing_id,
        "source": row.source_name,
        "url": row.url,
        "title": row.title,
        "score": row.score,
        "flagged": row.flagged,
        "case_id": row.case_id,
        "case_state": row.case_state,
        "title_segments": [list(s) for s in hit.title] if hit else [],
        "snippet": None
        if found is None
        else {
            "where": found.where,
            "cut_before": found.cut_before,
            "cut_after": found.cut_after,
            "segments": [list(s) for s in found.segments],
        },
    }
