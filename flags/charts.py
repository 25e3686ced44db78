"""The couple page's alliance and satisfaction charts, built on core.charts and drawn by
templates/sessions/_alliance_chart.html and _satisfaction_chart.html.

Partner A is a solid line with round points and partner B a dashed line with square points,
so the chart reads in greyscale print; the gap between them is shaded, and sessions with a
rupture are marked on the axis. Every number drawn is also in a table beside the chart.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.utils.text import slugify

from core.charts import (
    WIDE,
    Chart,
    Mark,
    Point,
    Rule,
    Scale,
    Series,
    Tick,
    band,
    evenly,
    series,
    thin,
)
from flags.measure_signals import Satisfaction, SessionPoint

ALLIANCE_MAX = 40
ALLIANCE_DESCRIPTION = (
    "Each partner's alliance total (0–40) by session; the shaded band is the gap between them; "
    "triangles mark sessions with a rupture. The numbers are in the table below."
)


def partner_series(partner: str, points: Iterable[Point]) -> Series:
    """A partner's line: A solid with round points, B dashed with square ones."""
    if partner == "A":
        return series(partner, points, stroke="solid", shape="circle", size=4.5)
    return series(partner, points, stroke="dashed", shape="square", size=4)


def session_scale(ordinals: list[int]) -> Scale:
    """Sessions across the frame, the first on the left edge (a lone one too)."""
    first, last = min(ordinals), max(ordinals)
    return WIDE.x_scale(first, max(last, first + 1))


def session_ticks(x: Scale, ordinals: list[int]) -> list[Tick]:
    return [Tick(x(n), str(n)) for n in thin(ordinals)]


def alliance_chart(points: list[SessionPoint]) -> Chart:
    """Each partner's alliance total by session, from the sessions with a rating; the
    template names the partners (each point's title is "session N: total")."""
    chart = Chart(
        id="alliance",
        title="Session alliance of both partners",
        description=ALLIANCE_DESCRIPTION,
        x_title="session",
    )
    rated = [p for p in points if p.alliance]
    if not rated:
        return chart
    x = session_scale([p.ordinal for p in rated])
    y = WIDE.y_scale(0, ALLIANCE_MAX)
    first, last = min(p.ordinal for p in rated), max(p.ordinal for p in rated)
    for partner in ("A", "B"):
        chart.series.append(
            partner_series(
                partner,
                (
                    Point(
                        x(p.ordinal),
                        y(p.alliance[partner]),
                        p.ordinal,
                        str(p.alliance[partner]),
                        f"session {p.ordinal}: {p.alliance[partner]}",
                    )
                    for p in rated
                    if partner in p.alliance
                ),
            )
        )
    both = [p for p in rated if "A" in p.alliance and "B" in p.alliance]
    if len(both) >= 2:
        chart.bands.append(
            band(
                [(x(p.ordinal), y(p.alliance["A"])) for p in both],
                [(x(p.ordinal), y(p.alliance["B"])) for p in both],
            )
        )
    chart.y_ticks = [Tick(y(v), f"{v:g}") for v in evenly(ALLIANCE_MAX, 4)]
    chart.x_ticks = session_ticks(x, [p.ordinal for p in points if first <= p.ordinal <= last])
    chart.marks = [
        Mark(x(p.ordinal), f"Rupture in session {p.ordinal}")
        for p in points
        if p.rupture_count and first <= p.ordinal <= last
    ]
    return chart


def satisfaction_chart(series_list: list[Satisfaction], maximum: float = 21) -> Chart:
    """One measure's totals by session, a line for each partner, with its distress cut-off
    (the lowest of the partners' cut-offs, when they differ)."""
    name = series_list[0].name if series_list else "Satisfaction"
    code = series_list[0].code if series_list else "measure"
    cutoffs = {s.cutoff for s in series_list if s.cutoff is not None}
    cutoff = float(min(cutoffs, key=Decimal)) if cutoffs else None
    chart = Chart(
        id=f"satisfaction-{slugify(code)}",
        title=f"{name} of both partners by session",
        description=(
            f"With the distress cut-off at {cutoff:g}, a dashed line across. "
            if cutoff is not None
            else ""
        )
        + "The numbers are in the table below.",
    )
    ordinals = sorted({score.ordinal for s in series_list for score in s.scores})
    if not ordinals:
        return chart
    x = session_scale(ordinals)
    y = WIDE.y_scale(0, maximum)
    for satisfaction in series_list:
        chart.series.append(
            partner_series(
                satisfaction.partner,
                (
                    Point(x(score.ordinal), y(float(score.total)), score.ordinal, f"{score.total}")
                    for score in satisfaction.scores
                ),
            )
        )
    if cutoff is not None:
        chart.rules.append(Rule(y(cutoff), f"distress cut-off {cutoff:g}"))
    chart.y_ticks = [Tick(y(v), f"{v:g}") for v in evenly(maximum, 3)]
    chart.x_ticks = session_ticks(x, ordinals)
    return chart
