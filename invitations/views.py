"""The partner's page a private link opens, and the therapist's "Partners answer remotely"
panel on the couple page (docs/domain.md, "Remote answers").

The partner's page answers without a sign-in (`login_not_required`) and grants nothing
beyond its own questions: it never signs anyone in, writes the session or sets a cookie, it shows no
navigation, no name and nothing of the other partner, and every response is `no-store`,
`no-referrer` and under a CSP that allows no script at all. A used, expired, revoked or
unknown link, or one of a closed case, gets the same page saying it no longer works.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from core.http import is_htmx
from cycles.models import Couple
from invitations import services
from invitations.forms import (
    BOTH,
    ContactForm,
    RemoteAllianceForm,
    RemoteMeasureForm,
    RemoteReportForm,
    SendForm,
)
from invitations.models import LIVE, Invitation, Purpose
from people import audit
from people.access import may_edit, signed_in
from people.models import AccessEvent
from sessions.models import MeasureDefinition
from sessions.safety import PARTNER_INTRO, SafetyScreenForm

# The partner's page runs no script, so none is allowed; its only form posts to itself.
PARTNER_PAGE_CSP = {
    "default-src": [CSP.NONE],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
}
NOTHING_YET = "You haven't answered any question yet. Answer the ones you'd like to, then send."
PANEL_SHOWN = 20


@dataclass
class Questions:
    """The partner's forms for one link, by kind."""

    alliance: dict[str, RemoteAllianceForm] = field(default_factory=dict)
    reports: dict[str, RemoteReportForm] = field(default_factory=dict)
    measures: list[tuple[MeasureDefinition, RemoteMeasureForm]] = field(default_factory=list)
    screens: list[tuple[MeasureDefinition, SafetyScreenForm]] = field(default_factory=list)

    def all(self) -> list[Any]:
        return [
            *self.alliance.values(),
            *self.reports.values(),
            *[form for _, form in self.measures],
            *[form for _, form in self.screens],
        ]

    def is_valid(self) -> bool:
        return all([form.is_valid() for form in self.all()])  # every form's errors shown

    def answered_any(self) -> bool:
        return any(form.cleaned_data.get("answered") for form in self.all())


def questions_for(request: HttpRequest, invitation: Invitation) -> Questions:
    data = request.POST if request.method == "POST" else None
    partner, session = invitation.partner, invitation.session
    questions = Questions()
    if invitation.purpose == Purpose.SESSION and session is not None:
        questions.alliance[partner] = RemoteAllianceForm(
            data, session=session, partner=partner, prefix=f"alliance-{partner}"
        )
        respondent = f"partner_{partner.lower()}"
        questions.reports[respondent] = RemoteReportForm(
            data, session=session, partner=partner, prefix=f"report-{respondent}"
        )
    for definition in services.definitions(invitation):
        if definition.is_safety_screen:
            questions.screens.append(
                (definition, SafetyScreenForm(data, definition=definition, prefix="s"))
            )
        elif session is not None:
            form = RemoteMeasureForm(
                data,
                definition=definition,
                session=session,
                partner=partner,
                prefix=f"m-{definition.code}",
            )
            questions.measures.append((definition, form))
    return questions


def _private(response: HttpResponse) -> HttpResponse:
    """No copy kept anywhere, and the link never leaves in a Referer header."""
    response["Cache-Control"] = "no-store, private, max-age=0"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _audit_partner(request: HttpRequest, action: str, invitation: Invitation) -> None:
    """An event of the partner's page: nobody signed in, so the practice is the couple's
    (people.audit.record takes it from the person), and the practice admin's trail shows it.
    The link's id and case code only: never the purpose, an answer or an address."""
    AccessEvent.objects.create(
        practice_id=invitation.couple.practice_id,
        action=action,
        object_type="invitation",
        object_id=str(invitation.pk),
        case_code=invitation.couple.case_code,
        ip=audit.client_ip(request),
    )


def _dead(request: HttpRequest, *, throttled: bool = False) -> HttpResponse:
    status = 429 if throttled else 200
    response = render(request, "invitations/dead.html", {"throttled": throttled}, status=status)
    return _private(response)


