"""Helpers shared by the supervision tests (the supervisor's review, acknowledgements,
overview and export)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from ruptures.models import Flag

if TYPE_CHECKING:
    from django.test import Client

    from cycles.models import Couple
    from people.models import User


def sign_in(client: Client, user: User) -> None:
    """A complete sign-in: tests/conftest.py makes `force_login` enrol the authenticator and
    record a fresh password and MFA check, as allauth does at sign-in."""
    client.force_login(user)


def request_overhead(client: Client) -> int:
    """Queries a signed-in request makes outside any view (the session and the user, the
    middleware's checks, the session's save), measured on the home page, whose view only
    redirects. View counts are pinned on top of it, so they don't change with the middleware."""
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("home"))
    return len(queries)


def make_flag(
    couple: Couple,
    kind: str,
    opened_on: datetime.date,
    *,
    closed_on: datetime.date | None = None,
    key: str = "",
) -> Flag:
    """A flag as the nightly job writes it (flags.rules)."""
    return Flag.objects.create(
        couple=couple,
        kind=kind,
        key=key,
        opened_on=opened_on,
        closed_on=closed_on,
        detail="Coded detail only.",
    )
