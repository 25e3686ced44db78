"""Recording access events (people.AccessEvent): reads, changes, exports, shares, sign-ins."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.conf import settings

from people.models import AccessEvent

if TYPE_CHECKING:
    from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as our own proxies saw it: the X-Forwarded-For entry added by the
    outermost of `TRUSTED_PROXY_COUNT` trusted proxies, else the connection's address. Entries
    a client wrote itself are never believed (the same rule as allauth's sign-in throttle)."""
    trusted = settings.ALLAUTH_TRUSTED_PROXY_COUNT
    forwarded = [hop.strip() for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [hop for hop in forwarded if hop]
    if trusted and len(forwarded) >= trusted:
        return forwarded[-trusted]
    return request.META.get("REMOTE_ADDR") or None


def case_code_of(obj: Any) -> str:
    """A clinical row's case code: its own, or its couple's through the session, rupture or
    cycle map it belongs to ("" for a row of no couple)."""
    if code := getattr(obj, "case_code", ""):
        return str(code)
    for parent in ("couple", "session", "rupture", "cycle_map"):
        related = getattr(obj, parent, None)
        if related is not None:
            return case_code_of(related)
    return ""


def record(
    request: HttpRequest,
    action: str,
    obj: Any = None,
    *,
    case_code: str = "",
    detail: str = "",
    user: Any = None,
) -> AccessEvent:
    """Write one event: who, what, when, from where. `detail` must hold no clinical text.

    `user` names the person when the request doesn't yet (a sign-in being recorded)."""
    if user is None and request is not None and request.user.is_authenticated:
        user = request.user
    if user is not None and not user.is_authenticated:
        user = None
    object_type = obj._meta.model_name if obj is not None else ""
    if obj is not None and not case_code:
        case_code = case_code_of(obj)
    return AccessEvent.objects.create(
        user=user,
        practice_id=getattr(user, "practice_id", None),
        action=action,
        object_type=object_type,
        object_id=str(obj.pk) if obj is not None else "",
        case_code=case_code,
        ip=client_ip(request) if request is not None else None,
        detail=detail[:300],
    )


SIGN_IN_FAILED = "sign-in failed"
MFA_CODE_FAILED = "MFA code failed"


def sign_in_throttled(request: HttpRequest) -> AccessEvent:
    """A sign-in the throttle refused, at the password step or the authenticator-code step.

    At the code step the password was right, so the person is known and named, as a wrong code
    is (people.signals); at the password step nobody is, and the username typed is not kept
    (people type passwords into it by mistake)."""
    stage = getattr(request, "_login_stage", None)  # allauth's pending sign-in, at the code step
    user = getattr(getattr(stage, "login", None), "user", None)
    action = MFA_CODE_FAILED if user is not None else SIGN_IN_FAILED
    return record(request, action, user=user, detail="refused: too many failed attempts")
