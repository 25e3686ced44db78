"""Per-session observations: EFT change events and the Four Horsemen.

On SQLite (the embedded demo) adding these columns and checks rebuilds the sessions table
(create, copy, drop, rename), and a rename refuses while triggers elsewhere name the table:
ruptures 0003's repair-integrity triggers are dropped first and made again last. PostgreSQL
alters the table in place and needs neither step.
"""

import importlib

from django.conf import settings
from django.db import migrations, models

import core.fields
import sessions.models.records

integrity = importlib.import_module("ruptures.migrations.0003_repair_integrity_triggers")


def drop_sqlite_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "sqlite":
        for statement in integrity.SQLITE_BACKWARD:
            schema_editor.execute(statement)


def make_sqlite_triggers(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "sqlite":
        for statement in integrity.SQLITE_FORWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("cycles", "0004_share_code"),
        ("ruptures", "0003_repair_integrity_triggers"),
        ("therapy_sessions", "0004_encrypt_private_notes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(drop_sqlite_triggers, make_sqlite_triggers),
        migrations.AddField(
            model_name="therapysession",
            name="change_events",
            field=core.fields.FlagSetField(
                blank=True,
                default=0,
                flag=sessions.models.records.EFTChangeEvent,
                verbose_name="EFT change events",
            ),
        ),
        migrations.AddField(
            model_name="therapysession",
            name="horsemen",
            field=core.fields.FlagSetField(
                blank=True,
                default=0,
                flag=sessions.models.records.Horseman,
                verbose_name="Four Horsemen observed",
            ),
        ),
        migrations.AddConstraint(
            model_name="therapysession",
            constraint=models.CheckConstraint(
                condition=models.Q(("horsemen__lte", 15)), name="session_horsemen_known"
            ),
        ),
        migrations.AddConstraint(
            model_name="therapysession",
            constraint=models.CheckConstraint(
                condition=models.Q(("change_events__lte", 15)), name="session_change_events_known"
            ),
        ),
        migrations.AddConstraint(
            model_name="therapysession",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("attendance__in", ["attended", "ended_early"]),
                    models.Q(("change_events", 0), ("horsemen", 0)),
                    _connector="OR",
                ),
                name="session_observations_only_when_it_took_place",
            ),
        ),
        migrations.RunPython(make_sqlite_triggers, drop_sqlite_triggers),
    ]
