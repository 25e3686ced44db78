"""The couple's treatment plan: its page with progress read from the record, its form, marking
a goal, and its history with a comparison of any two revisions.

Reads start from `Couple.objects.visible_to(user)` (the therapist and their supervisor),
writes from `editable_by(user)` (the couple's own therapist); anything else is a 404.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.db.models import Prefetch, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.http import posted_number
from core.revisions import compared as revisions_compared
from cycles.models import Couple, CycleMap, CycleStep
from people import audit
from people.access import may_edit, signed_in
from plans import diff, signing
from plans.forms import GoalFormSet, PlanForm, Targets, check_review_dates, step_snapshot
from plans.models import GoalStatus, PlanCosignState, PlanGoal, PlanRevision
from plans.progress import plan_progress
from plans.services import GoalDraft, GoalNotFound, StalePlan, goal_mark, latest_plan, plan_save
from plans.starter import PLAN_REVIEW_AFTER, starter_goals

# Empty goal slots under the plan's goals: a new goal is written into one (more after saving).
BLANK_SLOTS = 2


def map_steps(couple: Couple) -> list[CycleStep]:
    """The steps of the couple's current cycle map, in order: one query."""
    latest = CycleMap.objects.filter(couple=couple).order_by("-revision").values("pk")[:1]
    return list(
        CycleStep.objects.filter(cycle_map_id=Subquery(latest))
        .select_related("emotion", "partner")
        .order_by("partner__label", "position")
    )


def offered_targets(steps: list[CycleStep], plan: PlanRevision | None) -> Targets:
    """What a goal may target: the current map's steps, and the steps the plan already names
    from an earlier map (kept as the plan saved them, so re-saving never drops them)."""
    offered: Targets = {str(step.pk): step_snapshot(step) for step in steps}
    for goal in plan.goals.all() if plan else []:
        for target in goal.targets:
            offered.setdefault(str(target.get("step")), dict(target) | {"earlier": True})
    return offered


def _goal_initial(goal: PlanGoal) -> dict[str, Any]:
    return {
        "stage": goal.stage,
        "targets": [str(t.get("step")) for t in goal.targets],
        "interventions": goal.interventions,
        "evidence": goal.evidence,
        "status": goal.status,
        "review_on": goal.review_on,
    }


@require_GET
def plan_detail(request: HttpRequest, case_code: str) -> HttpResponse:
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.visible_to(user), case_code=case_code)
    return _plan_page(request, couple, may_edit(user, couple))


def _plan_page(
    request: HttpRequest,
    couple: Couple,
    can_edit: bool,
    *,
    conflict: PlanRevision | None = None,
    refusal: str = "",
) -> HttpResponse:
    """The plan page, with a refused mark's conflict or reason when there is one."""
    plan = latest_plan(couple)
    goals = list(plan.goals.all()) if plan else []
    progress = plan_progress(plan, goals) if plan else []
    has_map = bool(plan is None and can_edit and couple.cycle_maps.exists())
    cosigners: list[Any] = []
    if plan is not None and plan.cosign_state == PlanCosignState.AWAITING:
        cosigners = signing.cosigners([plan.author_id]).get(plan.author_id, [])
    audit.record(request, "read plan", couple, detail=f"revision={plan.revision if plan else 0}")
    context = {
        "couple": couple,
        "plan": plan,
        "progress": progress,
        "can_edit": can_edit,
        "has_map": has_map,
        "statuses": [s for s in GoalStatus if s != GoalStatus.OPEN],
        "conflict": conflict,
        "refusal": refusal,
        "token": uuid.uuid4,
        "cosigners": cosigners,
    }
    return render(request, "plans/plan.html", context)


@require_http_methods(["GET", "POST"])
def plan_edit(request: HttpRequest, case_code: str) -> HttpResponse:
    """Write the plan: every save is a new revision; a draft from the map only fills the form.

    `base_revision` is the revision the form was opened at: a save after someone else's is
    refused with the newer revision shown and what was typed kept; the form's request token
    makes a double submit save once (plans.services.plan_save).
    """
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    current = latest_plan(couple)
    steps = map_steps(couple)
    targets = offered_targets(steps, current)
    conflict = None
    drafted = False
    if request.method == "GET":
        drafted = request.GET.get("draft") == "map" and bool(steps)
        plan_form, formset = _opened(couple, current, steps, targets, drafted=drafted)
        detail = f"edit form revision={current.revision if current else 0}"
        audit.record(request, "read plan", couple, detail=detail + (" draft" if drafted else ""))
    else:
        plan_form = PlanForm(request.POST)
        formset = GoalFormSet(request.POST, prefix="goals", targets=targets)
        valid = plan_form.is_valid() & formset.is_valid()
        goal_forms = formset.goals()
        dates_fine = check_review_dates(plan_form, goal_forms)
        if valid and dates_fine:
            data = plan_form.cleaned_data
            try:
                plan, created = plan_save(
                    couple=couple,
                    author=user,
                    base_revision=data["base_revision"],
                    plan_date=data["plan_date"],
                    review_on=data["review_on"],
                    goals=[_draft(form) for form in goal_forms],
                    change_note=data["change_note"],
                    request_token=plan_form.token(),
                )
            except StalePlan as stale:
                conflict = latest_plan(couple)
                posted = request.POST.copy()
                posted["base_revision"] = str(stale.current)
                plan_form = PlanForm(posted)
                plan_form.is_valid()
                formset = GoalFormSet(posted, prefix="goals", targets=targets)
                formset.is_valid()
            else:
                audit.record(request, "save plan", plan, detail=f"revision={plan.revision}")
                if created:
                    messages.success(
                        request, f"Saved revision {plan.revision} of the plan.{_awaits(plan)}"
                    )
                return redirect("plans:detail", case_code=couple.case_code)
    context = {
        "couple": couple,
        "current": current,
        "plan_form": plan_form,
        "formset": formset,
        "conflict": conflict,
        "drafted": drafted,
        "has_map": bool(steps),
    }
    return render(request, "plans/plan_edit.html", context)


