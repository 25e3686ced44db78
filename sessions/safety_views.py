"""The safety screen on the hand-over screen, and the clinician's review of a concern
(sessions/safety.py; docs/security.md, "Safety screen").

The therapist hands the device to one partner from the couple page ("Screen partner A"): the
same lock as the session's partner screen (sessions.measure_views, people.middleware), showing
that partner only the screen's questions. Nothing on the page, in its URL or in its state tells
which kind of questions were asked once the device is given back: the URLs name neither the
partner nor the screen (both are posted), and the thank-you page is the session screen's.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from cycles.models import Couple
from flags import same_day
from people import audit
from people.access import signed_in
from sessions import partner_lock, safety
from sessions.models import SafetyOutcome
from sessions.models.measures import EnteredBy

# The partner screen's session state (sessions.measure_views.PARTNER_SCREEN_KEY) for a safety
# screen: {"kind": SAFETY, "couple": id, "partner": "A", "definition": code, "done": ...}.
SAFETY = "safety"
NO_SCREEN = (
    "Your practice has no safety screen yet: a practice admin adds one in the admin, as a "
    "measure definition of kind “safety screen”."
)


def _posted_partner(request: HttpRequest) -> str:
    partner = request.POST.get("partner", "")
    if partner not in ("A", "B"):
        raise Http404("No such partner.")
    return partner


@require_POST
def hand_over(request: HttpRequest, case_code: str) -> HttpResponse:
    """Hand the device to one partner for the practice's safety screen: lock this browser
    session to that partner's questions (the partner and the screen are posted, not in the
    URL)."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    partner = _posted_partner(request)
    if couple.is_closed:
        messages.error(request, "This case is closed: reopen it to screen a partner.")
        return redirect(couple.get_absolute_url())
    definitions = safety.safety_definitions(couple.practice_id)
    chosen = request.POST.get("definition", "")
    definition = next((d for d in definitions if d.code == chosen), None)
    if definition is None and len(definitions) == 1 and not chosen:
        definition = definitions[0]
    if definition is None:
        messages.error(request, NO_SCREEN if not definitions else "Choose a safety screen.")
        return redirect(couple.get_absolute_url())
    request.session[partner_lock.PARTNER_SCREEN_KEY] = {
        "kind": SAFETY,
        "couple": couple.pk,
        "session": None,
        "partner": partner,
        "definition": definition.code,
        "include": [],
        "done": False,
        # Made once per hand-over: a double-sent form saves one screen (safety.record_screen).
        "token": str(uuid.uuid4()),
        partner_lock.LOCKED_AT: partner_lock.lock_begins(),
    }
    return redirect("partner_screen")


def partner_safety(request: HttpRequest, state: dict[str, Any]) -> HttpResponse:
    """The partner screen while it holds a safety screen (sessions.measure_views routes here):
    the screen's questions only, for this partner only."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), pk=state["couple"])
    if state["done"]:
        hint = partner_lock.tries_hint(partner_lock.tries_left(user, state))
        return render(request, "sessions/partner_done.html", {"error": "", "hint": hint})
    definition = safety.safety_definition(couple.practice_id, state["definition"])
    if definition is None:  # withdrawn by the practice meanwhile: nothing to ask
        state["done"] = True
        request.session[partner_lock.PARTNER_SCREEN_KEY] = state
        return redirect("partner_screen")
    data = request.POST if request.method == "POST" else None
    form = safety.SafetyScreenForm(data, definition=definition)
    nothing_yet = False
    if request.method == "POST" and form.is_valid():
        answered = form.cleaned_data["answered"]
        nothing_yet = not answered and "skip" not in request.POST
        if not nothing_yet:
            if answered:
                safety.record_screen(
                    couple=couple,
                    partner=state["partner"],
                    definition=definition,
                    answers=form.cleaned_data["answers"],
                    entered_by=EnteredBy.PARTNER,
                    recorded_by=user,
                    request_token=uuid.UUID(state["token"]),
                )
                same_day.recheck_after_commit(couple.pk)
            state["done"] = True
            request.session[partner_lock.PARTNER_SCREEN_KEY] = state
            return redirect("partner_screen")
    context = {"form": form, "intro": safety.PARTNER_INTRO, "nothing_yet": nothing_yet}
    return render(request, "sessions/partner_safety.html", context)


@require_POST
def review(request: HttpRequest, case_code: str) -> HttpResponse:
    """The therapist or supervisor records that a partner's concern was assessed, seeing the
    partner alone: the safety concern closes at the recheck that follows."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.visible_to(user), case_code=case_code)
    partner = _posted_partner(request)
    outcome = request.POST.get("outcome", "")
    if outcome not in SafetyOutcome.values:
        messages.error(request, "Choose what the assessment found before recording it.")
        return redirect(couple.get_absolute_url())
    try:
        token = uuid.UUID(request.POST.get("request_token", ""))
    except ValueError:
        token = None
    safety.record_review(
        couple=couple, partner=partner, outcome=outcome, reviewed_by=user, request_token=token
    )
    same_day.recheck_after_commit(couple.pk)
    audit.record(request, "record assessment", couple)
    messages.success(
        request,
        "Recorded. The concern closes within a few minutes, when the case's flags are "
        "rechecked; its history stays on the case.",
    )
    return redirect(couple.get_absolute_url())