# No CSRF check: the page has no ambient credential for another site to ride on (no session,
# no cookie: the secret is the token in the URL itself, which a forging site can't know), and
# under `Referrer-Policy: no-referrer` browsers send `Origin: null` with the form's POST, which
# Django's origin check refuses. So no CSRF cookie either: the page sets no cookie at all.
@csrf_exempt
@login_not_required
@csp_override(PARTNER_PAGE_CSP)
@require_http_methods(["GET", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    """One partner's questions for one link; answered once."""
    admission = services.admit(token, audit.client_ip(request))
    invitation = admission.invitation
    if invitation is None:
        if admission.throttled:
            audit.record(request, "remote answer link throttled")
        return _dead(request, throttled=admission.throttled)
    questions = questions_for(request, invitation)
    nothing_yet = False
    if request.method == "GET":
        if services.mark_opened(invitation):
            _audit_partner(request, "remote answer link opened", invitation)
    elif questions.is_valid():
        if not questions.answered_any():
            nothing_yet = True
        else:
            try:
                services.answers_record(
                    invitation=invitation,
                    alliance={p: f.cleaned_data for p, f in questions.alliance.items()},
                    reports={r: f.cleaned_data for r, f in questions.reports.items()},
                    responses=[
                        (d, invitation.partner, f.cleaned_data) for d, f in questions.measures
                    ],
                    screens=[
                        (d, f.cleaned_data["answers"])
                        for d, f in questions.screens
                        if f.cleaned_data.get("answered")
                    ],
                )
            except services.LinkDead:
                return _dead(request)
            _audit_partner(request, "remote answers saved", invitation)
            return _private(render(request, "invitations/thanks.html"))
    context = {
        "questions": questions,
        "purpose": invitation.purpose,
        "nothing_yet": nothing_yet,
        "safety_intro": PARTNER_INTRO,
    }
    return _private(render(request, "invitations/answer.html", context))


# -- the therapist's panel ----------------------------------------------------------------------


def panel_context(couple: Couple, user: Any) -> dict[str, Any]:
    editable = may_edit(user, couple) and not couple.is_closed
    invitations = list(
        Invitation.objects.visible_to(user)
        .filter(couple=couple)
        .select_related("session")
        .order_by("-created_at", "-pk")[:PANEL_SHOWN]
    )
    kept = services.contact_rows(couple) if may_edit(user, couple) else []
    return {
        "couple": couple,
        "can_send": editable,
        "can_edit": may_edit(user, couple),
        "addresses": {partner: email for partner, email, _ in kept},
        "after_each": {partner for partner, _, after in kept if after},
        "invitations": invitations,
        "live": LIVE,
        "purposes": Purpose.choices,
        "send_form": SendForm(),
    }


@require_http_methods(["GET"])
def panel(request: HttpRequest, case_code: str) -> HttpResponse:
    """The couple's links and their statuses: the therapist sends and revokes, the supervisor
    reads. On the couple page it is loaded on demand (htmx), so the page itself pays nothing."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.visible_to(user), case_code=case_code)
    audit.record(request, "read remote answer links", couple)
    template = "invitations/panel.html#panel" if is_htmx(request) else "invitations/panel.html"
    return render(request, template, panel_context(couple, user))


def _back(couple: Couple) -> HttpResponse:
    return redirect(reverse("invitations:panel", args=[couple.case_code]))


@require_http_methods(["GET", "POST"])
def contact(request: HttpRequest, case_code: str) -> HttpResponse:
    """The partners' own addresses (optional; kept encrypted), for their links only."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    kept = {partner: (email, after) for partner, email, after in services.contact_rows(couple)}
    initial: dict[str, object] = {}
    for partner, (email, after) in kept.items():
        initial |= {f"email_{partner.lower()}": email, f"after_{partner.lower()}": after}
    form = ContactForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        for partner in ("A", "B"):
            services.contact_set(
                couple=couple,
                partner=partner,
                email=form.cleaned_data[f"email_{partner.lower()}"],
                after_each=form.cleaned_data[f"after_{partner.lower()}"],
            )
        audit.record(request, "changed partner addresses", couple)
        messages.success(request, "Saved the partners' addresses.")
        return _back(couple)
    if request.method == "GET":
        audit.record(request, "read partner addresses", couple)
    return render(request, "invitations/contact.html", {"couple": couple, "form": form})


@require_POST
def send(request: HttpRequest, case_code: str) -> HttpResponse:
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    form = SendForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a partner and what they are asked.")
        return _back(couple)
    try:
        token: uuid.UUID | None = uuid.UUID(request.POST.get("request_token", ""))
    except ValueError:
        token = None
    chosen = form.cleaned_data["partner"]
    partners = ["A", "B"] if chosen == BOTH else [chosen]
    hours = int(services.link_lifetime().total_seconds() // 3600)
    for partner in partners:
        # One request token per link, so the form sent twice still makes each link once.
        own = uuid.uuid5(token, partner) if token and len(partners) > 1 else token
        try:
            invitation = services.invitation_create(
                couple=couple,
                partner=partner,
                purpose=form.cleaned_data["purpose"],
                by=user,
                request_token=own,
            )
        except services.Refused as refusal:
            messages.error(request, str(refusal))
            continue
        audit.record(request, "sent remote answer link", invitation)
        messages.success(
            request,
            f"A link is on its way to partner {partner}. It works once, for {hours} hours.",
        )
    return _back(couple)


@require_POST
def revoke(request: HttpRequest, case_code: str, pk: int) -> HttpResponse:
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    invitation = get_object_or_404(Invitation.objects.filter(couple=couple), pk=pk)
    if services.invitation_revoke(invitation=invitation, by=user):
        audit.record(request, "revoked remote answer link", invitation)
        messages.success(request, f"The link to partner {invitation.partner} no longer works.")
    else:
        messages.info(request, "That link had already been answered or had ended.")
    return _back(couple)
