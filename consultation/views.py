"""Consultation groups: sharing a case, the group dashboard and the de-identified case.

Group members reach shared cases only through the de-identification layer
(consultation.deidentify); a member who left, or a share that was withdrawn, is a 404 at once.
"""

from __future__ import annotations

from typing import Any

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from consultation.deidentify import SharedCase, shared_case
from consultation.groups import active_shares, dashboard, groups_of
from cycles.diagram import Diagram, Node, layout_chains
from cycles.models import CaseShare, Couple, CyclePattern
from cycles.pdf import render_pdf
from people import audit
from people.access import signed_in
from people.models import ConsultationGroup
from sessions.safety import has_safety_concern


@require_GET
def group_list(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    groups = groups_of(user).annotate(
        case_count=Count("shares", filter=Q(shares__withdrawn_at__isnull=True))
    )
    return render(request, "consultation/groups.html", {"groups": groups})


@require_GET
def group_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = signed_in(request)
    group = get_object_or_404(groups_of(user), pk=pk)
    cases = [
        (code, CyclePattern(pattern).label, stage)
        for code, pattern, stage in active_shares(group).values_list(
            "code", "couple__cycle_pattern", "couple__eft_stage"
        )
    ]
    audit.record(request, "read group dashboard", group, detail=f"{len(cases)} cases")
    context = {"group": group, "cases": cases, "dashboard": dashboard(group)}
    return render(request, "consultation/group.html", context)


def _shared(request: HttpRequest, pk: int, code: str) -> tuple[object, SharedCase, Diagram]:
    user = signed_in(request)
    group = get_object_or_404(groups_of(user), pk=pk)
    share = get_object_or_404(active_shares(group), code=code)
    case = shared_case(share)
    return group, case, case_diagram(case)


def case_diagram(case: SharedCase) -> Diagram:
    """The de-identified cycle as a diagram: vocabulary terms only."""
    chains = {
        label: [
            Node(kind=s.kind, kind_label=s.kind_label, label=s.term or "—", move_label=s.move)
            for s in steps
        ]
        for label, steps in case.chains.items()
    }
    headings = {
        label: f"Partner {label} ({position.lower()})" for label, position in case.positions.items()
    }
    return layout_chains(chains, headings)


@require_GET
def shared_case_view(request: HttpRequest, pk: int, code: str) -> HttpResponse:
    group, case, diagram = _shared(request, pk, code)
    audit.record(request, "read shared case", case_code=case.code, detail=f"group {pk}")
    return render(
        request, "consultation/case.html", {"group": group, "case": case, "diagram": diagram}
    )


@require_GET
@reauthentication_required
def shared_case_pdf(request: HttpRequest, pk: int, code: str) -> HttpResponse:
    group, case, diagram = _shared(request, pk, code)
    audit.record(request, "export shared case pdf", case_code=case.code, detail=f"group {pk}")
    context = {"group": group, "case": case, "diagram": diagram}
    return render_pdf(request, "consultation/case_pdf.html", context, f"{case.code}.pdf")


def _chosen_group(user: Any, group_id: str) -> ConsultationGroup | None:
    """One of the user's groups, by the id the form sent; None for anything else."""
    if not (group_id.isascii() and group_id.isdigit()):
        return None
    return groups_of(user).filter(pk=int(group_id)).first()


NO_GROUP = "Choose one of your consultation groups to share into."


def _couple_and_group(
    request: HttpRequest, case_code: str, group_id: str
) -> tuple[Couple, ConsultationGroup | None]:
    """The user's own couple (else a 404) and the group chosen, if it is one of theirs (else
    None, with the message saying so)."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    group = _chosen_group(user, group_id)
    if group is None:
        messages.error(request, NO_GROUP)
    return couple, group


# A case where a partner's safety screen was ever positive is shared only with this ticked
# (sessions/safety.py): the group never sees the concern, but sharing such a case is a
# decision to take deliberately.
SAFETY_CONFIRM = "safety_considered"
SAFETY_CONFIRM_LABEL = (
    "I have considered the safety concern on this case, and sharing it de-identified is safe "
    "and useful."
)
SAFETY_CONFIRM_MISSING = (
    "This case has a safety concern. Tick the box to confirm you have considered it; nothing "
    "was shared."
)


def _preview(
    request: HttpRequest, couple: Couple, group: ConsultationGroup, error: str = ""
) -> HttpResponse:
    # An unsaved share: the code the group will know the case by is drawn when it is saved.
    case = shared_case(CaseShare(couple=couple, group=group, code="(new code)"))
    context = {
        "couple": couple,
        "group": group,
        "case": case,
        "diagram": case_diagram(case),
        "safety_confirm": has_safety_concern(couple),
        "safety_confirm_name": SAFETY_CONFIRM,
        "safety_confirm_label": SAFETY_CONFIRM_LABEL,
        "safety_confirm_error": error,
    }
    return render(request, "consultation/share_preview.html", context)


@require_GET
def share_preview(request: HttpRequest, case_code: str) -> HttpResponse:
    """Before sharing: exactly what the group's members will see, and a button to share."""
    couple, group = _couple_and_group(request, case_code, request.GET.get("group", ""))
    if group is None:
        return redirect(couple.get_absolute_url())
    audit.record(request, "read share preview", couple, detail=f"group {group.pk}")
    return _preview(request, couple, group)


@require_POST
@reauthentication_required
def share_couple(request: HttpRequest, case_code: str) -> HttpResponse:
    """Share one of your couples into a group you belong to (de-identified there)."""
    couple, group = _couple_and_group(request, case_code, request.POST.get("group", ""))
    if group is None:
        return redirect(couple.get_absolute_url())
    if has_safety_concern(couple) and request.POST.get(SAFETY_CONFIRM) != "1":
        # The preview again, with the message beside the box (status 200: htmx swaps it).
        return _preview(request, couple, group, error=SAFETY_CONFIRM_MISSING)
    try:
        with transaction.atomic():
            share = CaseShare.objects.create(
                couple=couple, group=group, shared_by=signed_in(request)
            )
    except IntegrityError:
        messages.info(request, f"Already shared into {group.name}.")
        return redirect(couple.get_absolute_url())
    audit.record(request, "share case", couple, detail=f"group {group.pk}, share {share.code}")
    messages.success(request, f"Shared into {group.name}, de-identified as {share.code}.")
    return redirect(couple.get_absolute_url())


@require_POST
@reauthentication_required
def withdraw_share(request: HttpRequest, case_code: str, share_pk: int) -> HttpResponse:
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    share = get_object_or_404(CaseShare.objects.active().filter(couple=couple), pk=share_pk)
    share.withdrawn_at = timezone.now()
    share.save(update_fields=["withdrawn_at"])
    audit.record(
        request, "withdraw share", couple, detail=f"group {share.group_id}, share {share.code}"
    )
    messages.success(request, "Withdrawn: the group no longer sees this case.")
    return redirect(couple.get_absolute_url())
