"""Sign-in and MFA events into the audit trail (people.AccessEvent): infrastructure, not
domain logic. The project's other receiver is also on sign-in: cycles/signals.py tells a
therapist of cases transferred to or from them. No signal carries domain logic."""

from __future__ import annotations

import time
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed

from people.middleware import MFA_ENROLLED_KEY, SIGNED_IN_AT_KEY


def _record(request: Any, action: str, user: Any = None) -> None:
    from people.audit import record

    record(request, action, user=user)


def signed_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT_KEY] = time.time()
    _record(request, "sign in", user)


def signed_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _record(request, "sign out", user)


def sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    # The attempted username is not stored: people type passwords into it by mistake. Refusals
    # by the throttle send no signal: people.adapters audits them.
    from people.audit import SIGN_IN_FAILED, record

    record(request, SIGN_IN_FAILED, detail="username or password not recognised")


def mfa_event(action: str) -> Any:
    def receiver(sender: Any, request: Any = None, user: Any = None, **kwargs: Any) -> None:
        if action == "MFA authenticator removed" and request is not None:
            request.session.pop(MFA_ENROLLED_KEY, None)  # enrol again before going on
        _record(request, action, user or getattr(request, "user", None))

    return receiver


def connect() -> None:
    from allauth.mfa import signals as mfa

    user_logged_in.connect(signed_in, dispatch_uid="audit-sign-in")
    user_logged_out.connect(signed_out, dispatch_uid="audit-sign-out")
    user_login_failed.connect(sign_in_failed, dispatch_uid="audit-sign-in-failed")
    for name, action in (
        ("authenticator_added", "MFA authenticator added"),
        ("authenticator_removed", "MFA authenticator removed"),
        ("authenticator_reset", "MFA recovery codes reset"),
        ("authenticator_used", "MFA code used"),
        ("authentication_failed", "MFA code failed"),
    ):
        signal = getattr(mfa, name, None)
        if signal is not None:
            signal.connect(mfa_event(action), dispatch_uid=f"audit-{name}", weak=False)