def _awaits(plan: PlanRevision) -> str:
    """What a saved revision's author is told when it goes to their supervisor."""
    if plan.cosign_state == PlanCosignState.AWAITING:
        return " It now waits for your supervisor's co-signature."
    return ""


def _opened(
    couple: Couple,
    current: PlanRevision | None,
    steps: list[CycleStep],
    targets: Targets,
    *,
    drafted: bool,
) -> tuple[PlanForm, Any]:
    today = timezone.localdate()
    plan_date = current.plan_date if current else today
    plan_form = PlanForm(
        initial={
            "base_revision": current.revision if current else 0,
            "plan_date": plan_date,
            "review_on": current.review_on if current else today + PLAN_REVIEW_AFTER,
        }
    )
    if drafted:
        goals = starter_goals(steps, list(couple.partners.all()), plan_date)
    else:
        goals = [_goal_initial(goal) for goal in current.goals.all()] if current else []
    blanks = [{"status": GoalStatus.OPEN} for _ in range(BLANK_SLOTS)]
    formset = GoalFormSet(initial=goals + blanks, prefix="goals", targets=targets)
    return plan_form, formset


def _draft(form: Any) -> GoalDraft:
    data = form.cleaned_data
    return GoalDraft(
        stage=data["stage"],
        interventions=data["interventions"],
        evidence=data["evidence"],
        review_on=data["review_on"],
        status=data["status"],
        targets=form.snapshot(),
    )


def _posted_token(request: HttpRequest) -> uuid.UUID | None:
    try:
        return uuid.UUID(request.POST.get("request_token", ""))
    except ValueError:
        return None


@require_POST
def goal_mark_view(request: HttpRequest, case_code: str) -> HttpResponse:
    """Mark a goal met, revised or dropped: a new revision of the plan, guarded like a save."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    position = posted_number(request, "position")
    base_revision = posted_number(request, "base_revision")
    status = request.POST.get("status", "")
    if position is None or base_revision is None or status not in GoalStatus.values:
        refusal = "Choose a goal and what to mark it; nothing was changed."
        return _plan_page(request, couple, True, refusal=refusal)
    try:
        plan, created = goal_mark(
            couple=couple,
            author=user,
            base_revision=base_revision,
            position=position,
            status=status,
            request_token=_posted_token(request),
        )
    except GoalNotFound:
        refusal = f"The plan has no goal {position} to mark; nothing was changed."
        return _plan_page(request, couple, True, refusal=refusal)
    except StalePlan:
        return _plan_page(request, couple, True, conflict=latest_plan(couple))
    audit.record(request, "save plan", plan, detail=f"revision={plan.revision} marked")
    if created:
        label = GoalStatus(status).label.lower()
        messages.success(
            request,
            f"Goal {position} marked {label}: revision {plan.revision} of the plan.{_awaits(plan)}",
        )
    return redirect("plans:detail", case_code=couple.case_code)


@require_GET
def plan_history(request: HttpRequest, case_code: str) -> HttpResponse:
    """Every revision of the plan, and what changed between any two of them."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.visible_to(user), case_code=case_code)
    revisions = list(
        couple.plan_revisions.select_related("author", "reviewed_by").order_by("-revision")
    )
    comparison = _comparison(request, couple, revisions)
    detail = f"revisions={len(revisions)}"
    if comparison is not None:
        detail += f" compared={comparison['older'].revision}-{comparison['newer'].revision}"
    audit.record(request, "read plan history", couple, detail=detail)
    context = {
        "couple": couple,
        "revisions": revisions,
        "current_revision": revisions[0].revision if revisions else 0,
        "comparison": comparison,
    }
    return render(request, "plans/plan_history.html", context)


def _comparison(
    request: HttpRequest, couple: Couple, revisions: list[PlanRevision]
) -> dict[str, Any] | None:
    pair = revisions_compared(request.GET, [r.revision for r in revisions])
    if pair is None:
        return None
    older_n, newer_n = pair
    plans = {
        p.revision: p
        for p in couple.plan_revisions.filter(revision__in=[older_n, newer_n]).prefetch_related(
            Prefetch("goals", queryset=PlanGoal.objects.order_by("position"))
        )
    }
    older, newer = plans[older_n], plans[newer_n]
    return {"older": older, "newer": newer, "changes": diff.compare(older, newer)}
