"""The plan's form: the plan's dates and a formset of its goals.

A goal's targets are chosen from the couple's current cycle map (and the steps the plan
already names, from an earlier map): a step of another couple's map is not a choice, so a
tampered post is refused beside the field (plans.views.plan_edit).
"""

from __future__ import annotations

from typing import Any, cast

from django import forms

from core.concurrency import CreateForm
from core.dates import DateTextField, show
from cycles.models import CycleStep, EFTStage, StepKind
from plans.models import Evidence, GoalStatus

MAX_GOALS = 20
NO_STAGE = "Choose the EFT stage this goal belongs to."
BEFORE_PLAN = "The review date can't be before the plan's date ({date})."

# What a target names, as stored (PlanGoal.targets) and offered: value -> snapshot.
Targets = dict[str, dict[str, Any]]


def step_snapshot(step: CycleStep) -> dict[str, Any]:
    """A cycle-map step as a goal's target keeps it (PlanGoal.targets)."""
    return {"step": step.pk, "partner": step.partner.label, "kind": step.kind, "words": step.label}


def target_label(snapshot: dict[str, Any]) -> str:
    kind = StepKind(snapshot["kind"]).label if snapshot["kind"] in StepKind.values else ""
    earlier = " (an earlier map)" if snapshot.get("earlier") else ""
    return f"Partner {snapshot['partner']} · {kind}: {snapshot['words']}{earlier}"


class PlanForm(CreateForm):
    """The plan's own fields and its guards: the revision it was read at, the request token."""

    base_revision = forms.IntegerField(widget=forms.HiddenInput, min_value=0, initial=0)
    plan_date = DateTextField(label="Plan date")
    review_on = DateTextField(label="Plan review date")
    change_note = forms.CharField(label="What changed (optional)", max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        plan_date, review_on = cleaned.get("plan_date"), cleaned.get("review_on")
        if plan_date and review_on and review_on < plan_date:
            self.add_error("review_on", BEFORE_PLAN.format(date=show(plan_date)))
        return cleaned


class GoalForm(forms.Form):
    stage = forms.TypedChoiceField(
        label="EFT stage",
        choices=[("", "— choose —"), *EFTStage.choices],
        coerce=int,
        error_messages={"required": NO_STAGE},
    )
    targets = forms.MultipleChoiceField(
        label="Cycle-map elements it targets",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        error_messages={
            "invalid_choice": "Choose targets from this couple's current cycle map: "
            "%(value)s is not one of its steps."
        },
    )
    interventions = forms.CharField(
        label="Interventions intended",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": "Say what you intend to do for this goal."},
    )
    evidence = forms.ChoiceField(
        label="Evidence it is met",
        choices=[("", "— choose —"), *Evidence.choices],
        error_messages={"required": "Choose what in the record will show this goal is met."},
    )
    status = forms.ChoiceField(choices=GoalStatus.choices, initial=GoalStatus.OPEN)
    review_on = DateTextField(
        label="Goal review date",
        error_messages={"required": "Give the date this goal is to be reviewed."},
    )

    def __init__(self, *args: Any, targets: Targets | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offered = targets or {}
        self.fields["targets"].choices = [  # type: ignore[attr-defined]
            (value, target_label(snapshot)) for value, snapshot in self.offered.items()
        ]

    def is_blank(self) -> bool:
        """Nothing typed in a bound row (its status aside): an unused slot, not a goal."""
        if not self.is_bound:
            return False
        names = ("stage", "interventions", "evidence", "review_on")
        typed = [str(self[name].data or "").strip() for name in names]
        return not any(typed) and not self["targets"].data

    def full_clean(self) -> None:
        if self.is_blank():
            self.cleaned_data, self._errors = {}, forms.utils.ErrorDict()
            return
        super().full_clean()

    def snapshot(self) -> list[dict[str, Any]]:
        """The chosen targets as stored (PlanGoal.targets)."""
        chosen = [self.offered[value] for value in self.cleaned_data.get("targets", [])]
        return [{k: v for k, v in target.items() if k != "earlier"} for target in chosen]


class BaseGoalFormSet(forms.BaseFormSet):  # type: ignore[type-arg]
    default_error_messages = {
        "missing_management_form": (
            "The goals could not be read from the form, so nothing was saved. "
            "Open the plan again to go on."
        ),
        "too_many_forms": f"A plan holds at most {MAX_GOALS} goals.",
    }

    def __init__(self, *args: Any, targets: Targets | None = None, **kwargs: Any) -> None:
        self.targets = targets or {}
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index: int | None) -> dict[str, Any]:
        return {**super().get_form_kwargs(index), "targets": self.targets}

    def goals(self) -> list[GoalForm]:
        """The rows that are goals: blank slots left out."""
        return [form for form in self.forms if not form.is_blank()]

    def clean(self) -> None:
        if not self.management_form.is_valid():
            return  # already refused as a whole (missing_management_form)
        if not any(form.is_valid() for form in self.goals()) and not any(
            form.errors for form in self.forms
        ):
            raise forms.ValidationError("Write at least one goal.")


# The factory's annotation forgets the subclass (and its `targets` argument): cast back.
GoalFormSet = cast(
    "type[BaseGoalFormSet]",
    forms.formset_factory(
        GoalForm,
        formset=BaseGoalFormSet,
        extra=0,
        max_num=MAX_GOALS,
        absolute_max=MAX_GOALS,
        validate_max=True,
    ),
)


def check_review_dates(plan_form: PlanForm, goal_forms: list[GoalForm]) -> bool:
    """No goal reviewed before the plan's date: each refused beside its own field."""
    plan_form.is_valid()
    plan_date = plan_form.cleaned_data.get("plan_date")
    fine = True
    for form in goal_forms:
        form.is_valid()
        review_on = form.cleaned_data.get("review_on")
        if plan_date and review_on and review_on < plan_date:
            form.add_error("review_on", BEFORE_PLAN.format(date=show(plan_date)))
            fine = False
    return fine
