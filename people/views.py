from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from people.access import signed_in
from people.models import User


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
