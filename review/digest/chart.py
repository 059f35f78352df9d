"""The digest's chart: trending substances, this week against the mean of the weeks before."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.figure import Figure
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
    # Figure, not pyplot: no global state and no GUI backend, safe in any process.
    height = 1.5 + 0.45 * len(trends)
    figure = Figure(figsize=(6.4, height), dpi=100, layout="constrained")
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
    axes.set_yticks(positions, labels=[_label(t.name) for t in rows])
    for label in axes.get_yticklabels():
        # Names come from the database: never let "$...$" be read as mathtext.
        label.set_parse_math(False)
    axes.set_xlabel("listings on offer naming the substance (new or changed texts)")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.spines[["top", "right"]].set_visible(False)
    figure.legend(loc="outside upper center", ncols=2, frameon=False, fontsize="small")
    buffer = io.BytesIO()
    # No metadata: the same data gives the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def _label(name: str) -> str:
    name = " ".join(name.split())
    return name if len(name) <= MAX_LABEL_CHARS else name[: MAX_LABEL_CHARS - 1] + "…"
