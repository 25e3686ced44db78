"""The cycle-map editor's working draft.

The editor is one form that round-trips through the server: adding, removing or moving a
step posts the whole draft with an `action`, and the server answers with the draft changed.
It works the same without JavaScript (a full page) and with htmx (the editor region only),
and nothing typed is lost between round trips. `save` validates every step and writes a new
revision through `cycles.services.cycle_map_save`.

Each partner's chain is a Django formset (`cycles.forms.StepFormSet`, prefixed "A" or "B").
A post is read through the formset into rows, plain dicts of what was typed; the buttons
change the rows (a formset has no "move up"), and the rows become a formset again: unbound,
to show the changed draft, or bound, to validate it for saving.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from cycles.forms import MAX_STEPS_PER_CHAIN, BaseStepFormSet, StepForm, StepFormSet
from cycles.models import CycleMap, CyclePosition, EmotionTerm, Partner, StepKind
from cycles.services import StepDraft

if TYPE_CHECKING:
    from django.forms.utils import ErrorList
    from django.http import QueryDict

STEP_FIELDS = tuple(StepForm.base_fields)
LABELS = ("A", "B")

# A new map starts from EFT's chain as therapists first sketch it, so the therapist fills in
# rather than builds; perception and body response are added on demand ("Add a step").
STARTER_KINDS = [
    StepKind.TRIGGER,
    StepKind.SECONDARY_EMOTION,
    StepKind.PRIMARY_EMOTION,
    StepKind.ATTACHMENT_NEED,
    StepKind.ACTION,
]

Row = dict[str, str]


def blank_row() -> Row:
    return dict.fromkeys(STEP_FIELDS, "")


def starter_rows(partner: Partner) -> list[Row]:
    """EFT's chain as slots to fill; a slot left without an emotion or words is not saved."""
    move = "withdrawing" if partner.position == CyclePosition.WITHDRAWER else "pursuing"
    return [
        blank_row()
        | {"kind": kind, "move": move if kind == StepKind.ACTION else "", "starter": "1"}
        for kind in STARTER_KINDS
    ]


def rows_from_map(cycle_map: CycleMap | None, partners: dict[str, Partner]) -> dict[str, list[Row]]:
    if cycle_map is None:
        return {label: starter_rows(partners[label]) for label in LABELS}
    rows: dict[str, list[Row]] = {label: [] for label in LABELS}
    for step in cycle_map.steps.all():
        label = "A" if step.partner_id == partners["A"].pk else "B"
        rows[label].append(
            blank_row()
            | {
                "kind": step.kind,
                "term": step.emotion.name if step.emotion_id else "",  # type: ignore[union-attr]
                "text": step.text,
                "move": step.move,
            }
        )
    return rows


# Longer than any step field may be, so the step form refuses an over-long value beside its
# field (never cut silently); short enough that a hand-made post can't bloat the page.
MAX_POSTED = 1000


def rows_of(formset: BaseStepFormSet) -> list[Row]:
    """The formset's rows as typed, valid or not; at most MAX_STEPS_PER_CHAIN of them
    (the formset's absolute_max), none if its management form is missing or garbled."""
    rows = []
    for form in formset.forms:
        row = {name: str(form[name].data or "")[:MAX_POSTED] for name in STEP_FIELDS}
        row["starter"] = "1" if row["starter"] == "1" else ""
        rows.append(row)
    return rows


def rows_from_post(
    data: QueryDict, vocabulary: dict[str, EmotionTerm]
) -> tuple[dict[str, list[Row]], dict[str, ErrorList]]:
    """Each chain's rows as posted, and what, if anything, made a chain's post unreadable as
    a whole (its management form missing or garbled, or more steps than a chain holds)."""
    rows, refusals = {}, {}
    for label in LABELS:
        posted = StepFormSet(data, prefix=label, vocabulary=vocabulary)
        rows[label] = rows_of(posted)
        refusals[label] = posted.non_form_errors()
    return rows, refusals


def apply_action(rows: dict[str, list[Row]], action: str) -> str | None:
    """Change the draft as the button asked; return the id of the row to focus next."""
    verb, _, rest = action.partition(":")
    label, _, position = rest.partition(":")
    if label not in LABELS:
        return None
    chain = rows[label]
    if verb == "add" and len(chain) < MAX_STEPS_PER_CHAIN:
        chain.append(blank_row())
        return f"id_{label}-{len(chain) - 1}-kind"
    if not position.isdigit() or int(position) >= len(chain):
        return None
    index = int(position)
    if verb == "remove":
        chain.pop(index)
        return f"add-{label}"
    if verb == "up" and index > 0:
        chain[index - 1], chain[index] = chain[index], chain[index - 1]
        return f"id_{label}-{index - 1}-kind"
    if verb == "down" and index < len(chain) - 1:
        chain[index + 1], chain[index] = chain[index], chain[index + 1]
        return f"id_{label}-{index + 1}-kind"
    return None


