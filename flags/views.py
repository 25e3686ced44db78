"""The practice admin's "Recheck today" (flags.same_day): the runs page's other button."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from flags import runs, same_day
from people import audit
from people.access import signed_in

BACKGROUND_DOWN = (
    "Background work is unavailable right now, so today's recheck could not be started. "
    "Nothing is lost: tonight's run covers every couple, or try again in a few minutes."
)


@require_POST
def recheck_today(request: HttpRequest) -> HttpResponse:
    """Recheck today's summaries and flags of every couple, after late edits."""
    user = signed_in(request)
    if not user.is_practice_admin or user.practice_id is None:
        raise Http404("Only a practice admin rechecks the practice's flags.")
    try:
        same_day.queue_practice_recheck(user.practice_id)
    except runs.BackgroundWorkUnavailable:
        messages.error(request, BACKGROUND_DOWN)
        return redirect("ruptures:runs")
    audit.record(request, "started today's recheck")
    messages.success(
        request,
        "Rechecking today's summaries and flags for every couple in the background: "
        "supervisors see the result within a few minutes.",
    )
    return redirect("ruptures:runs")
