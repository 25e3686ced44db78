"""The nightly run's heartbeat, and the cache table sign-in depends on.

- NightlyRun.heartbeat_at: the workers' watchdog resumes a run no chunk holds whose heartbeat
  is older than the lease (flags.runs.resume_stalled).
- The database cache table (config.settings CACHES: the sign-in throttle's counters and the
  workers' heartbeat, kept out of Redis). Made here so that `migrate` is the only step a
  deployment needs: createcachetable makes each database cache's table that is missing and
  leaves an existing one alone; with no database cache configured (SQLite, the local demo)
  it does nothing. Nothing to undo: the table holds only what expires.
"""

from __future__ import annotations

from typing import Any

import django.utils.timezone
from django.core.management import call_command
from django.db import migrations, models


def create_cache_table(apps: Any, schema_editor: Any) -> None:
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [
        ("ruptures", "0008_repair_can_be_undone"),
    ]

    operations = [
        migrations.AddField(
            model_name="nightlyrun",
            name="heartbeat_at",
            field=models.DateTimeField(default=django.utils.timezone.now, editable=False),
        ),
        migrations.RunPython(create_cache_table, migrations.RunPython.noop),
    ]
