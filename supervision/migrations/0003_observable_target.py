"""A target for supervision with observable data (COAMFTE: 50 of the 100 supervision hours).

A practice that had already set its supervision target below 50 gets that target as its
observable one, and a relational target above its direct-contact target is brought down to it:
a part never exceeds its whole (supervision.log_forms), or the rules could no longer be saved."""

import django.core.validators
from django.db import migrations, models
from django.db.models import F


def within_the_supervision_target(apps, schema_editor):
    """Each part within its whole: observable data within supervision, and relational within
    direct contact (which the rules form never checked before)."""
    rules = apps.get_model("supervision", "HoursRules")
    rules.objects.filter(observable_target_hours__gt=F("supervision_target_hours")).update(
        observable_target_hours=F("supervision_target_hours")
    )
    rules.objects.filter(relational_target_hours__gt=F("direct_target_hours")).update(
        relational_target_hours=F("direct_target_hours")
    )


class Migration(migrations.Migration):
    dependencies = [
        ("supervision", "0002_change_trail"),
    ]

    operations = [
        migrations.AddField(
            model_name="hoursrules",
            name="observable_target_hours",
            field=models.PositiveSmallIntegerField(
                default=50,
                help_text="Of them, hours of supervision on a recording or live observation (COAMFTE: 50); 0 where they aren't counted apart.",
                validators=[django.core.validators.MaxValueValidator(10000)],
                verbose_name="supervision with observable data target",
            ),
        ),
        migrations.AlterField(
            model_name="hoursrules",
            name="direct_target_hours",
            field=models.PositiveSmallIntegerField(
                default=500,
                help_text="Direct client-contact hours the board or programme asks for (COAMFTE: 500); 0 where it sets none.",
                validators=[django.core.validators.MaxValueValidator(10000)],
                verbose_name="direct client-contact hours target",
            ),
        ),
        migrations.AlterField(
            model_name="hoursrules",
            name="relational_target_hours",
            field=models.PositiveSmallIntegerField(
                default=250,
                help_text="Of them, hours with couples or families in the room (COAMFTE: 250); 0 where relational hours aren't counted apart.",
                validators=[django.core.validators.MaxValueValidator(10000)],
                verbose_name="relational hours target",
            ),
        ),
        migrations.RunPython(within_the_supervision_target, migrations.RunPython.noop),
    ]
