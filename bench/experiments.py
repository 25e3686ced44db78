"""Measuring a change to the app without making it (the lead changes the app).

`change_trail_off` shows what the change trail's triggers cost the nightly job's own writes
(per row in people migration 0005; per statement, set-based, since 0007). It was preceded
here by a proposed `flags.reconcile` (mark the flags still true as seen with one UPDATE
instead of `bulk_update` over every open flag), which the app adopted in 2f0d5f0 and later
(with 0007) replaced by writing nothing for a flag still true and worded the same.
"""

from __future__ import annotations

from django.db import connection

from ruptures.models import CaseloadSummary, Flag, NightlyRun, RuptureSummary

NIGHTLY_TABLES = [m._meta.db_table for m in (RuptureSummary, Flag, NightlyRun, CaseloadSummary)]


def change_trail_off() -> None:
    """Inside the caller's transaction (rolled back after): disable the change trail's
    triggers (`<table>_audit_...`, set-based since people 0007) on the tables the nightly
    job writes, which hold only what it derives from clinical rows. Not a proposal to drop
    the trail; a measure of what logging every derived row costs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
            "WHERE NOT t.tgisinternal AND c.relname = ANY(%s) AND t.tgname LIKE %s",
            [NIGHTLY_TABLES, "%\\_audit\\_%"],
        )
        for table, trigger in cursor.fetchall():
            cursor.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER "{trigger}"')
