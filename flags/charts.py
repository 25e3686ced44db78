"""Alliance and satisfaction charts, laid out on the server for SVG templates.

Partner A is a solid line with round points and partner B a dashed line with square points,
so the chart reads in greyscale print; the gap between them is shaded, and sessions with a
rupture are marked on the axis. Every number drawn is also in a table beside the chart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from flags.measure_signals import Satisfaction, SessionPoint

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 40


@dataclass
class Series:
    label: str
    points: list[tuple[float, float, int, float]] = field(default_factory=list)  # x, y, ord, v

    @property
    def path(self) -> str:
        return " ".join(
            f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y, _, _) in enumerate(self.points)
        )


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    series: list[Series] = field(default_factory=list)
    gap_area: str = ""
    y_ticks: list[tuple[float, str]] = field(default_factory=list)
    x_ticks: list[tuple[float, int]] = field(default_factory=list)
    rupture_marks: list[tuple[float, int]] = field(default_factory=list)
    cutoff: tuple[float, str] | None = None
    bottom: float = HEIGHT - BOTTOM
    left: float = LEFT
    right: float = WIDTH - RIGHT

    @property
    def is_empty(self) -> bool:
        return not any(s.points for s in self.series)


class Scale:
    def __init__(self, ordinals: list[int], y_max: float) -> None:
        self.first, self.last = (min(ordinals), max(ordinals)) if ordinals else (1, 1)
        self.y_max = y_max

    def x(self, ordinal: int) -> float:
        span = max(self.last - self.first, 1)
        return LEFT + (ordinal - self.first) * (WIDTH - LEFT - RIGHT) / span

    def y(self, value: float) -> float:
        return TOP + (1 - value / self.y_max) * (HEIGHT - TOP - BOTTOM)


def _x_ticks(scale: Scale, ordinals: list[int]) -> list[tuple[float, int]]:
    step = max(1, len(ordinals) // 12 + (1 if len(ordinals) % 12 else 0))
    return [(scale.x(n), n) for n in ordinals[::step]]


def alliance_chart(points: list[SessionPoint]) -> Chart:
    rated = [p for p in points if p.alliance]
    chart = Chart()
    if not rated:
        return chart
    ordinals = [p.ordinal for p in points]
    scale = Scale([p.ordinal for p in rated], 40)
    for label in ("A", "B"):
        series = Series(label=label)
        for p in rated:
            if label in p.alliance:
                value = p.alliance[label]
                series.points.append((scale.x(p.ordinal), scale.y(value), p.ordinal, value))
        chart.series.append(series)
    both = [p for p in rated if "A" in p.alliance and "B" in p.alliance]
    if len(both) >= 2:
        top = [f"{scale.x(p.ordinal):.1f},{scale.y(p.alliance['A']):.1f}" for p in both]
        under = [f"{scale.x(p.ordinal):.1f},{scale.y(p.alliance['B']):.1f}" for p in reversed(both)]
        chart.gap_area = " ".join(top + under)
    chart.y_ticks = [(scale.y(v), str(v)) for v in (0, 10, 20, 30, 40)]
    shown = [n for n in ordinals if scale.first <= n <= scale.last]
    chart.x_ticks = _x_ticks(scale, shown)
    chart.rupture_marks = [
        (scale.x(p.ordinal), p.ordinal)
        for p in points
        if p.rupture_count and scale.first <= p.ordinal <= scale.last
    ]
    return chart


def satisfaction_chart(series_list: list[Satisfaction], maximum: float = 21) -> Chart:
    chart = Chart()
    ordinals = sorted({s.ordinal for series in series_list for s in series.scores})
    if not ordinals:
        return chart
    scale = Scale(ordinals, maximum)
    for satisfaction in series_list:
        series = Series(label=satisfaction.partner)
        for score in satisfaction.scores:
            value = float(score.total)
            series.points.append((scale.x(score.ordinal), scale.y(value), score.ordinal, value))
        chart.series.append(series)
    cutoffs = {s.cutoff for s in series_list if s.cutoff is not None}
    if cutoffs:
        cutoff = float(min(cutoffs, key=Decimal))
        chart.cutoff = (scale.y(cutoff), f"{cutoff:g}")
    chart.y_ticks = [(scale.y(v), f"{v:g}") for v in (0, maximum / 3, 2 * maximum / 3, maximum)]
    chart.x_ticks = _x_ticks(scale, ordinals)
    return chart
