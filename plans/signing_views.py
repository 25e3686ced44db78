"""One revision of the plan, what changed since the one before, and its co-signature: the
page a supervisor opens from their sign-off queue to co-sign it or send it back
(plans.signing; docs/domain.md, "Signing").

Reads start from `Couple.objects.visible_to(user)` (the therapist and their supervisor);
anything else is a 404. Only a supervisor of the revision's author reviews it.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Max, Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from cycles.models import Couple
from people import audit
from people.access import signed_in
from plans import diff, signing
from plans.models import PlanCosignState, PlanGoal, PlanRevision


@require_GET
def revision_detail(request: HttpRequest, case_code: str, revision: int) -> HttpResponse:
    """Revision N as saved, compared with N-1, where it stands with the supervisor, and (for
    a supervisor of its author, while it awaits) the co-sign and send-back form."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.visible_to(user), case_code=case_code)
    read = {
        p.revision: p
        for p in couple.plan_revisions.filter(revision__in=[revision - 1, revision])
        .select_related("author", "reviewed_by")
        .prefetch_related(Prefetch("goals", queryset=PlanGoal.objects.order_by("position")))
    }
    plan = read.get(revision)
    if plan is None:
        raise Http404("No such revision of this plan.")
    previous = read.get(revision - 1)
    latest, last_cosigned = _latest_and_last_cosigned(couple, revision)
    awaiting = plan.cosign_state == PlanCosignState.AWAITING
    may_review = awaiting and latest == revision and signing.may_cosign(user, plan)
    audit.record(request, "read plan", couple, detail=f"revision={revision}")
    context = {
        "couple": couple,
        "plan": plan,
        "previous": previous,
        "changes": diff.compare(previous, plan) if previous else None,
        "latest": latest,
        "last_cosigned": last_cosigned,
        "cosigners": signing.cosigners([plan.author_id]).get(plan.author_id, [])
        if awaiting
        else [],
        "may_review": may_review,
    }
    return render(request, "plans/revision.html", context)


def _latest_and_last_cosigned(couple: Couple, revision: int) -> tuple[int, int | None]:
    """The plan's latest revision number, and the last revision before `revision` that was
    co-signed (what a supervisor compares against when some were never co-signed): one query."""
    found = couple.plan_revisions.aggregate(
        latest=Max("revision"),
        last_cosigned=Max(
            "revision", filter=Q(revision__lt=revision, cosign_state=PlanCosignState.COSIGNED)
        ),
    )
    return found["latest"] or revision, found["last_cosigned"]


@require_POST
def revision_review(request: HttpRequest, case_code: str, revision: int) -> HttpResponse:
    """A supervisor of the revision's author co-signs it or sends it back with a comment."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.visible_to(user), case_code=case_code)
    plan = get_object_or_404(PlanRevision.objects.filter(couple=couple), revision=revision)
    here = redirect("plans:revision", case_code=couple.case_code, revision=revision)
    if not signing.may_cosign(user, plan):
        messages.error(request, "Only a supervisor of the plan's author co-signs it.")
        return here
    comment = request.POST.get("comment", "")[:2000]
    sending_back = request.POST.get("outcome") == "request_changes"
    try:
        if sending_back:
            reviewed, recorded = signing.request_changes(plan, by=user, comment=comment)
        else:
            reviewed, recorded = signing.cosign(plan, by=user, comment=comment)
    except signing.StaleReview as stale:
        messages.error(request, str(stale))
        return redirect("plans:revision", case_code=couple.case_code, revision=stale.current)
    except signing.SignOffRefused as refused:
        messages.error(request, str(refused))
        return here
    if recorded:
        detail = f"revision={reviewed.revision}"
        action = "requested changes to plan" if sending_back else "co-signed plan"
        audit.record(request, action, reviewed, detail=detail)
    what = f"revision {reviewed.revision} of {couple.case_code}'s treatment plan"
    if sending_back:
        messages.success(request, f"Sent {what} back with your comment.")
    else:
        messages.success(request, f"Co-signed {what}.")
    return redirect("therapy_sessions:cosign_queue")
