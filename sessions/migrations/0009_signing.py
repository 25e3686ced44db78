"""Signing: the session's signature and co-signature state, the sign-off events and the
amendments (docs/domain.md, "Signing").

On SQLite adding these columns rebuilds the table, and a rebuild refuses while ruptures 0003's
integrity triggers name it: they are dropped first and made again last (as in sessions 0007).
"""

import importlib

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

observations = importlib.import_module("sessions.migrations.0005_session_observations")


class Migration(migrations.Migration):
    dependencies = [
        ("therapy_sessions", "0008_case_step_follows_sessions"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(observations.drop_sqlite_triggers, observations.make_sqlite_triggers),
        migrations.AddField(
            model_name="therapysession",
            name="cosign_state",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "Not needed"),
                    ("awaiting", "Awaiting co-signature"),
                    ("cosigned", "Co-signed"),
                    ("changes_requested", "Changes requested"),
                ],
                max_length=20,
                verbose_name="co-signature",
            ),
        ),
        migrations.AddField(
            model_name="therapysession",
            name="signed_at",
            field=models.DateTimeField(blank=True, editable=False, null=True),
        ),
        migrations.AddField(
            model_name="therapysession",
            name="signed_by",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to=settings.AUTH_USER_MODEL,
            ),
        ),
        migrations.CreateModel(
            name="SignOffEvent",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("signed", "Signed"),
                            ("cosigned", "Co-signed"),
                            ("changes_requested", "Changes requested"),
                            ("amended", "Amended"),
                        ],
                        max_length=20,
                    ),
                ),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
                ("comment", models.TextField(blank=True)),
                (
                    "by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "session",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="signoff_events",
                        to="therapy_sessions.therapysession",
                    ),
                ),
            ],
            options={
                "ordering": ["at", "pk"],
            },
        ),
        migrations.CreateModel(
            name="Amendment",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(default=django.utils.timezone.now)),
                ("reason", models.TextField()),
                ("changes", models.JSONField(default=list)),
                ("applying", models.BooleanField(default=False)),
                (
                    "by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "session",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="amendments",
                        to="therapy_sessions.therapysession",
                    ),
                ),
            ],
            options={
                "ordering": ["at", "pk"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("reason", ""), _negated=True),
                        name="amendment_has_reason",
                    )
                ],
            },
        ),
        migrations.RunPython(observations.make_sqlite_triggers, observations.drop_sqlite_triggers),
    ]
