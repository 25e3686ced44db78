from __future__ import annotations

import logging
import smtplib

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import SetPasswordForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.http import posted_number
from people import audit, offboarding
from people.access import practice_admin, signed_in
from people.models import Supervision, User

logger = logging.getLogger(__name__)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """Send each person to the screen their role starts from."""
    user = signed_in(request)
    if user.is_therapist or user.is_supervisor:
        return redirect("cycles:caseload")
    return redirect("people:practice")


@require_GET
def practice(request: HttpRequest) -> HttpResponse:
    """The practice admin's start page: the people of the practice and their roles."""
    user = signed_in(request)
    people = User.objects.visible_to(user).order_by("display_name", "username")
    return render(request, "people/practice.html", {"people": people})


# -- people leaving and account recovery (people.offboarding) ----------------------------------

ACTIONS = {
    "deactivate": (
        "Deactivate",
        "They are signed out everywhere at once and can no longer sign in. Their couples stay "
        "as they are, listed here for transfer. They are told by e-mail.",
    ),
    "reactivate": (
        "Reactivate",
        "They can sign in again with their password and authenticator as they left them (send "
        "a password-reset link or reset the authenticator afterwards if needed). Their couples "
        "are not given back: transfer any you want them to have. They are told by e-mail.",
    ),
    "send_reset_link": (
        "Send a password-reset link",
        "They get an e-mail with a link that sets a new password. It works once, and only "
        "for a limited time; they still need their authenticator to sign in.",
    ),
    "reset_authenticator": (
        "Reset the authenticator",
        "Their authenticator and recovery codes stop working and they are signed out; at "
        "their next sign-in they set up an authenticator app again. They are told by e-mail.",
    ),
}
SELF_REFUSED = (
    "You can't do this to your own account here: ask another practice admin, or change your "
    "own password and authenticator under Security."
)
NOT_SENT = "The e-mail could not be sent (the mail server did not accept it)."


def _person_of(admin: User, pk: int) -> User:
    """Someone of the admin's own practice (never a superuser): anyone else is a 404."""
    people = User.objects.visible_to(admin).filter(is_superuser=False).select_related("practice")
    return get_object_or_404(people, pk=pk)


@require_GET
def person(request: HttpRequest, pk: int) -> HttpResponse:
    """One person of the practice: their state, the three offboarding actions, and, once
    deactivated, the case codes of their couples to transfer (codes only)."""
    admin = practice_admin(request)
    shown = _person_of(admin, pk)
    caseload = list(shown.couples.order_by("case_code").values_list("case_code", "status"))  # type: ignore[attr-defined]
    co_therapy = list(
        shown.co_therapy_couples.order_by("case_code").values_list("case_code", "status")  # type: ignore[attr-defined]
    )
    audit.record(request, "read person", shown, detail=f"caseload={len(caseload)}")
    context = {
        "person": shown,
        "caseload": caseload,
        "co_therapy": co_therapy,
        "supervised_by": Supervision.objects.filter(therapist=shown)
        .select_related("supervisor")
        .order_by("supervisor__last_name", "supervisor__first_name"),
        "supervises": User.objects.filter(supervised_by__supervisor=shown).order_by(
            "last_name", "first_name"
        ),
        "is_self": shown.pk == admin.pk,
        "actions": ACTIONS,
    }
    return render(request, "people/person.html", context)


@require_POST
def cosigning(request: HttpRequest, pk: int) -> HttpResponse:
    """The practice admin decides whether this therapist's signed notes wait for one of their
    supervisors' co-signature (docs/domain.md, "Signing"), as that supervisor can."""
    admin = practice_admin(request)
    shown = _person_of(admin, pk)
    if shown.pk == admin.pk:  # nobody exempts their own notes from their supervisor
        messages.error(request, SELF_REFUSED)
        return redirect("people:person", pk=shown.pk)
    row = get_object_or_404(
        Supervision.objects.select_related("supervisor"),
        therapist=shown,
        supervisor_id=posted_number(request, "supervisor"),
    )
    needed = request.POST.get("notes_need_cosign") == "yes"
    changed = row.set_cosigning(needed)
    detail = f"therapist={shown.pk} supervisor={row.supervisor_id} needed={needed}"
    audit.record(request, "set co-signing", shown, detail=detail)
    if not changed:
        messages.info(request, "Nothing changed: it was already so.")
    elif needed:
        messages.success(
            request,
            f"{shown}'s signed session records now wait for {row.supervisor}'s co-signature.",
        )
    else:
        messages.success(
            request, f"{shown}'s signed session records no longer wait for {row.supervisor}."
        )
    return redirect("people:person", pk=shown.pk)


def _action(request: HttpRequest, pk: int, action: str) -> tuple[User, User] | HttpResponse:
    """The admin and the person, or the response when the action can't go ahead: the
    confirmation page on GET, a refusal (nothing changed) for the admin's own account."""
    admin = practice_admin(request)
    shown = _person_of(admin, pk)
    if shown.pk == admin.pk:
        messages.error(request, SELF_REFUSED)
        return redirect("people:person", pk=shown.pk)
    if request.method == "GET":
        title, explained = ACTIONS[action]
        context = {"person": shown, "action": action, "title": title, "explained": explained}
        return render(request, "people/confirm.html", context)
    return admin, shown


