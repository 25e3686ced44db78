"""django-allauth adapter: no self sign-up, and a fresh sign-in counts as a recent check."""

from __future__ import annotations

import time
from typing import Any

from allauth.account import app_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.flows.login import get_authentication_records


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
