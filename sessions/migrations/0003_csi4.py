"""Ship the CSI-4 as a measure definition (Funk & Rogge 2007; free for clinical use).

Total 0–21, higher is more satisfied; below 13.5 suggests relationship distress. The
reliable-change default of 3.7 points is the Jacobson–Truax threshold for a standard
deviation of 5.5 and a reliability of .94; a practice can set its own (docs/signals.md).
"""

from __future__ import annotations

from django.db import migrations

AGREE = {"0": "Not at all true", "5": "Completely true"}
AMOUNT = {"0": "Not at all", "5": "Completely"}

CSI4_ITEMS = [
    {
        "key": "happiness",
        "text": "Please indicate the degree of happiness, all things considered, of your relationship.",
        "min": 0,
        "max": 6,
        "anchors": {"0": "Extremely unhappy", "3": "Happy", "6": "Perfect"},
    },
    {
        "key": "warm",
        "text": "I have a warm and comfortable relationship with my partner.",
        "min": 0,
        "max": 5,
        "anchors": AGREE,
    },
    {
        "key": "rewarding",
        "text": "How rewarding is your relationship with your partner?",
        "min": 0,
        "max": 5,
        "anchors": AMOUNT,
    },
    {
        "key": "satisfied",
        "text": "In general, how satisfied are you with your relationship?",
        "min": 0,
        "max": 5,
        "anchors": AMOUNT,
    },
]


def add_csi4(apps, schema_editor):  # type: ignore[no-untyped-def]
    MeasureDefinition = apps.get_model("therapy_sessions", "MeasureDefinition")
    MeasureDefinition.objects.update_or_create(
        practice=None,
        code="csi4",
        defaults={
            "name": "Couples Satisfaction Index (CSI-4)",
            "citation": "Funk & Rogge (2007), J Fam Psychol 21(4). Free for clinical use.",
            "items": CSI4_ITEMS,
            "cutoff": "13.5",
            "lower_is_worse": True,
            "reliable_change": "3.7",
        },
    )


def remove_csi4(apps, schema_editor):  # type: ignore[no-untyped-def]
    MeasureDefinition = apps.get_model("therapy_sessions", "MeasureDefinition")
    MeasureDefinition.objects.filter(practice=None, code="csi4").delete()


class Migration(migrations.Migration):
    dependencies = [("therapy_sessions", "0002_measures")]

    operations = [migrations.RunPython(add_csi4, remove_csi4)]
