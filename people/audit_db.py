"""Tell the database who is acting, for the change audit (people.ChangeEvent).

The trigger function `audit_clinical_change` (people migration 0005) reads two settings of
the connection: `app.user_id` (the signed-in person) and `app.actor` (a label for work no
person started: "nightly", a management command). They are session settings
(`set_config(..., false)`): outside a transaction Django autocommits every statement, so a
transaction-local setting would be gone before the write it should describe. Connections
are persistent (CONN_MAX_AGE), so whatever sets them also resets them, or the next request
on that connection would be blamed on this person.

PostgreSQL only: SQLite (the embedded demo) has no change trail and no set_config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import DatabaseError, connection
from django.http import HttpRequest, HttpResponse

SET_USER = "SELECT set_config('app.user_id', %s, false)"
RESET_USER = "SELECT set_config('app.user_id', '', false)"


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def _reset(sql: str, params: list[str] | None = None) -> None:
    """Run a reset; if the connection can't (broken, or inside a failed transaction), close it
    when no transaction is open, so no stale setting survives on a reused connection. Inside
    a failed transaction the pending rollback undoes a setting made within it."""
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError:
        if not connection.in_atomic_block:
            connection.close()


class ActingUserMiddleware:
    """Sets `app.user_id` for the request's connection: one statement before the view, one
    to reset after the response. Anonymous requests run none.

    A streamed response's body runs after the reset: streamed views (exports) only read, and
    record their AccessEvent before returning the response.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or not _postgresql():
            return self.get_response(request)
        if request.method in ("GET", "HEAD", "OPTIONS"):
            # Reading changes no clinical row (reads are audited as AccessEvents), so a page
            # view spends no statements here.
            return self.get_response(request)
        with connection.cursor() as cursor:
            cursor.execute(SET_USER, [str(user.pk)])
        try:
            return self.get_response(request)
        finally:
            _reset(RESET_USER)


@contextmanager
def acting_as(label: str, user_id: int | None = None) -> Iterator[None]:
    """Attribute the database changes made inside the block to `label` (and a person, if
    given): `with acting_as("nightly"): runs.process_chunk(run_id)`. Restores the settings
    it found on the way out, so it nests inside a request or another `acting_as`."""
    if not _postgresql():
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT current_setting('app.actor', true), current_setting('app.user_id', true)"
        )
        previous_actor, previous_user = cursor.fetchone()
        cursor.execute(
            "SELECT set_config('app.actor', %s, false), set_config('app.user_id', %s, false)",
            [label[:40], "" if user_id is None else str(int(user_id))],
        )
    try:
        yield
    finally:
        _reset(
            "SELECT set_config('app.actor', %s, false), set_config('app.user_id', %s, false)",
            [previous_actor or "", previous_user or ""],
        )
