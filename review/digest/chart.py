"""The digest's chart: trending substances, this week against the mean of the weeks before.

The drawing habits every chart of the app shares live here too (the trends page draws with
them): a ``Figure`` of its own, labels from the database never read as mathtext and cut to a
length, and PNG bytes without metadata.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.ticker import MaxNLocator

MAX_LABEL_CHARS = 40
THIS_WEEK_COLOUR = "#2457a6"
BEFORE_COLOUR = "#b8c0cc"


@dataclass(frozen=True, slots=True)
class Trend:
    """How many listings on offer named a substance this week, against the weeks before."""

    concept_id: str
    name: str
    substance_class: str
    this_week: int
    before_mean: float

    @property
    def change(self) -> float:
        """Return this week's count minus the mean of the weeks before."""
        return self.this_week - self.before_mean


def trend_chart(trends: Sequence[Trend], *, weeks_before: int) -> bytes:
    """Return a PNG of horizontal bars, one pair per substance; empty input gives no bytes."""
    if not trends:
        return b""
    height = 1.5 + 0.45 * len(trends)
    figure = new_figure(6.4, height)
    axes = figure.add_subplot()
    rows = list(reversed(trends))
    positions = list(range(len(rows)))
    bar = 0.38
    axes.barh(
        [p + bar / 2 for p in positions],
        [t.this_week for t in rows],
        height=bar,
        color=THIS_WEEK_COLOUR,
        label="this week",
    )
    axes.barh(
        [p - bar / 2 for p in positions],
        [t.before_mean for t in rows],
        height=bar,
        color=BEFORE_COLOUR,
        label=f"mean of the {weeks_before} weeks before",
    )
    axes.set_yticks(positions, labels=[short_label(t.name) for t in rows])
    plain_text(axes.get_yticklabels())
    axes.set_xlabel("listings on offer naming the substance (new or changed texts)")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    figure.legend(loc="outside upper center", ncols=2, frameon=False, fontsize="small")
    return png_bytes(figure)


def new_figure(width: float, height: float) -> Figure:
    """Return an empty figure of this size in inches, laid out to fit its labels."""
    # Figure, not pyplot: no global state and no GUI backend, safe in any process.
    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def plain_text(texts: Iterable[Text]) -> None:
    """Draw these texts as written: names come from the database, never read "$...$" as
    mathtext."""
    for text in texts:
        text.set_parse_math(False)


def short_label(name: str) -> str:
    """Return a name on one line, cut to ``MAX_LABEL_CHARS``."""
    name = " ".join(name.split())
    return name if len(name) <= MAX_LABEL_CHARS else name[: MAX_LABEL_CHARS - 1] + "…"


def png_bytes(figure: Figure) -> bytes:
    """Return a figure as PNG bytes."""
    buffer = io.BytesIO()
    # No metadata: the same data gives the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
