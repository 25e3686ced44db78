"""Authenticator helpers for the demo and the tests: enrol a known secret, compute its code.

Production users enrol themselves (allauth's activation page); this module only wraps
allauth's own TOTP functions so the demo practice and the test suite can sign in for real.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, hotp_value

if TYPE_CHECKING:
    from people.models import User

PERIOD_SECONDS = 30


def enrol(user: User, secret: str) -> None:
    """Give the user a TOTP authenticator with this base32 secret (no-op if they have one)."""
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, secret)


def current_code(secret: str, at: float | None = None) -> str:
    return format_hotp_value(hotp_value(secret, int(at or time.time()) // PERIOD_SECONDS))
