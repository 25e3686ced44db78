"""Response headers for pages that may carry clinical content."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.http import HttpResponseRedirect
from django.shortcuts import redirect
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers

from core import dates

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.contrib.sessions.backends.base import SessionBase
    from django.http import HttpRequest, HttpResponse

logger = logging.getLogger(__name__)


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


# Sessions end when idle or old (checklist item 3). Polling that htmx does in the background
# (requests carrying X-Background-Poll, e.g. the nightly-run progress) is checked but does not
# count as activity, so a page left open still signs out after the idle limit.
LAST_ACTIVITY_KEY = "last_activity"
SIGNED_IN_AT_KEY = "signed_in_at"
BACKGROUND_POLL_HEADER = "HTTP_X_BACKGROUND_POLL"
ACTIVITY_PRECISION = 60
MFA_ENROLLED_KEY = "mfa_enrolled"


def duration_phrase(seconds: int) -> str:
    """A limit as a person says it: "15 minutes", "1 hour", "12 hours", "1 hour 30 minutes"."""
    minutes = max(1, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes or not hours:
        parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def signed_out_message(reason: str) -> str:
    """What the sign-in page says after SessionLimitsMiddleware signed someone out, with the
    limits as configured (SESSION_IDLE_SECONDS, SESSION_ABSOLUTE_SECONDS); "" otherwise."""
    back = "Sign in to go back to where you were."
    if reason == "idle":
        idle = duration_phrase(settings.SESSION_IDLE_SECONDS)
        return f"You were signed out after {idle} without activity. {back}"
    if reason == "absolute":
        signed_in = duration_phrase(settings.SESSION_ABSOLUTE_SECONDS)
        return f"You were signed out because you had been signed in for {signed_in}. {back}"
    return ""


class SessionLimitsMiddleware:
    """Sign out after `SESSION_IDLE_SECONDS` without activity or `SESSION_ABSOLUTE_SECONDS`
    after signing in; the login page then says why and leads back where the user was."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        now = time.time()
        session = request.session
        signed_in_at = session.setdefault(SIGNED_IN_AT_KEY, now)
        last = session.get(LAST_ACTIVITY_KEY, now)
        reason = ""
        if now - signed_in_at > settings.SESSION_ABSOLUTE_SECONDS:
            reason = "absolute"
        elif now - last > settings.SESSION_IDLE_SECONDS:
            reason = "idle"
        if reason:
            return self.sign_out(request, reason)
        # A minute's precision is plenty for a 15-minute limit, and spares a session write on
        # almost every request.
        if (
            not request.META.get(BACKGROUND_POLL_HEADER) and now - last >= ACTIVITY_PRECISION
        ) or LAST_ACTIVITY_KEY not in session:
            session[LAST_ACTIVITY_KEY] = now
        return self.get_response(request)

    @staticmethod
    def sign_out(request: HttpRequest, reason: str) -> HttpResponse:
        from django.contrib.auth import logout
        from django_htmx.http import HttpResponseClientRedirect

        back_to = request.get_full_path() if request.method == "GET" else ""
        if getattr(request, "htmx", False):
            back_to = request.headers.get("HX-Current-URL", "") or back_to
            back_to = urlsplit(back_to).path if back_to else ""
        logout(request)  # flushes the server-side session
        query = urlencode(
            {"signed_out": reason, "next": back_to} if back_to else {"signed_out": reason}
        )
        target = f"{reverse('account_login')}?{query}"
        if getattr(request, "htmx", False):
            return HttpResponseClientRedirect(target)
        return HttpResponseRedirect(target)


MFA_EXEMPT_URL_NAMES = {
    "account_logout",
    "mfa_index",
    "mfa_activate_totp",
    "mfa_generate_recovery_codes",
    "mfa_view_recovery_codes",
    "mfa_download_recovery_codes",
    "mfa_reauthenticate",
    "account_reauthenticate",
    "health",
}


class RequireMFAMiddleware:
    """Until a signed-in person has an authenticator, they reach only enrolment and logout.

    Everyone who signs in is held to it: clinicians read clinical content, and practice
    admins manage who can (checklist item 3).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or self.exempt(request):
            return self.get_response(request)
        if request.session.get(MFA_ENROLLED_KEY) == user.pk:
            return self.get_response(request)
        from allauth.mfa.models import Authenticator

        if Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
            # Remembered for the session (people.signals forgets it if the authenticator goes).
            request.session[MFA_ENROLLED_KEY] = user.pk
            return self.get_response(request)
        return redirect("mfa_activate_totp")

    @staticmethod
    def exempt(request: HttpRequest) -> bool:
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return False
        return match.url_name in MFA_EXEMPT_URL_NAMES


# The practice's time zone is kept in the session as [practice id, zone name], looked up on
# the first request after sign-in (the one that also stores the last activity), so no later
# request spends a query on it. A practice that changes its zone reaches its people at their
# next sign-in (at most SESSION_ABSOLUTE_SECONDS later).
PRACTICE_TIME_ZONE_KEY = "practice_time_zone"
# Its date format (core.dates), kept beside the zone by the same lookup.
PRACTICE_DATE_FORMAT_KEY = "practice_date_format"


class PracticeTimeZoneMiddleware:
    """Dates and times on pages and in forms are the signed-in person's practice's
    (`Practice.time_zone`), as in the nightly run and supervision: a session logged at 16:00
    in Sydney is stored as 16:00 Sydney time and shown as such.

    People without a practice, and signed-out pages, keep the server's TIME_ZONE. The zone is
    restored after the response, so it never leaks into the thread's next request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        practice_id = getattr(user, "practice_id", None)
        if user is None or not user.is_authenticated or practice_id is None:
            return self.get_response(request)
        zone = practice_zone(request.session, practice_id)
        with timezone.override(zone), dates.override(practice_date_format(request.session)):
            return self.get_response(request)


def practice_zone(session: SessionBase, practice_id: int) -> ZoneInfo | None:
    """The practice's zone as kept in the session, looked up (and kept) when it isn't there
    or is another practice's; None, the server's default, for a name that is no zone."""
    stored: Any = session.get(PRACTICE_TIME_ZONE_KEY)
    if isinstance(stored, list) and len(stored) == 2 and stored[0] == practice_id:
        name = str(stored[1])
    else:
        name = remember_practice_zone(session, practice_id)
    return zone_named(name)


def remember_practice_zone(session: SessionBase, practice_id: int) -> str:
    """Look the practice's zone name and date format up (one query) and keep them in the
    session; the zone name."""
    from people.models import Practice

    found = Practice.objects.filter(pk=practice_id).values_list("time_zone", "date_format")
    name, date_format = found.first() or ("", dates.DEFAULT)
    session[PRACTICE_TIME_ZONE_KEY] = [practice_id, name]
    session[PRACTICE_DATE_FORMAT_KEY] = date_format
    return name


def practice_date_format(session: SessionBase) -> str:
    """The practice's date format as kept in the session with its zone (core.dates)."""
    return str(session.get(PRACTICE_DATE_FORMAT_KEY) or dates.DEFAULT)


def zone_named(name: str) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("Practice time zone %r is not a known zone; using TIME_ZONE.", name)
        return None
