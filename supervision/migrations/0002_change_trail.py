"""The change trail (people 0005) on the supervision log's tables: the meeting, who attended
and confirmed it, and the cases it discussed. Column names only reach the trail, never the
notes. PostgreSQL only, like the trail itself."""

from __future__ import annotations

from django.db import migrations

TABLES = [
    "supervision_supervisionmeeting",
    "supervision_meetingattendance",
    "supervision_supervisionmeeting_cases",
    "supervision_hoursrules",
]


def trigger_name(table: str) -> str:
    return f"{table}_audit_change"


def forward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {trigger_name(table)} AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_clinical_change();"
        )


def backward(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {trigger_name(table)} ON {table};")


class Migration(migrations.Migration):
    dependencies = [
        ("supervision", "0001_supervision_log_and_hours"),
        ("people", "0005_change_triggers"),
    ]

    operations = [migrations.RunPython(forward, backward)]
