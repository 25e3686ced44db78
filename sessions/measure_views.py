"""Entering the per-partner measures: by the therapist, or by a partner on the partner screen.

The partner screen is a lock on the signed-in browser session: while it is on, every other
URL redirects back to it (people.middleware.PartnerScreenLockMiddleware), it shows only that
partner's questions, and only the therapist's password takes the screen back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth import logout
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.concurrency import EXPIRED_MESSAGE, StaleEdit
from flags import same_day
from people import audit
from people.access import signed_in
from sessions import partner_lock, safety_views
from sessions.measure_forms import AllianceForm, MeasureForm, ReportForm, absence_reason
from sessions.models import (
    AllianceRating,
    MeasureDefinition,
    MeasureResponse,
    PostSessionReport,
    Respondent,
    TherapySession,
)
from sessions.models.measures import ALLIANCE_ITEMS, EnteredBy
from sessions.services import measures_record, measures_stamp

PARTNER_SCREEN_KEY = partner_lock.PARTNER_SCREEN_KEY
LABELS = ("A", "B")


@dataclass
class MeasureForms:
    alliance: dict[str, AllianceForm]
    reports: dict[str, ReportForm]
    questionnaires: list[tuple[MeasureDefinition, str, MeasureForm]]

    def all(self) -> list[Any]:
        return [
            *self.alliance.values(),
            *self.reports.values(),
            *[form for _, _, form in self.questionnaires],
        ]

    def is_valid(self) -> bool:
        return all([form.is_valid() for form in self.all()])  # validate every form, show all

    def answered_any(self) -> bool:
        """After is_valid(): whether any question got an answer."""
        return any(
            value not in (None, "")
            for form in self.all()
            for name, value in form.cleaned_data.items()
            if name not in ("answered", "answers", "record_anyway")
        )

    def save(
        self, session: TherapySession, entered_by: str, user: Any, read_stamp: str | None = None
    ) -> None:
        """Store the answers; with `read_stamp` (the therapist's page), refused with
        StaleEdit when the stored measures changed since the page was drawn."""
        measures_record(
            session=session,
            entered_by=entered_by,
            recorded_by=user,
            alliance={p: f.cleaned_data for p, f in self.alliance.items()},
            reports={r: f.cleaned_data for r, f in self.reports.items()},
            responses=[(d, p, f.cleaned_data) for d, p, f in self.questionnaires],
            read_stamp=read_stamp,
            check_stamp=entered_by == EnteredBy.THERAPIST,
        )
        same_day.recheck_after_commit(session.couple_id)


def _stored_initial(session: TherapySession) -> dict[str, dict[str, Any]]:
    initial: dict[str, dict[str, Any]] = {}
    for rating in AllianceRating.objects.filter(session=session):
        initial[f"alliance-{rating.partner}"] = {n: getattr(rating, n) for n in ALLIANCE_ITEMS}
    for report in PostSessionReport.objects.filter(session=session):
        initial[f"report-{report.respondent}"] = {
            "tension": "yes" if report.tension else "no",
            "upsetting": report.upsetting,
            "resolved": report.resolved,
        }
    for response in MeasureResponse.objects.filter(session=session).select_related("definition"):
        initial[f"m-{response.definition.code}-{response.partner}"] = dict(response.answers)
    return initial


def build_forms(
    request: HttpRequest,
    session: TherapySession,
    *,
    partners: tuple[str, ...] = LABELS,
    respondents: tuple[str, ...] = tuple(Respondent.values),
    definitions: list[MeasureDefinition] | None = None,
    partner_wording: bool = False,
) -> MeasureForms:
    data = request.POST if request.method == "POST" else None
    initial = {} if partner_wording else _stored_initial(session)
    if definitions is None:
        definitions = list(MeasureDefinition.objects.visible_to(request.user))

    def kwargs(prefix: str) -> dict[str, Any]:
        return {"data": data, "prefix": prefix, "initial": initial.get(prefix)}

    return MeasureForms(
        alliance={
            p: AllianceForm(
                session=session,
                partner=p,
                partner_wording=partner_wording,
                **kwargs(f"alliance-{p}"),
            )
            for p in partners
        },
        reports={
            r: ReportForm(
                session=session,
                partner=r[-1].upper() if r != "therapist" else "",
                **kwargs(f"report-{r}"),
            )
            for r in respondents
        },
        questionnaires=[
            (
                d,
                p,
                MeasureForm(definition=d, session=session, partner=p, **kwargs(f"m-{d.code}-{p}")),
            )
            for d in definitions
            for p in partners
        ],
    )


@require_http_methods(["GET", "POST"])
def session_measures(request: HttpRequest, pk: int) -> HttpResponse:
    """The therapist enters or corrects both partners' measures and the reports."""
    user = signed_in(request)
    session = get_object_or_404(
        TherapySession.objects.editable_by(user).current().select_related("couple"), pk=pk
    )
    forms = build_forms(request, session)
    stamp = request.POST.get("measures_stamp") if request.method == "POST" else None
    stale = ""
    if request.method == "GET":
        audit.record(request, "read session measures", session)
    if request.method == "POST" and forms.is_valid():
        try:
            forms.save(session, EnteredBy.THERAPIST, user, read_stamp=stamp)
        except StaleEdit:
            stale = STALE_MEASURES if stamp else EXPIRED_MESSAGE
        else:
            messages.success(request, f"Saved the measures. {same_day.WHEN_SUPERVISOR_SEES}")
            return redirect("therapy_sessions:detail", pk=session.pk)
    partners = {p.label: p for p in session.couple.partners.all()}
    context = {
        "session": session,
        "couple": session.couple,
        "forms": forms,
        "partners": partners,
        # The stamp the next save is checked against: after a refusal, what is stored now,
        # so saving the kept answers again is a deliberate merge.
        "measures_stamp": measures_stamp(session) if stale or request.method == "GET" else stamp,
        "stale": stale,
        "saved_now": _stored_now(session, partners) if stale else [],
    }
    return render(request, "sessions/measures.html", context)


def _stored_now(session: TherapySession, partners: dict[str, Any]) -> list[tuple[str, str]]:
    """The stored answers, a line a section, shown beside a refused page's kept answers."""
    names = {label: partner.display_name for label, partner in partners.items()}
    lines = []
    for prefix, answers in _stored_initial(session).items():
        kind, _, who = prefix.rpartition("-")
        who = names.get(who, Respondent(who).label if who in Respondent.values else who)
        heading = {"alliance": "Session alliance", "report": "Post-session report"}.get(
            kind, kind.removeprefix("m-").upper()
        )
        shown = ", ".join(f"{name.replace('_', ' ')} {value}" for name, value in answers.items())
        lines.append((f"{heading} · {who}", shown))
    return lines


STALE_MEASURES = (
    "Measures for this session were saved from another tab or device after you opened this "
    "page (a partner's answers on the tablet, perhaps), so yours were not saved. Your answers "
    "are still below; what is stored now is listed here. Check both, then save again."
)


@require_POST
def partner_screen_start(request: HttpRequest, pk: int, partner: str) -> HttpResponse:
    """Hand the device to one partner: lock this browser session to their questions."""
    user = signed_in(request)
    if partner not in LABELS:
        raise Http404("No such partner.")
    session = get_object_or_404(TherapySession.objects.editable_by(user).current(), pk=pk)
    if reason := absence_reason(session, partner):
        # The partner screen can't ask "record anyway": that is the therapist's call.
        messages.error(
            request,
            f"Partner {partner} wasn't in this session ({reason}); enter their answers here "
            "and tick “record anyway” if you mean to.",
        )
        return redirect("therapy_sessions:measures", pk=session.pk)
    codes = [c for c in request.POST.getlist("include") if c]
    request.session[PARTNER_SCREEN_KEY] = {
        "session": session.pk,
        "partner": partner,
        "include": codes,
        "done": False,
        partner_lock.LOCKED_AT: partner_lock.lock_begins(),
    }
    return redirect("partner_screen")


def _locked_session(request: HttpRequest) -> tuple[dict[str, Any], TherapySession]:
    state = request.session.get(PARTNER_SCREEN_KEY)
    if not state:
        raise Http404("No partner screen is open.")
    session = get_object_or_404(
        TherapySession.objects.editable_by(request.user).current(), pk=state["session"]
    )
    return state, session


@require_http_methods(["GET", "POST"])
def partner_screen(request: HttpRequest) -> HttpResponse:
    """Only the partner's own questions, large and simple: nothing else of the record."""
    if PARTNER_SCREEN_KEY not in request.session:
        return redirect("home")
    if request.session[PARTNER_SCREEN_KEY].get("kind") == safety_views.SAFETY:
        return safety_views.partner_safety(request, request.session[PARTNER_SCREEN_KEY])
    state, session = _locked_session(request)
    partner = state["partner"]
    respondent = f"partner_{partner.lower()}"
    definitions = list(
        MeasureDefinition.objects.visible_to(request.user).filter(code__in=state["include"])
    )
    forms = build_forms(
        request,
        session,
        partners=(partner,),
        respondents=(respondent,),
        definitions=definitions,
        partner_wording=True,
    )
    if state["done"]:
        left = partner_lock.tries_left(signed_in(request), state)
        hint = partner_lock.tries_hint(left)
        return render(request, "sessions/partner_done.html", {"error": "", "hint": hint})
    nothing_yet = False
    if request.method == "POST" and forms.is_valid():
        skipped = "skip" in request.POST
        nothing_yet = not forms.answered_any() and not skipped
        if not nothing_yet:
            if not skipped:
                forms.save(session, EnteredBy.PARTNER, request.user)
            state["done"] = True
            request.session[PARTNER_SCREEN_KEY] = state
            return redirect("partner_screen")
    context = {"forms": forms, "partner": partner, "nothing_yet": nothing_yet}
    return render(request, "sessions/partner_screen.html", context)


@require_POST
def partner_screen_unlock(request: HttpRequest) -> HttpResponse:
    """Only the therapist's password takes the screen back, within the lock's tries
    (sessions.partner_lock): when they are used up the session ends, and the next page is
    the sign-in page."""
    user = signed_in(request)
    state = request.session.get(PARTNER_SCREEN_KEY)
    if not state:
        return redirect("home")
    if partner_lock.LOCKED_AT not in state:  # a lock begun before locks were dated
        state[partner_lock.LOCKED_AT] = partner_lock.lock_begins()
        request.session[PARTNER_SCREEN_KEY] = state
    attempt = partner_lock.try_unlock(request, user, state, request.POST.get("password", ""))
    if not attempt.unlocked and not attempt.tries_left:
        logout(request)  # flushes the session, the lock with it: only a full sign-in goes on
        messages.error(request, partner_lock.SIGNED_OUT)
        return redirect("account_login")
    if not attempt.unlocked:
        context = {
            "error": partner_lock.REFUSED,
            "hint": partner_lock.tries_hint(attempt.tries_left),
            "done": state["done"],
        }
        template = "sessions/partner_done.html" if state["done"] else "sessions/partner_unlock.html"
        return render(request, template, context, status=200)
    del request.session[PARTNER_SCREEN_KEY]
    messages.success(request, "Welcome back. The partner's answers are saved.")
    if state.get("kind") == safety_views.SAFETY:
        # Not the couple page: the device is back in the room, perhaps beside the other
        # partner, and that page would show the result at once. The therapist opens it later.
        return redirect("cycles:caseload")
    return redirect(reverse("therapy_sessions:measures", kwargs={"pk": state["session"]}))
