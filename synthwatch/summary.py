"""Render a crawl summary as a rich table."""

from __future__ import annotations

from rich.table import Table

from storage.crawls import CrawlSummary

TOP_SUBSTANCES = 15


def summary_table(summary: CrawlSummary) -> Table:
    """Return the numbers of a crawl summary as a two-column table."""
    table = Table(title="SynthWatch demo crawl", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("count", justify="right")
    table.add_row("pages fetched", str(summary.pages_fetched))
    table.add_row("listings stored or unchanged", str(summary.listings_stored))
    table.add_row("flagged", str(summary.flagged))
    for reason, count in summary.refused.items():
        table.add_row(f"refused: {reason.replace('_', ' ')}", str(count))
    for concept, count in list(summary.substances.items())[:TOP_SUBSTANCES]:
        table.add_row(f"substance: {concept}", str(count))
    for run in summary.runs:
        status = run["status"] if not run["error"] else f"{run['status']}: {run['error']}"
        if run.get("capped"):
            status += f" (capped: {run['capped']} URLs not followed)"
        table.add_row(f"crawl run {run['id']} ({run['source']})", status)
    return table
