"""Charts drawn on the server as SVG: the geometry every chart shares, knowing nothing of what
it draws.

A builder beside its data (flags.charts for the partners' measures, supervision.review for the
nightly roll-ups) turns numbers into a `Chart` with the scales and helpers here, and
templates/core/_chart.html draws any `Chart`; a chart's own template extends it to name the
series or add a legend. Only geometry and words leave this module: colours, strokes and type
sizes are classes in static/css/app.css, as the content security policy forbids style
attributes. Every chart carries a title and a description for assistive technology, and its
page shows the same numbers as a table.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple


def coordinate(value: float) -> float:
    """A tenth of a unit is finer than a pixel in any of the frames, and keeps the markup short."""
    return round(value, 1)


@dataclass(frozen=True)
class Frame:
    """A chart's canvas: the viewBox, and the plot's edges inside it (the margins hold the
    axis labels)."""

    width: int
    height: int
    left: int
    right: int
    top: int
    bottom: int
    x_label_gap: int  # from the plot's bottom edge down to the x labels' baseline
    css_class: str = ""  # the figure's class besides "chart": the type sizes (app.css)

    def x_scale(self, low: float, high: float) -> Scale:
        return Scale(low, high, self.left, self.right)

    def y_scale(self, low: float, high: float) -> Scale:
        """Upward: `low` on the bottom edge, `high` on the top one."""
        return Scale(low, high, self.bottom, self.top)


# The couple page's measure charts, and the supervisor overview's small multiples.
WIDE = Frame(720, 260, left=44, right=704, top=16, bottom=220, x_label_gap=16)
SMALL = Frame(
    360, 150, left=40, right=348, top=12, bottom=116, x_label_gap=18, css_class="small-chart"
)


@dataclass(frozen=True)
class Scale:
    """Maps the data's interval [low, high] linearly onto the frame's [start, end]; `end` may
    be below `start` (a y axis grows upward). A one-value interval maps to the middle."""

    low: float
    high: float
    start: float
    end: float

    def __call__(self, value: float) -> float:
        if self.high == self.low:
            return coordinate((self.start + self.end) / 2)
        fraction = (value - self.low) / (self.high - self.low)
        return coordinate(self.start + fraction * (self.end - self.start))


class Tick(NamedTuple):
    at: float  # x for the x axis, y for the y axis
    label: str
    # An x label's text-anchor: "start" and "end" keep a first and last label inside the frame.
    anchor: str = "middle"


class Point(NamedTuple):
    x: float
    y: float
    at: object  # the point's place on the data's own axis: a session number, a day
    shown: str  # its value as the page writes it
    title: str = ""  # read out by assistive technology and shown on hover; "" gives none


class Mark(NamedTuple):
    """A place on the x axis marked by a small triangle pointing down at it."""

    x: float
    title: str


class Rule(NamedTuple):
    """A labelled horizontal line across the plot: a threshold such as a cut-off."""

    y: float
    label: str

    @property
    def label_y(self) -> float:
        return coordinate(self.y - 5)


Shape = Literal["circle", "square"]
Stroke = Literal["solid", "dashed"]


def marker(shape: Shape, size: float) -> str:
    """A point's marker as a path relative to its centre (drawn after "M x,y"), so the template
    needs no arithmetic: a circle of radius `size`, or a square of side twice `size`."""
    if shape == "square":
        return f"m{-size:g},{-size:g} h{2 * size:g} v{2 * size:g} h{-2 * size:g} z"
    arc = f"a{size:g},{size:g} 0 1,0"
    return f"m{-size:g},0 {arc} {2 * size:g},0 {arc} {-2 * size:g},0"


@dataclass
class Series:
    """One line and its points. `key` tells the series apart in a chart's template (which
    partner); `stroke` and the marker are how it looks, so it reads in greyscale print too."""

    key: str
    points: list[Point] = field(default_factory=list)
    path: str = ""
    stroke: Stroke = "solid"
    marker: str = ""


def series(
    key: str,
    points: Iterable[Point | None],
    *,
    stroke: Stroke = "solid",
    shape: Shape = "circle",
    size: float = 3,
) -> Series:
    """A line through the points in order. A None lifts the pen: a missing value leaves a gap
    rather than a line across it. (Leave a missing value out instead to join its neighbours.)"""
    line = Series(key=key, stroke=stroke, marker=marker(shape, size))
    commands, pen_down = [], False
    for point in points:
        if point is None:
            pen_down = False
            continue
        commands.append(f"{'L' if pen_down else 'M'}{point.x:.1f},{point.y:.1f}")
        line.points.append(point)
        pen_down = True
    line.path = " ".join(commands)
    return line


def band(upper: Sequence[tuple[float, float]], lower: Sequence[tuple[float, float]]) -> str:
    """The polygon between two lines drawn at the same x's, as SVG `points`."""
    corners = [*upper, *reversed(lower)]
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in corners)


def evenly(top: float, parts: int) -> list[float]:
    """0 to `top` in `parts` equal steps: the values of a y axis's ticks."""
    return [top * n / parts for n in range(parts + 1)]


def nice_top(highest: float) -> float:
    """A round top for a y axis from 0 that `highest` fits under: 1, 2, 5, 10, … 1000."""
    if highest <= 0:
        return 1.0
    for top in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if highest <= top:
            return float(top)
    return float(highest)


def thin[T](values: Sequence[T], most: int = 12) -> list[T]:
    """Every n-th value, from the first, so that at most `most` labels share an axis."""
    step = max(1, math.ceil(len(values) / most))
    return list(values[::step])


@dataclass
class Chart:
    """What templates/core/_chart.html draws, back to front: the y grid and labels, the x
    labels, the rules, the bands, the axis marks, then each series' line and points."""

    id: str  # unique on the page: the title's and description's element ids derive from it
    title: str
    description: str
    frame: Frame = WIDE
    series: list[Series] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_title: str = ""  # the x axis's name, under its labels at the right
    rules: list[Rule] = field(default_factory=list)
    bands: list[str] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)

    @property
    def is_empty(self) -> bool:
        return not self.points

    @property
    def points(self) -> list[Point]:
        """Every point drawn, series after series."""
        return [point for line in self.series for point in line.points]

    @property
    def path(self) -> str:
        """Every line drawn, as one path."""
        return " ".join(line.path for line in self.series if line.path)

    # The frame's measures, and where labels and marks sit (template arithmetic on floats
    # truncates them: the `add` filter works in integers).
    @property
    def width(self) -> int:
        return self.frame.width

    @property
    def height(self) -> int:
        return self.frame.height

    @property
    def left(self) -> int:
        return self.frame.left

    @property
    def right(self) -> int:
        return self.frame.right

    @property
    def bottom(self) -> int:
        return self.frame.bottom

    @property
    def y_label_x(self) -> int:
        return self.frame.left - 6

    @property
    def x_label_y(self) -> int:
        return self.frame.bottom + self.frame.x_label_gap

    @property
    def x_title_y(self) -> int:
        return self.frame.bottom + 34

    @property
    def mark_y(self) -> int:
        return self.frame.bottom - 2
