"""The safety screen each partner takes alone (sessions/safety.py; issue 22).

- MeasureDefinition.kind: a questionnaire (as every definition so far) or a safety screen.
- EnteredBy gains "partner_remote" (answers from a private link, invitations/): the three
  measure tables' entered_by widen from 10 to 20 characters.
- SafetyScreen (a partner's answers) and SafetyReview (the clinician's word that a concern was
  assessed), with the change trail attached on PostgreSQL (people 0005's function), as every
  clinical table has.

No table here is therapysession, so SQLite rebuilds nothing that ruptures 0003's integrity
triggers are on.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

NEW_CLINICAL_TABLES = ["therapy_sessions_safetyscreen", "therapy_sessions_safetyreview"]


def attach_trail(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return  # the change trail is PostgreSQL-only (people 0005)
    for table in NEW_CLINICAL_TABLES:
        schema_editor.execute(
            f"CREATE TRIGGER {table}_audit_change AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION audit_clinical_change();"
        )


def detach_trail(apps, schema_editor):  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    for table in NEW_CLINICAL_TABLES:
        schema_editor.execute(f"DROP TRIGGER IF EXISTS {table}_audit_change ON {table};")


class Migration(migrations.Migration):
    dependencies = [
        ("cycles", "0009_transfer_told_at_sign_in"),
        ("people", "0011_practice_date_format"),
        ("therapy_sessions", "0011_private_notes_one_per_author"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="measuredefinition",
            name="kind",
            field=models.CharField(
                choices=[("questionnaire", "Questionnaire"), ("safety_screen", "Safety screen")],
                db_default="questionnaire",
                default="questionnaire",
                help_text="A safety screen is taken by each partner alone and opens a safety concern when positive; it is never a session's questionnaire.",
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="alliancerating",
            name="entered_by",
            field=models.CharField(
                choices=[
                    ("therapist", "Entered by the therapist"),
                    ("partner", "Entered by the partner on the partner screen"),
                    ("partner_remote", "Entered by the partner, remotely"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="measureresponse",
            name="entered_by",
            field=models.CharField(
                choices=[
                    ("therapist", "Entered by the therapist"),
                    ("partner", "Entered by the partner on the partner screen"),
                    ("partner_remote", "Entered by the partner, remotely"),
                ],
                max_length=20,
            ),
        ),
        migrations.AlterField(
            model_name="postsessionreport",
            name="entered_by",
            field=models.CharField(
                choices=[
                    ("therapist", "Entered by the therapist"),
                    ("partner", "Entered by the partner on the partner screen"),
                    ("partner_remote", "Entered by the partner, remotely"),
                ],
                max_length=20,
            ),
        ),
        migrations.CreateModel(
            name="SafetyReview",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "partner",
                    models.CharField(
                        choices=[("A", "Partner A"), ("B", "Partner B")], max_length=1
                    ),
                ),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            (
                                "conjoint_can_continue",
                                "Assessed with the partner alone: conjoint sessions can continue",
                            ),
                            (
                                "individual_work",
                                "Assessed with the partner alone: individual work instead of conjoint sessions",
                            ),
                            (
                                "referred",
                                "Assessed with the partner alone: referred for specialist support",
                            ),
                        ],
                        max_length=30,
                    ),
                ),
                ("reviewed_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "request_token",
                    models.UUIDField(blank=True, editable=False, null=True, unique=True),
                ),
                (
                    "couple",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="safety_reviews",
                        to="cycles.couple",
                    ),
                ),
                (
                    "reviewed_by",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["couple", "partner", "reviewed_at", "pk"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("partner__in", ["A", "B"])),
                        name="safety_review_partner_a_or_b",
                    )
                ],
            },
        ),
        migrations.CreateModel(
            name="SafetyScreen",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "partner",
                    models.CharField(
                        choices=[("A", "Partner A"), ("B", "Partner B")], max_length=1
                    ),
                ),
                ("answers", models.JSONField()),
                ("total", models.DecimalField(decimal_places=2, max_digits=7)),
                ("positive", models.BooleanField()),
                (
                    "entered_by",
                    models.CharField(
                        choices=[
                            ("therapist", "Entered by the therapist"),
                            ("partner", "Entered by the partner on the partner screen"),
                            ("partner_remote", "Entered by the partner, remotely"),
                        ],
                        max_length=20,
                    ),
                ),
                ("recorded_at", models.DateTimeField(default=django.utils.timezone.now)),
                (
                    "request_token",
                    models.UUIDField(blank=True, editable=False, null=True, unique=True),
                ),
                (
                    "couple",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="safety_screens",
                        to="cycles.couple",
                    ),
                ),
                (
                    "definition",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="screens",
                        to="therapy_sessions.measuredefinition",
                    ),
                ),
                (
                    "recorded_by",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
                (
                    "session",
                    models.ForeignKey(
                        blank=True,
                        help_text="The session it was taken at, if any (none at intake or remotely).",
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="safety_screens",
                        to="therapy_sessions.therapysession",
                    ),
                ),
            ],
            options={
                "ordering": ["couple", "partner", "recorded_at", "pk"],
                "indexes": [
                    models.Index(fields=["couple", "recorded_at"], name="safety_screen_by_couple")
                ],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("partner__in", ["A", "B"])),
                        name="safety_screen_partner_a_or_b",
                    )
                ],
            },
        ),
        migrations.RunPython(attach_trail, detach_trail),
    ]
