from __future__ import annotations

from typing import Any


def pytest_configure(config: Any) -> None:
    from django.conf import settings

    # Fast by construction: MD5 for the many users the tests make (never in production).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