def _tell(request: HttpRequest, shown: User, subject: str, body: str) -> bool:
    if not shown.email:
        messages.warning(request, f"{shown} has no e-mail address, so was not told.")
        return False
    try:
        offboarding.tell(person=shown, subject=subject, body=body)
    except (OSError, smtplib.SMTPException):
        logger.exception("Offboarding e-mail to user %s not sent", shown.pk)
        messages.error(request, NOT_SENT)
        return False
    return True


@require_http_methods(["GET", "POST"])
@reauthentication_required
def deactivate(request: HttpRequest, pk: int) -> HttpResponse:
    found = _action(request, pk, "deactivate")
    if isinstance(found, HttpResponse):
        return found
    _admin, shown = found
    if not shown.is_active:
        messages.info(request, f"{shown} is already deactivated.")
        return redirect("people:person", pk=shown.pk)
    ended = offboarding.deactivate(person=shown)
    caseload = shown.couples.count()  # type: ignore[attr-defined]
    told = _tell(request, shown, "your account was deactivated", offboarding.deactivated_text())
    detail = f"sessions ended={ended} caseload={caseload} told={'yes' if told else 'no'}"
    audit.record(request, "person deactivated", shown, detail=detail)
    messages.success(request, f"{shown} is deactivated and signed out everywhere.")
    return redirect("people:person", pk=shown.pk)


@require_http_methods(["GET", "POST"])
@reauthentication_required
def reactivate(request: HttpRequest, pk: int) -> HttpResponse:
    found = _action(request, pk, "reactivate")
    if isinstance(found, HttpResponse):
        return found
    _admin, shown = found
    if shown.is_active:
        messages.info(request, f"{shown} is already active.")
        return redirect("people:person", pk=shown.pk)
    offboarding.reactivate(person=shown)
    told = _tell(request, shown, "your account was reactivated", offboarding.reactivated_text())
    audit.record(request, "person reactivated", shown, detail=f"told={'yes' if told else 'no'}")
    messages.success(request, f"{shown} is active again and can sign in.")
    return redirect("people:person", pk=shown.pk)


@require_http_methods(["GET", "POST"])
@reauthentication_required
def send_reset_link(request: HttpRequest, pk: int) -> HttpResponse:
    found = _action(request, pk, "send_reset_link")
    if isinstance(found, HttpResponse):
        return found
    _admin, shown = found
    if not shown.is_active:
        messages.error(request, f"{shown} is deactivated: reactivate them first. No link sent.")
        return redirect("people:person", pk=shown.pk)
    if not shown.email:
        messages.error(request, f"{shown} has no e-mail address: add one first. No link was sent.")
        return redirect("people:person", pk=shown.pk)
    uidb64, token = offboarding.reset_path_parts(shown)
    link = request.build_absolute_uri(reverse("people:password_reset", args=[uidb64, token]))
    told = _tell(request, shown, "set a new password", offboarding.reset_link_text(link))
    if told:
        audit.record(request, "password reset link sent", shown)
        messages.success(
            request,
            f"A password-reset link was sent to {shown.email}; it works once, within "
            f"{offboarding.reset_hours()} hours.",
        )
    return redirect("people:person", pk=shown.pk)


@require_http_methods(["GET", "POST"])
@reauthentication_required
def reset_authenticator(request: HttpRequest, pk: int) -> HttpResponse:
    found = _action(request, pk, "reset_authenticator")
    if isinstance(found, HttpResponse):
        return found
    _admin, shown = found
    deleted = offboarding.reset_authenticator(person=shown)
    told = _tell(
        request, shown, "your authenticator was reset", offboarding.authenticator_reset_text()
    )
    detail = f"authenticators deleted={deleted} told={'yes' if told else 'no'}"
    audit.record(request, "authenticator reset", shown, detail=detail)
    messages.success(
        request, f"{shown}'s authenticator is reset: they set up a new one at their next sign-in."
    )
    return redirect("people:person", pk=shown.pk)


LINK_DEAD = (
    "This password-reset link has expired or has already been used. Nothing was changed. "
    "Ask your practice admin for a new link."
)


@login_not_required
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The page a reset link opens: a new password (Django's validators), then the sign-in
    as usual, authenticator included. A used, expired or made-up link says so and changes
    nothing."""
    shown = offboarding.person_for_link(uidb64, token)
    if shown is None:
        if request.method == "POST":
            audit.record(request, "password reset link refused", detail="used, expired or unknown")
        return render(request, "people/password_reset.html", {"dead": LINK_DEAD})
    form = SetPasswordForm(shown, request.POST or None)
    if request.method == "POST" and form.is_valid():
        offboarding.set_password(person=shown, password=form.cleaned_data["new_password1"])
        audit.record(request, "password set from reset link", shown, user=shown)
        messages.success(
            request, "Your new password is set. Sign in with it and your authenticator app."
        )
        return redirect("account_login")
    return render(request, "people/password_reset.html", {"form": form, "person": shown})
