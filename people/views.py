from __future__ import annotations

from typing import cast

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from people.models import User


def is_htmx(request: HttpRequest) -> bool:
    """Whether htmx asked for a region (a history restore wants the whole page)."""
    details = getattr(request, "htmx", None)
    return bool(details) and not details.history_restore_request  # type: ignore[union-attr]


def signed_in(request: HttpRequest) -> User:
    """The signed-in person: LoginRequiredMiddleware lets no anonymous request reach a view."""
    return cast(User, request.user)


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


@login_not_required
@never_cache
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """For load balancers: answers without login, says only whether the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})
