"""The whole record of a couple for a client's right of access: one ZIP (a readable PDF, a JSON
of everything, a CSV per table, a codebook), the joint record or one partner's copy, started by
the couple's therapist only, after a recent check, recorded, downloadable by them only and only
for 15 minutes. Never a private note or reflection; a partner's copy never holds the other
partner's individual sessions or answers."""

from __future__ import annotations

import csv
import datetime
import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from cycles.models import CaseEvent, Couple
from exports import record, services
from exports.models import ExportJob
from people.models import AccessEvent
from plans.services import GoalDraft, plan_save
from ruptures.codes import ResolutionStrategy, WhoMoved
from ruptures.models import Flag, FlagAcknowledgement, FlagKind, Rupture
from ruptures.services import rupture_repair
from sessions.models import (
    AllianceRating,
    MeasureDefinition,
    MeasureResponse,
    PostSessionReport,
    SessionFormat,
    TherapySession,
)
from sessions.signing import amend, sign
from tests.exports import exported, job_of, start_export
from tests.factories import World, make_rupture, make_session

pytestmark = pytest.mark.django_db

CANARY_NOTE = "CANARY-private-process-note-7731"
CANARY_REFLECTION = "CANARY-private-reflection-4410"
B_INDIVIDUAL_NOTE = "Blake alone: spoke of the first marriage."
A_INDIVIDUAL_NOTE = "Avery alone: named the fear of being left."
B_RUPTURE_NOTE = "Blake's individual rupture note."


@dataclass
class Crafted:
    world: World
    joint: TherapySession
    alone_a: TherapySession
    alone_b: TherapySession
    later: TherapySession
    b_rupture: Rupture

    @property
    def url(self) -> str:
        return reverse("exports:whole_record", args=[self.world.couple.case_code])


