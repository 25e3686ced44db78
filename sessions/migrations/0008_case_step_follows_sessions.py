"""The case's EFT step follows its latest session that records one (docs/domain.md, "Stage and
step"): bring the couples logged before that rule into line with their sessions."""

from django.db import migrations
from django.db.models import OuterRef, Subquery


def follow_sessions(apps, schema_editor):  # type: ignore[no-untyped-def]
    couple_model = apps.get_model("cycles", "Couple")
    session_model = apps.get_model("therapy_sessions", "TherapySession")
    latest = (
        session_model.objects.filter(
            couple=OuterRef("pk"),
            withdrawn_at__isnull=True,
            eft_step__isnull=False,
            attendance__in=["attended", "ended_early"],
        )
        .order_by("-ordinal")
        .values("eft_step")[:1]
    )
    for couple in couple_model.objects.annotate(latest_step=Subquery(latest)).exclude(
        latest_step=None
    ):
        if couple.eft_step != couple.latest_step:
            step = couple.latest_step
            stage = 1 if step <= 4 else 2 if step <= 7 else 3
            couple_model.objects.filter(pk=couple.pk).update(eft_step=step, eft_stage=stage)


class Migration(migrations.Migration):
    dependencies = [
        ("therapy_sessions", "0007_write_guards"),
        ("cycles", "0006_write_guards"),
    ]

    operations = [migrations.RunPython(follow_sessions, migrations.RunPython.noop)]
