"""The calmer cycle-map editor and a diagram whose long names wrap instead of being cut.

A new map opens with EFT's chain as therapists first sketch it (trigger, secondary emotion,
primary emotion, attachment need, move); each row shows the fields its kind takes, the words
in a textarea as wide as the chain, and its tools as three small named icon buttons; a step
is added on demand. In the diagram a long partner name wraps over as many lines as it needs.
"""

from __future__ import annotations

import re

from django.test import TestCase
from django.urls import reverse

from cycles.diagram import HEADING_CHARS, Node, layout, layout_chains
from cycles.models import CyclePosition, StepKind
from cycles.services import PartnerDetails, StepDraft, cycle_map_save
from tests.factories import World, make_couple

LONG_NAME = "Maximiliana Alexandrina Theodora Featherstonehaugh-Cholmondeley"


def rows_of(page: str, label: str) -> list[str]:
    """Each step row's HTML for one partner's chain."""
    chain = page[page.index(f'id="chain-{label}"') :]
    chain = chain[: chain.index("</fieldset>")]
    return re.findall(r'<li class="step-row.*?</li>', chain, re.DOTALL)


class NewMapTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        cls.world = World.build()
        cls.couple = make_couple(
            cls.world.owner,
            partner_a=PartnerDetails("Rae", CyclePosition.PURSUER),
            partner_b=PartnerDetails("Sol", CyclePosition.WITHDRAWER),
        )
        cls.url = reverse("cycles:cycle_edit", args=[cls.couple.case_code])

    def setUp(self) -> None:
        self.client.force_login(self.world.owner)

    def test_a_new_map_opens_with_five_slots_per_partner_in_eft_order(self) -> None:
        page = self.client.get(self.url).text
        for label in ("A", "B"):
            rows = rows_of(page, label)
            assert len(rows) == 5
            selected = [re.search(r'<option value="([a-z_]+)" selected>', r) for r in rows]
            assert [m.group(1) for m in selected if m] == [
                StepKind.TRIGGER,
                StepKind.SECONDARY_EMOTION,
                StepKind.PRIMARY_EMOTION,
                StepKind.ATTACHMENT_NEED,
                StepKind.ACTION,
            ]

    def test_each_row_shows_only_the_fields_its_kind_takes(self) -> None:
        trigger, secondary, primary, need, action = rows_of(self.client.get(self.url).text, "A")
        for row in (trigger, need):
            assert "Emotion" not in row
            assert "-move" not in row
        for row in (secondary, primary):
            assert 'list="emotion-vocabulary"' in row
            assert "-move" not in row
        assert 'name="A-4-move"' in action
        assert 'list="emotion-vocabulary"' not in action
        for row in (trigger, secondary, primary, need, action):
            assert re.search(r'<textarea name="A-\d-text" cols="40" rows="2"', row), row

    def test_each_row_has_three_small_named_tools_and_nothing_else_to_click(self) -> None:
        first = rows_of(self.client.get(self.url).text, "A")[0]
        assert first.count("<button") == 3
        for name in ("Move up step 1", "Move down step 1", "Remove step 1"):
            assert f'<span class="visually-hidden">{name}</span>' in first

    def test_a_step_is_added_on_demand_keeping_what_was_typed(self) -> None:
        data = {"base_revision": "0", "change_note": "", "action": "add:B"}
        for label in ("A", "B"):
            data |= {f"{label}-TOTAL_FORMS": "1", f"{label}-INITIAL_FORMS": "1"}
            data |= {
                f"{label}-0-kind": StepKind.TRIGGER,
                f"{label}-0-term": "",
                f"{label}-0-text": f"{label} hears a long sigh from across the kitchen table",
                f"{label}-0-move": "",
                f"{label}-0-starter": "1",
            }
        page = self.client.post(self.url, data).text
        assert len(rows_of(page, "A")) == 1
        rows = rows_of(page, "B")
        assert len(rows) == 2
        assert "B hears a long sigh from across the kitchen table</textarea>" in rows[0]
        # The new row has no kind yet: every field is offered, the kind focused.
        assert 'list="emotion-vocabulary"' in rows[1]
        assert 'name="B-1-move"' in rows[1]
        assert re.search(r'<select name="B-1-kind"[^>]*autofocus', rows[1])

    def test_an_emotion_typed_on_a_step_that_takes_none_stays_in_view_with_its_error(self) -> None:
        data = {"base_revision": "0", "change_note": "", "action": "save"}
        data |= {"A-TOTAL_FORMS": "1", "A-INITIAL_FORMS": "1", "B-TOTAL_FORMS": "0"}
        data |= {"B-INITIAL_FORMS": "0", "A-0-kind": StepKind.TRIGGER, "A-0-term": "anger"}
        data |= {"A-0-text": "a door closes", "A-0-move": "", "A-0-starter": ""}
        page = self.client.post(self.url, data).text
        row = rows_of(page, "A")[0]
        assert 'value="anger"' in row
        assert "Only emotion steps take an emotion" in row


class DiagramNameTests(TestCase):
    def test_a_long_name_wraps_over_lines_that_fit_the_column(self) -> None:
        heading = f"{LONG_NAME} (pursuer)"
        diagram = layout_chains(
            {"A": [Node(StepKind.TRIGGER, "Trigger / cue", "a closed door")], "B": []},
            {"A": heading, "B": "Sol (withdrawer)"},
        )
        column = diagram.columns[0]
        lines = [line for _, line in column.heading_lines]
        assert len(lines) > 1
        assert all(len(line) <= HEADING_CHARS for line in lines)
        # Wrapped at spaces and after the hyphen: every character kept.
        assert "".join(lines).replace(" ", "") == heading.replace(" ", "")
        # The boxes start below the heading's last line.
        last_baseline = column.heading_lines[-1][0]
        assert diagram.boxes[0].y > last_baseline

    def test_an_unbroken_word_longer_than_a_line_is_broken_not_dropped(self) -> None:
        word = "X" * 75
        diagram = layout_chains(
            {"A": [Node(StepKind.TRIGGER, "Trigger / cue", "a")], "B": []},
            {"A": word, "B": "B"},
        )
        lines = [line for _, line in diagram.columns[0].heading_lines]
        assert "".join(lines) == word
        assert all(len(line) <= HEADING_CHARS for line in lines)

    def test_a_short_name_keeps_the_diagram_as_it_was(self) -> None:
        diagram = layout_chains(
            {"A": [Node(StepKind.TRIGGER, "Trigger / cue", "a")], "B": []},
            {"A": "Rae (pursuer)", "B": "Sol (withdrawer)"},
        )
        assert diagram.boxes[0].y == 54
        assert diagram.columns[0].heading_lines == [(26, "Rae (pursuer)")]

    def test_the_couple_page_draws_every_word_of_a_long_name(self) -> None:
        world = World.build()
        couple = make_couple(
            world.owner,
            partner_a=PartnerDetails(LONG_NAME, CyclePosition.PURSUER),
            partner_b=PartnerDetails("Sol", CyclePosition.WITHDRAWER),
        )
        cycle_map_save(
            couple=couple,
            author=world.owner,
            base_revision=0,
            chains={"A": [StepDraft(StepKind.TRIGGER, "a closed door")], "B": []},
        )
        self.client.force_login(world.owner)
        page = self.client.get(couple.get_absolute_url()).text
        svg = page[page.index("<svg") : page.index("</svg>")]
        drawn = re.findall(r"<tspan [^>]*>([^<]*)</tspan>", svg)
        assert "".join(drawn[:-1]).replace(" ", "").startswith(LONG_NAME.replace(" ", ""))
        assert layout(None, []).is_empty
