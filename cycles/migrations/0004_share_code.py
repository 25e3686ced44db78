"""Give each case share its own random code (consultation views never show the case code)."""

from __future__ import annotations

from django.db import migrations, models

import cycles.models


def fill_codes(apps, schema_editor):  # type: ignore[no-untyped-def]
    CaseShare = apps.get_model("cycles", "CaseShare")
    for share in CaseShare.objects.filter(code__isnull=True):
        share.code = cycles.models.new_share_code()
        share.save(update_fields=["code"])


class Migration(migrations.Migration):
    dependencies = [("cycles", "0003_emotion_vocabulary")]

    operations = [
        migrations.AddField(
            model_name="caseshare",
            name="code",
            field=models.CharField(editable=False, max_length=12, null=True),
        ),
        migrations.RunPython(fill_codes, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="caseshare",
            name="code",
            field=models.CharField(
                default=cycles.models.new_share_code, editable=False, max_length=12, unique=True
            ),
        ),
    ]
