"""The cycle map drawn as a loop, laid out on the server for an SVG template.

Partner A's chain runs down the left column, from trigger to move; partner B's runs up the
right column, from trigger (bottom) to move (top). A's move points across the bottom to B's
trigger and B's move across the top to A's trigger: the two chains close into the loop EFT
therapists draw by hand. No script, no style attributes (the CSP forbids them): geometry and
presentation attributes only, so it prints as it shows.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from itertools import pairwise

from cycles.models import CycleMap, CycleStep, Partner, StepKind

WIDTH = 760
COLUMN_X = {"A": 30, "B": 450}
BOX_WIDTH = 280
# The partners' names head the columns, wrapped to the column's width (a name is never cut):
# the first line's baseline, the line height, the characters of bold 15 px text a line holds,
# and the space between the last line and the first box.
HEADING_Y = 26
HEADING_LINE = 19
HEADING_CHARS = 30
HEADING_GAP = 28
TOP = HEADING_Y + HEADING_GAP  # below a one-line heading
GAP = 30
LINE_HEIGHT = 17
CAPTION_HEIGHT = 16
PADDING = 9
CHARS_PER_LINE = 36
LOOP_MARGIN = 26

KIND_TONE: dict[str, str] = {
    StepKind.SECONDARY_EMOTION: "secondary",
    StepKind.PRIMARY_EMOTION: "primary",
    StepKind.ATTACHMENT_NEED: "need",
    StepKind.ACTION: "action",
}


@dataclass(frozen=True)
class Node:
    """What the diagram needs of one step: its kind, words and move, nothing else."""

    kind: str
    kind_label: str
    label: str
    move_label: str = ""


@dataclass
class Column:
    label: str  # "A" or "B"
    heading: str
    boxes: list[Box]

    @property
    def cx(self) -> int:
        return COLUMN_X[self.label] + BOX_WIDTH // 2

    @property
    def heading_lines(self) -> list[tuple[int, str]]:
        """The heading wrapped to the column, each line with its baseline."""
        return [
            (HEADING_Y + i * HEADING_LINE, line)
            for i, line in enumerate(heading_lines(self.heading))
        ]


def heading_lines(heading: str) -> list[str]:
    """A partner's name and position as lines that fit a column; a long name wraps, a word
    longer than a line is broken, nothing is dropped."""
    return textwrap.wrap(heading, HEADING_CHARS) or [""]


def top_for(headings: list[str]) -> int:
    """Where the boxes start: below the longest heading."""
    lines = max((len(heading_lines(h)) for h in headings), default=1)
    return HEADING_Y + (lines - 1) * HEADING_LINE + HEADING_GAP


@dataclass
class Box:
    step: Node
    x: int
    y: int
    lines: list[str]
    caption: str
    tone: str
    height: int = 0
    width: int = BOX_WIDTH

    @property
    def cx(self) -> int:
        return self.x + self.width // 2

    @property
    def bottom(self) -> int:
        return self.y + self.height

    @property
    def mid_y(self) -> int:
        return self.y + self.height // 2

    @property
    def text_y(self) -> list[tuple[int, str]]:
        first = self.y + PADDING + CAPTION_HEIGHT + LINE_HEIGHT - 4
        return [(first + i * LINE_HEIGHT, line) for i, line in enumerate(self.lines)]

    @property
    def caption_y(self) -> int:
        return self.y + PADDING + CAPTION_HEIGHT - 4


@dataclass
class Diagram:
    columns: list[Column] = field(default_factory=list)
    boxes: list[Box] = field(default_factory=list)
    arrows: list[str] = field(default_factory=list)
    loop_arrows: list[str] = field(default_factory=list)
    height: int = 200
    width: int = WIDTH

    @property
    def is_empty(self) -> bool:
        return not self.boxes


def _box_for(step: Node, x: int) -> Box:
    caption = step.kind_label
    if step.move_label:
        caption += f" · {step.move_label.lower()}"
    lines = textwrap.wrap(step.label, CHARS_PER_LINE, max_lines=4, placeholder="…") or ["—"]
    box = Box(step=step, x=x, y=0, lines=lines, caption=caption, tone=KIND_TONE.get(step.kind, ""))
    box.height = PADDING * 2 + CAPTION_HEIGHT + LINE_HEIGHT * len(lines)
    return box


def _stack(boxes: list[Box], start_y: int, *, upward: bool, total: int) -> None:
    """Place boxes top-down from start_y, or bottom-up ending at start_y + total."""
    if not upward:
        y = start_y
        for box in boxes:
            box.y = y
            y += box.height + GAP
        return
    y = start_y + total
    for box in boxes:
        box.y = y - box.height
        y = box.y - GAP


def _down(a: Box, b: Box) -> str:
    return f"M{a.cx},{a.bottom} L{b.cx},{b.y - 3}"


def _up(a: Box, b: Box) -> str:
    return f"M{a.cx},{a.y} L{b.cx},{b.bottom + 3}"


def _first(boxes: list[Box], kind: str, *, last: bool = False) -> Box | None:
    matching = [box for box in boxes if box.step.kind == kind]
    if not matching:
        return None
    return matching[-1] if last else matching[0]


def node_for(step: CycleStep) -> Node:
    return Node(
        kind=step.kind,
        kind_label=step.get_kind_display(),
        label=step.label,
        move_label=step.get_move_display() if step.move else "",
    )


def layout(cycle_map: CycleMap | None, partners: list[Partner]) -> Diagram:
    """Lay out a saved map's two chains, headed by the partners' names and positions."""
    if cycle_map is None:
        return Diagram()
    steps = list(cycle_map.steps.all())
    chains = {p.label: [node_for(s) for s in steps if s.partner_id == p.pk] for p in partners}
    headings = {p.label: f"{p.display_name} ({p.get_position_display().lower()})" for p in partners}
    return layout_chains(chains, headings)


def layout_chains(chains: dict[str, list[Node]], headings: dict[str, str]) -> Diagram:
    """Lay out two chains (A down the left, B up the right) and the loop between them."""
    diagram = Diagram()
    columns = {
        label: [_box_for(node, COLUMN_X[label]) for node in chains.get(label, [])]
        for label in ("A", "B")
    }
    heights = {
        label: sum(b.height for b in boxes) + GAP * max(len(boxes) - 1, 0)
        for label, boxes in columns.items()
    }
    total = max(heights.values(), default=0)
    if total == 0:
        return diagram
    a, b = columns["A"], columns["B"]
    diagram.columns = [
        Column(label, headings.get(label, f"Partner {label}"), columns[label])
        for label in ("A", "B")
    ]
    top = top_for([column.heading for column in diagram.columns])
    _stack(a, top, upward=False, total=total)
    _stack(b, top, upward=True, total=total)
    diagram.boxes = a + b
    diagram.arrows = [_down(x, y) for x, y in pairwise(a)]
    diagram.arrows += [_up(x, y) for x, y in pairwise(b)]
    diagram.loop_arrows = _loop(a, b)
    diagram.height = top + total + LOOP_MARGIN + 24
    return diagram


def _loop(a: list[Box], b: list[Box]) -> list[str]:
    arrows = []
    a_move, b_trigger = _first(a, StepKind.ACTION, last=True), _first(b, StepKind.TRIGGER)
    if a_move and b_trigger:
        arrows.append(
            f"M{a_move.x + a_move.width},{a_move.mid_y} "
            f"C{a_move.x + a_move.width + 70},{a_move.mid_y} "
            f"{b_trigger.x - 70},{b_trigger.mid_y} {b_trigger.x - 3},{b_trigger.mid_y}"
        )
    b_move, a_trigger = _first(b, StepKind.ACTION, last=True), _first(a, StepKind.TRIGGER)
    if b_move and a_trigger:
        arrows.append(
            f"M{b_move.x},{b_move.mid_y} "
            f"C{b_move.x - 70},{b_move.mid_y} "
            f"{a_trigger.x + a_trigger.width + 70},{a_trigger.mid_y} "
            f"{a_trigger.x + a_trigger.width + 3},{a_trigger.mid_y}"
        )
    return arrows
