"""A private note (or reflection) per author, not per session (or rupture): a case with two
therapists, a co-therapist or a case transferred, holds one for each therapist who writes one,
each readable by its author alone (sessions.PrivateNote)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("ruptures", "0012_repair_note"),
        ("therapy_sessions", "0010_signed_records_locked"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name="privatenote",
            name="rupture",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="private_reflections",
                to="ruptures.rupture",
            ),
        ),
        migrations.AlterField(
            model_name="privatenote",
            name="session",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="private_notes",
                to="therapy_sessions.therapysession",
            ),
        ),
        migrations.AddConstraint(
            model_name="privatenote",
            constraint=models.UniqueConstraint(
                condition=models.Q(("session__isnull", False)),
                fields=("session", "author"),
                name="private_note_once_per_author_and_session",
            ),
        ),
        migrations.AddConstraint(
            model_name="privatenote",
            constraint=models.UniqueConstraint(
                condition=models.Q(("rupture__isnull", False)),
                fields=("rupture", "author"),
                name="private_reflection_once_per_author_and_rupture",
            ),
        ),
    ]
