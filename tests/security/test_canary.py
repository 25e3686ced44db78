"""A planted canary (checklist item 8): a private psychotherapy note and a rupture reflection,
both written through the views, hold CANARY. It is ciphertext in the database and shown to
its author on the session page, and it appears nowhere else: not in logs (messages or the
redacting formatter's output, all loggers at DEBUG), summaries, flags, roll-ups, digests,
the CSV export, either PDF (the owner's own included), the shared case, or the audit tables.

One module fixture does everything a practice does with the record, collecting every output;
each test then looks for the canary in one of them.
"""

from __future__ import annotations

import datetime
import io
import logging
from typing import Any

import pypdf
import pytest
from django.core import mail
from django.db import IntegrityError, connection, transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from config.logging import RedactingFormatter
from cycles.models import CaseShare
from flags import digests
from flags.runs import run_now
from ruptures.codes import RuptureStatus, RuptureType, Toward, WhoMoved
from ruptures.models import CaseloadSummary, Flag, Rupture, RuptureSummary
from sessions.models import PrivateNote, TherapySession
from tests.exports import exported
from tests.factories import World, make_session
from tests.security import every_log_record

pytestmark = pytest.mark.django_db

CANARY = "CANARY-51ab private"


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def plant(world: World, owner: Client) -> TherapySession:
    """The canary goes in through the views, as a therapist types it."""
    yesterday = timezone.localdate() - datetime.timedelta(days=1)
    response = owner.post(
        reverse("therapy_sessions:new", args=[world.couple.case_code]),
        {
            "date": yesterday.isoformat(),
            "start_time": "10:00",
            "end_time": "10:50",
            "format": "conjoint",
            "attendance": "attended",
            "progress_note": "Slowed the cycle down.",
            "private_note": f"Countertransference: {CANARY}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:1000]
    session = TherapySession.objects.filter(couple=world.couple).order_by("-ordinal").first()
    response = owner.post(
        reverse("ruptures:add", args=[session.pk]),
        {
            "new-rupture_type": RuptureType.CONFRONTATION,
            "new-confrontation_markers": ["REJECTS_INTERVENTION"],
            "new-who_moved": WhoMoved.PARTNER_A,
            "new-toward": Toward.THERAPIST,
            "new-significance": "5",
            "new-therapist_contribution": "5",
            "new-resolution_stage": "1",
            "new-status": RuptureStatus.UNRESOLVED,
            "new-reflection": f"My part: {CANARY}",
        },
    )
    assert response.status_code == 302, response.content.decode()[:1000]
    return session


def logged_integrity_error() -> None:
    """An error path with clinical text in the exception: PostgreSQL quotes the failing row
    (here the canary) in its message, and the error is logged with its traceback."""
    insert = "INSERT INTO ruptures_rupture (note) VALUES (%s)"
    with pytest.raises(IntegrityError) as caught, transaction.atomic(), connection.cursor() as c:
        c.execute(insert, [f"Failing row {CANARY}"])
    assert CANARY in str(caught.value)  # the message would leak, unredacted
    logging.getLogger("django.request").error("Internal Server Error", exc_info=caught.value)


@pytest.fixture(scope="module")
def outputs(django_db_setup: None, django_db_blocker: Any) -> Any:
    mail.outbox = []
    out: dict[str, Any] = {}
    with every_log_record() as handler, django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        make_session(world.couple, days_ago=3)
        owner = signed_in(world.owner)
        session = plant(world, owner)
        out["session"] = session
        out["owner session page"] = owner.get(
            reverse("therapy_sessions:detail", args=[session.pk])
        ).content.decode()
        supervisor = signed_in(world.supervisor)
        out["supervisor pages"] = [
            supervisor.get(url).content.decode()
            for url in (
                reverse("therapy_sessions:detail", args=[session.pk]),
                reverse("cycles:detail", args=[world.couple.case_code]),
                reverse("supervision:review") + "?period=all",
                reverse("supervision:therapist", args=[world.owner.pk]),
            )
        ]
        share = CaseShare.objects.create(
            couple=world.couple, group=world.group, shared_by=world.owner
        )
        today = timezone.localdate()
        for days in (1, 0):
            run = run_now(world.practice, today - datetime.timedelta(days=days))
            out["digests sent"] = digests.send(run)
        out["mail"] = [f"{m.subject}\n{m.body}" for m in mail.outbox]
        out["summaries"] = [str(s.data) for s in RuptureSummary.objects.all()]
        out["flags"] = [f"{f.detail} {f.evidence}" for f in Flag.objects.all()]
        out["caseload summaries"] = [str(c.data) for c in CaseloadSummary.objects.all()]
        csv = exported(supervisor, reverse("supervision:ruptures_csv"))
        out["csv"] = csv.content.decode()
        pdf = exported(owner, reverse("cycles:pdf", args=[world.couple.case_code]))
        assert pdf["Content-Type"] == "application/pdf"
        out["couple pdf"] = pdf_text(pdf.content)
        member = signed_in(world.group_member)
        case_args = [world.group.pk, share.code]
        out["shared case"] = member.get(reverse("consultation:case", args=case_args))
        out["shared pdf"] = pdf_text(
            member.get(reverse("consultation:case_pdf", args=case_args)).content
        )
        out["group page"] = member.get(reverse("consultation:group", args=[world.group.pk]))
        assert owner.get(reverse("therapy_sessions:detail", args=[999_999])).status_code == 404
        logged_integrity_error()
        out["raw notes"] = raw_rows("therapy_sessions_privatenote")
        out["audit"] = [row for table in audit_tables() for row in raw_rows(table)]
        out["audit tables"] = audit_tables()
        out["notes"] = list(PrivateNote.objects.filter(author=world.owner))
        out["records"] = list(handler.records)
        yield out
        transaction.set_rollback(True)


def raw_rows(table: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t::text FROM {connection.ops.quote_name(table)} t")  # noqa: S608
        return [row[0] for row in cursor.fetchall()]


def audit_tables() -> list[str]:
    existing = set(connection.introspection.table_names())
    return [t for t in ("people_accessevent", "people_changeevent") if t in existing]


def test_the_canary_was_planted_through_the_views(outputs: Any) -> None:
    texts = [note.text for note in outputs["notes"]]
    assert any(CANARY in text for text in texts)
    assert sum(CANARY in text for text in texts) == 2  # the note and the reflection
    assert Rupture.objects.exists()


def test_the_private_note_is_ciphertext_in_the_database(outputs: Any) -> None:
    assert outputs["raw notes"]
    assert not any(CANARY in row for row in outputs["raw notes"])
    assert not any("51ab" in row for row in outputs["raw notes"])


def test_its_author_reads_it_on_the_session_page(outputs: Any) -> None:
    assert CANARY in outputs["owner session page"]


def test_the_supervisor_never_sees_it(outputs: Any) -> None:
    for page in outputs["supervisor pages"]:
        assert CANARY not in page


def test_no_log_message_carries_it(outputs: Any) -> None:
    records = outputs["records"]
    assert any(r.name == "django.request" and r.exc_info for r in records)
    for record in records:
        assert CANARY not in record.getMessage(), record.name


def test_the_redacting_formatter_keeps_it_out_of_the_rendered_log(outputs: Any) -> None:
    formatter = RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s")
    rendered = "\n".join(formatter.format(record) for record in outputs["records"])
    assert "IntegrityError" in rendered  # the error path was logged, without its message
    assert CANARY not in rendered


def test_summaries_flags_and_rollups_never_carry_it(outputs: Any) -> None:
    assert outputs["summaries"]
    assert outputs["flags"]
    assert outputs["caseload summaries"]
    for key in ("summaries", "flags", "caseload summaries"):
        for text in outputs[key]:
            assert CANARY not in text, key


def test_digests_never_carry_it(outputs: Any) -> None:
    assert outputs["mail"], "no digest was sent: nothing checked"
    for message in outputs["mail"]:
        assert CANARY not in message


def test_the_csv_export_never_carries_it(outputs: Any) -> None:
    assert outputs["csv"].count("\n") >= 2
    assert CANARY not in outputs["csv"]


def test_the_owners_own_pdf_never_carries_it(outputs: Any) -> None:
    assert outputs["couple pdf"].strip()
    assert CANARY not in outputs["couple pdf"]


def test_the_shared_case_never_carries_it(outputs: Any) -> None:
    for key in ("shared case", "group page"):
        assert outputs[key].status_code == 200
        assert CANARY not in outputs[key].content.decode()
    assert outputs["shared pdf"].strip()
    assert CANARY not in outputs["shared pdf"]


def test_the_audit_tables_never_carry_it(outputs: Any) -> None:
    assert "people_accessevent" in outputs["audit tables"]
    assert outputs["audit"]
    for row in outputs["audit"]:
        assert CANARY not in row
