"""The shared EFT emotion vocabulary (docs/domain.md#the-negative-cycle), each term tagged.

Core emotions in EFT: anger, sadness, fear, shame, surprise, joy. Anger shows mostly as a
reactive (secondary) emotion in the cycle, so it is tagged secondary here; a practice can
add its own terms beside these.
"""

from __future__ import annotations

from django.db import migrations

SECONDARY = [
    "anger",
    "frustration",
    "irritation",
    "resentment",
    "defensiveness",
    "numbness",
    "contempt",
    "annoyance",
    "indifference",
    "blame",
]
PRIMARY = [
    "fear",
    "sadness",
    "shame",
    "hurt",
    "loneliness",
    "longing",
    "surprise",
    "joy",
    "helplessness",
    "grief",
    "inadequacy",
    "rejection",
]


def add_terms(apps, schema_editor):  # type: ignore[no-untyped-def]
    EmotionTerm = apps.get_model("cycles", "EmotionTerm")
    for kind, names in (("secondary", SECONDARY), ("primary", PRIMARY)):
        for name in names:
            EmotionTerm.objects.get_or_create(practice=None, name=name, defaults={"kind": kind})


def remove_terms(apps, schema_editor):  # type: ignore[no-untyped-def]
    EmotionTerm = apps.get_model("cycles", "EmotionTerm")
    EmotionTerm.objects.filter(practice=None, name__in=SECONDARY + PRIMARY).delete()


class Migration(migrations.Migration):
    dependencies = [("cycles", "0002_initial")]

    operations = [migrations.RunPython(add_terms, remove_terms)]