@pytest.fixture
def crafted() -> Crafted:
    """world.couple's record: session 1 conjoint (a rupture, repaired in session 4, measures
    of both partners and the therapist, signed and amended), 2 individual with A, 3 individual
    with B (a rupture of its own), 4 conjoint; a plan, two flags, an acknowledgement; private
    notes and reflections on each."""
    world = World.build()
    couple, owner = world.couple, world.owner
    joint = world.session
    TherapySession.objects.filter(pk=joint.pk).update(progress_note="Mapped the cycle together.")
    alone_a = make_session(
        couple,
        days_ago=8,
        format=SessionFormat.INDIVIDUAL_A,
        progress_note=A_INDIVIDUAL_NOTE,
        private_note=CANARY_NOTE,
    )
    alone_b = make_session(
        couple,
        days_ago=6,
        format=SessionFormat.INDIVIDUAL_B,
        progress_note=B_INDIVIDUAL_NOTE,
        private_note=CANARY_NOTE,
    )
    later = make_session(couple, days_ago=3, progress_note="Softening began.")
    b_rupture = make_rupture(
        alone_b, who_moved=WhoMoved.PARTNER_B, note=B_RUPTURE_NOTE, reflection=CANARY_REFLECTION
    )
    rupture_repair(
        rupture=world.rupture,
        repaired_in=later,
        status="resolved",
        strategies=ResolutionStrategy.CLARIFIES_MISUNDERSTANDING,
        resolution_stage=4,
        note="I named my part in it.",
        recorded_by=owner,
    )
    for partner, bond in (("A", 7), ("B", 3)):
        AllianceRating.objects.create(
            session=joint,
            partner=partner,
            bond=bond,
            goals=6,
            tasks=5,
            fit=8,
            entered_by="therapist",
        )
    for respondent, tension in (("partner_a", True), ("partner_b", False), ("therapist", True)):
        PostSessionReport.objects.create(
            session=joint,
            respondent=respondent,
            tension=tension,
            upsetting=4 if tension else None,
            resolved=2 if tension else None,
            entered_by="therapist",
        )
    csi4 = MeasureDefinition.objects.get(practice=None, code="csi4")
    for partner, total in (("A", "11.00"), ("B", "17.00")):
        MeasureResponse.objects.create(
            definition=csi4,
            session=joint,
            partner=partner,
            answers={"happiness": int(total[:2]) // 4},
            total=total,
            entered_by="therapist",
            recorded_by=owner,
        )
    today = timezone.localdate()
    plan_save(
        couple=couple,
        author=owner,
        base_revision=0,
        plan_date=today,
        review_on=today + datetime.timedelta(days=42),
        goals=[
            GoalDraft(
                stage=1,
                interventions="Track the cycle as it happens in the room.",
                evidence="de_escalation",
                review_on=today + datetime.timedelta(days=21),
            )
        ],
        change_note="First plan.",
    )
    unresolved = Flag.objects.create(
        couple=couple,
        kind=FlagKind.UNRESOLVED_RUPTURE,
        key=f"rupture:{world.rupture.pk}",
        opened_on=today,
        detail="Withdrawal rupture in session 1, unresolved.",
        evidence={"ruptures": [world.rupture.pk], "sessions": [1]},
    )
    Flag.objects.create(
        couple=couple,
        kind=FlagKind.ALLIANCE_DROP,
        key="B",
        opened_on=today,
        detail="Partner B's alliance fell by 12 points.",
        evidence={"sessions": [1, 4]},
    )
    FlagAcknowledgement.objects.create(
        flag=unresolved, by=world.supervisor, comment="Talk it through on Thursday."
    )
    CaseEvent.objects.create(
        couple=couple,
        kind="transferred",
        on_date=today,
        note="Moved to a therapist nearer home.",
        by=world.practice_admin,
        from_therapist=world.colleague,
        to_therapist=owner,
    )
    sign(joint, by=owner)
    amend(
        joint,
        by=owner,
        reason="Wrong words.",
        changes=[
            {
                "what": "Session",
                "field": "progress note",
                "before": "Mapped the cycle together.",
                "after": "Mapped the cycle with both.",
            }
        ],
        apply=lambda: TherapySession.objects.filter(pk=joint.pk).update(
            progress_note="Mapped the cycle with both."
        ),
    )
    return Crafted(world, joint, alone_a, alone_b, later, b_rupture)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def files_of(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as zipped:
        return {name: zipped.read(name) for name in zipped.namelist()}


def table(files: dict[str, bytes], name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(files[f"{name}.csv"].decode())))


def column(rows: list[dict[str, str]], *names: str) -> list[tuple[str, ...]]:
    return [tuple(row[name] for name in names) for row in rows]


def download(crafted: Crafted, copy: str) -> dict[str, bytes]:
    response = exported(signed_in(crafted.world.owner), crafted.url, {"copy": copy})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    return files_of(response.content)


TABLES = [
    "couple",
    "partners",
    "sessions",
    "cycle_maps",
    "cycle_map_steps",
    "ruptures",
    "repairs",
    "alliance_ratings",
    "post_session_reports",
    "questionnaire_answers",
    "safety_screens",
    "safety_reviews",
    "plan_revisions",
    "plan_goals",
    "flags",
    "flag_acknowledgements",
    "sign_off_events",
    "amendments",
    "case_events",
]


def test_the_joint_record_holds_every_section_exactly(crafted):
    world = crafted.world
    files = download(crafted, "joint")

    assert sorted(files) == sorted(
        ["README.txt", "record.pdf", "record.json", *(f"{name}.csv" for name in TABLES)]
    )
    assert files["record.pdf"].startswith(b"%PDF")
    couple = table(files, "couple")
    assert column(couple, "case_code", "cycle_pattern") == [
        (world.couple.case_code, world.couple.cycle_pattern)
    ]
    partners = world.couple.partners.order_by("label")
    assert column(table(files, "partners"), "label", "display_name", "position") == [
        (p.label, p.display_name, p.position) for p in partners
    ]
    assert column(table(files, "sessions"), "ordinal", "format", "progress_note", "therapist") == [
        ("1", "conjoint", "Mapped the cycle with both.", "Owner Therapist"),
        ("2", "individual_a", A_INDIVIDUAL_NOTE, "Owner Therapist"),
        ("3", "individual_b", B_INDIVIDUAL_NOTE, "Owner Therapist"),
        ("4", "conjoint", "Softening began.", "Owner Therapist"),
    ]
    assert column(table(files, "cycle_maps"), "revision", "author") == [("1", "Owner Therapist")]
    steps = table(files, "cycle_map_steps")
    assert [row["text"] or row["emotion"] for row in steps] == [
        "partner goes quiet",
        "anger",
        "fear",
        "to matter",
        "criticises",
        "criticism",
        "fear",
        "goes quiet",
    ]
    ruptures = table(files, "ruptures")
    assert column(ruptures, "session", "who_moved", "status", "repaired_in") == [
        (str(crafted.joint.pk), "partner_a", "resolved", str(crafted.later.pk)),
        (str(crafted.alone_b.pk), "partner_b", "unresolved", ""),
    ]
    assert ruptures[1]["note"] == B_RUPTURE_NOTE
    assert column(table(files, "repairs"), "session", "status", "strategies", "note") == [
        (str(crafted.later.pk), "resolved", "CLARIFIES_MISUNDERSTANDING", "I named my part in it.")
    ]
    assert column(table(files, "alliance_ratings"), "partner", "bond", "fit") == [
        ("A", "7", "8"),
        ("B", "3", "8"),
    ]
    assert column(table(files, "post_session_reports"), "respondent", "tension", "upsetting") == [
        ("partner_a", "true", "4"),
        ("partner_b", "false", ""),
        ("therapist", "true", "4"),
    ]
    assert column(
        table(files, "questionnaire_answers"), "definition", "partner", "total", "answers"
    ) == [("csi4", "A", "11.00", '{"happiness": 2}'), ("csi4", "B", "17.00", '{"happiness": 4}')]
    assert '"total": "17.00"' in files["record.json"].decode()
    assert column(table(files, "plan_revisions"), "revision", "change_note") == [
        ("1", "First plan.")
    ]
    assert column(table(files, "plan_goals"), "stage", "interventions", "evidence") == [
        ("1", "Track the cycle as it happens in the room.", "de_escalation")
    ]
    assert column(table(files, "flags"), "kind", "detail") == [
        ("unresolved_rupture", "Withdrawal rupture in session 1, unresolved."),
        ("alliance_drop", "Partner B's alliance fell by 12 points."),
    ]
    assert column(table(files, "flag_acknowledgements"), "by", "comment") == [
        ("Owner's Supervisor", "Talk it through on Thursday.")
    ]
    assert column(table(files, "sign_off_events"), "session", "kind", "by") == [
        (str(crafted.joint.pk), "signed", "Owner Therapist"),
        (str(crafted.joint.pk), "amended", "Owner Therapist"),
    ]
    amendments = table(files, "amendments")
    assert column(amendments, "reason") == [("Wrong words.",)]
    assert json.loads(amendments[0]["changes"])[0]["before"] == "Mapped the cycle together."

    assert column(
        table(files, "case_events"), "kind", "note", "by", "from_therapist", "to_therapist"
    ) == [
        (
            "transferred",
            "Moved to a therapist nearer home.",
            "Practice Admin",
            "Colleague Therapist",
            "Owner Therapist",
        )
    ]

    everything = json.loads(files["record.json"])
    assert everything["case_code"] == world.couple.case_code
    assert everything["copy"] == "joint"
    assert sorted(everything["tables"]) == sorted(TABLES)
    assert [s["progress_note"] for s in everything["tables"]["sessions"]][1] == A_INDIVIDUAL_NOTE
    assert everything["tables"]["repairs"][0]["strategies"] == ["CLARIFIES_MISUNDERSTANDING"]


def test_the_codebook_lists_every_file_column_and_code(crafted):
    files = download(crafted, "joint")
    codebook = files["README.txt"].decode()
    for name in TABLES:
        assert f"{name}.csv" in codebook
        header = files[f"{name}.csv"].decode().splitlines()[0].split(",")
        section = codebook.split(f"\n{name}.csv: ")[1].split("\n\n")[0]
        for col in header:
            assert f"\n  {col}: " in section, (name, col)
    assert "      individual_b = Individual with partner B" in codebook
    assert "      CLARIFIES_MISUNDERSTANDING = Clarifies a misunderstanding" in codebook
    assert "private psychotherapy notes" in codebook
    assert "\nQuestionnaire csi4: Couples Satisfaction Index (CSI-4)\n" in codebook
    assert (
        "      happiness = Please indicate the degree of happiness, all things considered, of "
        "your relationship. (0–6)\n" in codebook
    )


@pytest.mark.parametrize("copy", ["joint", "A", "B"])
def test_no_private_note_or_reflection_is_in_any_file(crafted, copy):
    for name, content in download(crafted, copy).items():
        if name == "record.pdf":
            continue
        text = content.decode()
        for canary in (
            CANARY_NOTE,
            CANARY_REFLECTION,
            "Private process note.",
            "My private reflection.",
        ):
            assert canary not in text, (name, canary)


def pdf_text(pdf: bytes) -> str:
    return " ".join(
        " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages
    )


def test_the_pdf_reads_as_the_record_without_private_notes(crafted):
    text = pdf_text(download(crafted, "joint")["record.pdf"])
    assert f"{crafted.world.couple.case_code}: the whole record" in text
    for title in (
        "Sessions and progress notes",
        "Ruptures",
        "Repairs",
        "Questionnaire answers",
        "Treatment plan revisions",
        "Flag acknowledgements",
        "Amendments",
    ):
        assert title in text
    assert A_INDIVIDUAL_NOTE in text
    assert "Individual with partner B" in text  # codes shown by their meaning
    assert "I named my part in it." in text
    assert CANARY_NOTE not in text
    assert CANARY_REFLECTION not in text


def test_partner_a_pdf_leaves_out_b_individual_session(crafted):
    text = pdf_text(download(crafted, "A")["record.pdf"])
    assert "Partner A's copy" in text
    assert A_INDIVIDUAL_NOTE in text
    assert B_INDIVIDUAL_NOTE not in text
    assert "Individual with partner B" not in text


def test_partner_a_copy_leaves_out_b_individual_sessions_and_answers(crafted):
    files = download(crafted, "A")
    assert column(table(files, "sessions"), "ordinal", "format") == [
        ("1", "conjoint"),
        ("2", "individual_a"),
        ("4", "conjoint"),
    ]
    assert column(table(files, "ruptures"), "session") == [(str(crafted.joint.pk),)]
    assert column(table(files, "alliance_ratings"), "partner", "bond") == [("A", "7")]
    assert column(table(files, "post_session_reports"), "respondent") == [
        ("partner_a",),
        ("therapist",),
    ]
    assert column(table(files, "questionnaire_answers"), "partner", "total") == [("A", "11.00")]
    # The flag read from B's answers is left out; the joint record's flag stays.
    assert column(table(files, "flags"), "kind") == [("unresolved_rupture",)]
    everything = files["record.json"].decode()
    # B's total (17) is looked for as a value, not as digits a time stamp may hold.
    assert '"total": "17.00"' not in everything
    for absent in (B_INDIVIDUAL_NOTE, B_RUPTURE_NOTE, "Partner B's alliance"):
        for name, content in files.items():
            if name != "record.pdf":
                assert absent not in content.decode(), (name, absent)
    assert A_INDIVIDUAL_NOTE in everything
    assert "Partner A's copy" in files["README.txt"].decode()


def test_partner_b_copy_leaves_out_a_individual_session_and_answers(crafted):
    files = download(crafted, "B")
    assert column(table(files, "sessions"), "ordinal") == [("1",), ("3",), ("4",)]
    assert column(table(files, "questionnaire_answers"), "partner") == [("B",)]
    assert column(table(files, "alliance_ratings"), "partner") == [("B",)]
    for name, content in files.items():
        if name != "record.pdf":
            assert A_INDIVIDUAL_NOTE not in content.decode()


def test_the_record_is_read_in_a_fixed_number_of_queries(crafted):
    owner, case_code = crafted.world.owner, crafted.world.couple.case_code
    with CaptureQueriesContext(connection) as few:
        whole = record.whole_record(owner, case_code, "joint")
        record.archive(whole, b"%PDF")
    for _ in range(10):
        make_session(crafted.world.couple, days_ago=1, private_note=CANARY_NOTE)
    with CaptureQueriesContext(connection) as more:
        whole = record.whole_record(owner, case_code, "A")
        record.archive(whole, b"%PDF")
    # The couple, each of the 19 tables (the couple's own row read once), the names of
    # people, emotion terms and measures.
    assert len(few) == len(more) == 22


@pytest.mark.parametrize(
    "role",
    ["colleague", "supervisor", "other_supervisor", "practice_admin", "group_member", "outsider"],
)
def test_only_the_couples_therapist_may_start_it(crafted, role):
    client = signed_in(getattr(crafted.world, role))
    assert client.get(crafted.url).status_code == 404
    assert client.post(crafted.url, {"copy": "joint"}).status_code == 404
    assert not ExportJob.objects.exists()
    assert not AccessEvent.objects.filter(action="export whole record").exists()


def test_the_couple_page_offers_it_to_the_therapist_only(crafted):
    page = reverse("cycles:detail", args=[crafted.world.couple.case_code])
    link = f'href="{crafted.url}"'
    assert link in signed_in(crafted.world.owner).get(page).content.decode()
    assert link not in signed_in(crafted.world.supervisor).get(page).content.decode()


def test_the_choice_names_the_partners_and_a_bad_choice_is_a_message(crafted):
    client = signed_in(crafted.world.owner)
    page = client.get(crafted.url).content.decode()
    for partner in crafted.world.couple.partners.all():
        assert partner.display_name in page
    response = client.post(crafted.url, {"copy": "C"})
    assert response.status_code == 200
    assert "Choose the joint record or one partner&#x27;s copy." in response.content.decode()
    assert not ExportJob.objects.exists()


def test_the_start_is_recorded_with_the_copy(crafted):
    download(crafted, "A")
    event = AccessEvent.objects.get(action="export whole record")
    assert event.user == crafted.world.owner
    assert event.case_code == crafted.world.couple.case_code
    assert event.detail == "copy=A"


def test_the_file_is_for_the_therapist_only_and_for_15_minutes(crafted):
    client = signed_in(crafted.world.owner)
    job = job_of(start_export(client, crafted.url, {"copy": "joint"}))
    link = reverse("exports:download", args=[job.token])
    assert client.get(link).status_code == 200
    for other in (crafted.world.supervisor, crafted.world.colleague, crafted.world.practice_admin):
        assert signed_in(other).get(link).status_code == 404
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=16)):
        assert signed_in(crafted.world.owner).get(link).status_code == 404


def test_a_couple_no_longer_theirs_when_the_worker_builds_it_builds_nothing(crafted):
    """The worker checks access again from the person who asked (exports.record)."""
    client = signed_in(crafted.world.owner)
    job = job_of(client.post(crafted.url, {"copy": "joint"}))  # its task not run yet
    Couple.objects.filter(pk=crafted.world.couple.pk).update(therapist=crafted.world.colleague)
    services.build(job.pk)
    job.refresh_from_db()
    assert job.status == "failed"
    assert job.error == "DoesNotExist"
    assert job.content is None
    assert client.get(reverse("exports:download", args=[job.token])).status_code == 404


def test_a_start_long_after_signing_in_asks_to_confirm_who_it_is_first(crafted):
    client = signed_in(crafted.world.owner)
    session = client.session
    for method in session["account_authentication_methods"]:
        method["at"] -= 60 * 60
    session.save()
    response = client.post(crafted.url, {"copy": "joint"})
    assert response.status_code == 302
    assert reverse("account_reauthenticate") in response["Location"]
    assert not ExportJob.objects.exists()
