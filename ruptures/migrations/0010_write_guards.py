"""Write guards (core/concurrency.py): the version an edit form is checked against, and
the token that makes a create idempotent.

On SQLite adding these columns rebuilds the table, and a rebuild refuses while ruptures 0003's
integrity triggers name it: they are dropped first and made again last (as in sessions 0005).
"""

import importlib

from django.db import migrations, models

observations = importlib.import_module("sessions.migrations.0005_session_observations")


class Migration(migrations.Migration):
    dependencies = [
        ("ruptures", "0009_nightly_heartbeat"),
    ]

    operations = [
        migrations.RunPython(observations.drop_sqlite_triggers, observations.make_sqlite_triggers),
        migrations.AddField(
            model_name="rupture",
            name="request_token",
            field=models.UUIDField(blank=True, editable=False, null=True, unique=True),
        ),
        migrations.AddField(
            model_name="rupture",
            name="version",
            field=models.PositiveIntegerField(
                db_default=1,
                default=1,
                editable=False,
                help_text="Raised by every saved edit; a form read at an older one is refused.",
            ),
        ),
        migrations.AddField(
            model_name="rupturerepair",
            name="request_token",
            field=models.UUIDField(blank=True, editable=False, null=True, unique=True),
        ),
        migrations.RunPython(observations.make_sqlite_triggers, observations.drop_sqlite_triggers),
    ]
