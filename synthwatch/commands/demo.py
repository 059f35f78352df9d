"""``synthwatch demo``."""

from __future__ import annotations

import argparse

from synthwatch.commands.common import Subparsers, port, port_or_any


def register(sub: Subparsers) -> None:
    demo = sub.add_parser(
        "demo", help="crawl the invented demo marketplace and open the review app"
    )
    demo.add_argument("--no-serve", action="store_true", help="stop after the summary")
    demo.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    demo.add_argument(
        "--port",
        type=port,
        default=8000,
        help="review app port; a free one is used when it is taken (default 8000)",
    )
    demo.add_argument(
        "--site-port",
        type=port_or_any,
        default=8421,
        help="demo marketplace port, 0 for any free one; a free one is used when it is taken "
        "(default 8421)",
    )
    demo.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Crawl the demo marketplace, summarise, preview the digest and serve the review app."""
    from synthwatch.demo import run_demo

    return run_demo(
        serve=not args.no_serve, as_json=args.json, app_port=args.port, site_port=args.site_port
    )
