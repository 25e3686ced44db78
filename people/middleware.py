"""Response headers for pages that may carry clinical content."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.shortcuts import redirect
from django.utils.cache import add_never_cache_headers

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.http import HttpRequest, HttpResponse


class NoStoreMiddleware:
    """`Cache-Control: no-store` on every response to a signed-in user.

    Any page behind login may show clinical content, so no browser or proxy keeps a copy.
    Static files are served by WhiteNoise before this runs and stay cacheable.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if getattr(request, "user", None) is not None and request.user.is_authenticated:
            add_never_cache_headers(response)
            response["Cache-Control"] = "no-store, private, max-age=0"
        return response


PARTNER_SCREEN_PREFIX = "/partner-screen/"


class PartnerScreenLockMiddleware:
    """While a partner holds the device, every page but the partner screen redirects to it.

    The therapist starts the lock from the session page (sessions.measure_views); only the
    therapist's password lifts it, so a partner can't browse the record, even by URL or the
    back button. Static files are served before this middleware runs.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        locked = "partner_screen" in getattr(request, "session", {})
        if locked and not request.path.startswith(PARTNER_SCREEN_PREFIX):
            return redirect("partner_screen")
        return self.get_response(request)