@dataclass
class Chain:
    partner: Partner
    formset: BaseStepFormSet
    # Why the chain's post could not be read as a whole (rows_from_post); shown above it.
    refusals: ErrorList | None = None

    @property
    def label(self) -> str:
        return self.partner.label

    @property
    def add_button_id(self) -> str:
        return f"add-{self.label}"

    @property
    def forms(self) -> list[StepForm]:
        return self.formset.forms

    def valid(self) -> bool:
        return not self.refusals and self.formset.is_valid()


def as_posted(formset: BaseStepFormSet) -> dict[str, Any]:
    """What the browser posts for an unbound formset: its management form and every form's
    values, under the names the formset gives them."""
    management = formset.management_form
    data = {management.add_prefix(name): value for name, value in management.initial.items()}
    for form in formset.forms:
        data |= {form.add_prefix(name): value for name, value in form.initial.items()}
    return data


def build_chains(
    rows: dict[str, list[Row]],
    partners: dict[str, Partner],
    vocabulary: dict[str, EmotionTerm],
    *,
    bound: bool,
    refusals: dict[str, ErrorList] | None = None,
) -> list[Chain]:
    """Each partner's rows as a formset: unbound to show them, or bound (to the rows as the
    page would post them, so a refused row's errors sit beside its fields) to save them."""
    chains = []
    for label in LABELS:
        formset = StepFormSet(prefix=label, initial=rows[label], vocabulary=vocabulary)
        if bound:
            formset = StepFormSet(as_posted(formset), prefix=label, vocabulary=vocabulary)
        refused = (refusals or {}).get(label)
        chains.append(Chain(partner=partners[label], formset=formset, refusals=refused))
    return chains


def drafts_from(chains: list[Chain]) -> dict[str, list[StepDraft]]:
    """Valid, non-empty rows as drafts; a row left entirely blank is dropped."""
    drafts: dict[str, list[StepDraft]] = {}
    for chain in chains:
        drafts[chain.label] = [
            StepDraft(
                kind=form.cleaned_data["kind"],
                text=form.cleaned_data["text"],
                emotion=form.cleaned_data["emotion"],
                move=form.cleaned_data.get("move") or "",
            )
            for form in chain.forms
            if form.cleaned_data.get("kind")
        ]
    return drafts


def is_unused(row: Row) -> bool:
    """A row with no kind, emotion or words, or a starter slot (EFT's chain a new map opens
    with) left without an emotion or words, is an unused slot, not a step. A step the
    therapist added and gave only a kind is not: it is refused, so nothing meant is lost."""
    said = [row.get(name, "").strip() for name in ("term", "text")]
    if row.get("starter"):
        return not any(said)
    return not any([row.get("kind", "").strip(), *said])


def drop_blank_rows(rows: dict[str, list[Row]]) -> tuple[dict[str, list[Row]], int]:
    """The rows that are steps, and how many starter slots were left unused."""
    kept = {label: [r for r in chain if not is_unused(r)] for label, chain in rows.items()}
    unused_starters = sum(
        1 for chain in rows.values() for r in chain if r.get("starter") and is_unused(r)
    )
    return kept, unused_starters


def saved_message(cycle_map: CycleMap, unused_starters: int) -> str:
    message = f"Saved revision {cycle_map.revision} of the map."
    if unused_starters:
        steps = "step was" if unused_starters == 1 else "steps were"
        message += f" {unused_starters} empty starter {steps} left out."
    return message


def chains_valid(chains: list[Chain]) -> bool:
    return all([chain.valid() for chain in chains])


@dataclass(frozen=True)
class StepChange:
    sign: str  # "+" added, "-" removed, " " unchanged
    kind: str
    label: str


def describe(cycle_map: CycleMap, partner: Partner) -> list[tuple[str, str]]:
    kinds = dict(StepKind.choices)
    return [
        (kinds[step.kind], step.label + (f" ({step.get_move_display()})" if step.move else ""))
        for step in cycle_map.steps.all()
        if step.partner_id == partner.pk
    ]


def compare(older: CycleMap, newer: CycleMap, partner: Partner) -> list[StepChange]:
    """What changed in one partner's chain between two revisions, step by step."""
    before, after = describe(older, partner), describe(newer, partner)
    changes: list[StepChange] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            changes += [StepChange(" ", *step) for step in before[i1:i2]]
            continue
        changes += [StepChange("-", *step) for step in before[i1:i2]]
        changes += [StepChange("+", *step) for step in after[j1:j2]]
    return changes


def vocabulary_for(user: Any) -> dict[str, EmotionTerm]:
    return {term.name.lower(): term for term in EmotionTerm.objects.visible_to(user)}
