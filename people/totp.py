"""Authenticator helpers for the demo and the tests: enrol a known secret, compute its code.

Production users enrol themselves (allauth's activation page). The demo practice and the test
suite sign in for real with a known secret, through allauth's public surface only: its
`Authenticator` model, its MFA adapter's `encrypt` (the form allauth stores a TOTP secret in)
and its TOTP settings. The code itself is RFC 6238's, computed here.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import struct
import time
from typing import TYPE_CHECKING

from allauth.mfa import app_settings
from allauth.mfa.adapter import get_adapter
from allauth.mfa.models import Authenticator

if TYPE_CHECKING:
    from people.models import User

PERIOD_SECONDS: int = app_settings.TOTP_PERIOD


def enrol(user: User, secret: str) -> None:
    """Give the user a TOTP authenticator with this base32 secret (no-op if they have one)."""
    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        Authenticator.objects.create(
            user=user,
            type=Authenticator.Type.TOTP,
            data={"secret": get_adapter().encrypt(secret)},
        )


def current_code(secret: str, at: float | None = None) -> str:
    """The code an authenticator app shows for `secret` at `at` (now): RFC 6238, HMAC-SHA1."""
    counter = int(at or time.time()) // PERIOD_SECONDS
    key = base64.b32decode(secret.encode("ascii"), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    digits = app_settings.TOTP_DIGITS
    return f"{value % 10**digits:0{digits}}"


def is_current_code(user: User, code: str) -> bool:
    """Whether `code` is what the user's authenticator shows now (within allauth's tolerance),
    whether or not it was used already."""
    authenticator = Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).first()
    typed = "".join(code.split())
    if authenticator is None or not typed.isdigit():
        return False
    secret = get_adapter().decrypt(authenticator.data["secret"])
    now = time.time()
    tolerance = app_settings.TOTP_TOLERANCE
    return any(
        hmac.compare_digest(current_code(secret, now + step * PERIOD_SECONDS), typed)
        for step in range(-tolerance, tolerance + 1)
    )
