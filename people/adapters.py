"""django-allauth adapter: no self sign-up, a fresh sign-in counts as a recent check, and a
sign-in refused by the throttle is audited like any other failed sign-in."""

from __future__ import annotations

import time
from typing import Any

from allauth.account import app_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records
from django.core.exceptions import ValidationError

from people import audit

# allauth's error code at each sign-in throttle: the password step (`pre_authenticate`, before
# any password is checked) and the authenticator-code step (allauth.mfa's rate limit).
THROTTLED = "too_many_login_attempts"


class AccountAdapter(DefaultAccountAdapter):
    def is_open_for_signup(self, request: Any) -> bool:
        # Accounts are made by a practice admin.
        return False

    def is_reauthentication_required(self, *, app: str, **kwargs: Any) -> bool:
        """Exports, sharing, role changes and MFA changes ask for a fresh check, unless the
        person signed in or confirmed it's them within the last few minutes."""
        request = self.request
        if request is not None and request.user.is_authenticated:
            records = get_authentication_records(request, request.user)
            if records and time.time() - records[-1]["at"] < app_settings.REAUTHENTICATION_TIMEOUT:
                return False
        return super().is_reauthentication_required(app=app, **kwargs)

    def validation_error(self, code: str, *args: Any) -> ValidationError:
        """allauth makes each throttle's refusal here and raises it at once, sending no signal
        (a wrong password or code sends one: people.signals), so the refusal is audited here."""
        if code == THROTTLED and self.request is not None:
            audit.sign_in_throttled(self.request)
        return super().validation_error(code, *args)
