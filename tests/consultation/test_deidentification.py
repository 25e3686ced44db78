"""What a consultation group sees of a shared case: codes, vocabulary and ordinals, nothing else.

One couple has names, pronouns, an e-mail address, a phone number, dates, a street address and
a canary sentence planted in every free-text field it has (partners, every cycle step of two map
revisions, change notes, progress notes, private notes, rupture notes, private reflections,
withdrawal reasons, the nightly job's flag details and a supervisor's acknowledgement). It is
shared into a group; a group member's group list, dashboard, shared case page and shared case
PDF must hold none of it, nor the couple's case code, its pk-based URLs or its dates
(docs/domain.md#who-sees-what), and must still show the controlled vocabulary, ordinals and share
code.
"""

from __future__ import annotations

import contextlib
import datetime
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction
from django.test import Client, TestCase
from django.urls import reverse

from config.celery import app as celery_app
from consultation.deidentify import shared_case
from cycles.models import CaseShare, CyclePattern, CyclePosition, EFTStep, EmotionKind, StepKind
from cycles.services import PartnerDetails, StepDraft, cycle_map_save
from flags.runs import day_just_ended, start_run
from ruptures.codes import (
    ConfrontationMarker,
    ResolutionStage,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    Toward,
    WhoMoved,
    WithdrawalMarker,
)
from ruptures.models import Flag, FlagAcknowledgement, FlagKind
from ruptures.services import rupture_repair, rupture_withdraw
from sessions.models import (
    AllianceRating,
    Attendance,
    EFTChangeEvent,
    Horseman,
    LeftBy,
    PrivateNote,
    TherapySession,
)
from sessions.services import session_withdraw
from tests.consultation import found_in, page_text, pdf_text
from tests.exports import exported
from tests.factories import World, make_couple, make_emotion, make_rupture, make_session

if TYPE_CHECKING:
    from collections.abc import Iterator

    from cycles.models import Couple
    from ruptures.models import Rupture

pytestmark = pytest.mark.django_db

CANARY = "CANARY-4b1d"
NAME_A = "Rosalind Featherstonehaugh"
NAME_B = "Peregrine Cholmondeley-Warner"

# Each planted value alone, so a failure names what got through.
PLANTED_VALUES = [
    CANARY,
    "the couple lives near the old mill",
    "old mill",
    "Rosalind",
    "Featherstonehaugh",
    "Peregrine",
    "Cholmondeley",
    "ze/hir",
    "xe/xem",
    "rosalind.f@example.org",
    "example.org",
    "+44 7700 900123",
    "7700 900123",
    "14 March 2026",
    "2026-03-14",
    "221B Baker Street",
    "Baker Street",
]

STARTED_ON = datetime.date(2025, 8, 19)
SESSION_DAYS = {
    "first": datetime.date(2025, 9, 2),
    "walk-out": datetime.date(2025, 9, 16),
    "withdrawn": datetime.date(2025, 9, 23),
    "repair": datetime.date(2025, 10, 7),
    "no-show": datetime.date(2025, 10, 21),
}


def planted(field: str) -> str:
    """Every kind of identifier in one value (at most 200 characters: change notes)."""
    text = (
        f"{CANARY} {field}: the couple lives near the old mill. {NAME_A.split()[1]} "
        "rosalind.f@example.org +44 7700 900123 14 March 2026 2026-03-14 221B Baker Street"
    )
    assert len(text) <= 200, text
    return text


def date_forms(day: datetime.date) -> list[str]:
    """The ways a page or a PDF could print a day, or its year and month."""
    d, m, y = day.day, day.month, day.year
    month, mon = day.strftime("%B"), day.strftime("%b")
    return [
        day.isoformat(),
        f"{y}-{m:02d}",
        f"{d:02d}/{m:02d}/{y}",
        f"{d}/{m}/{y}",
        f"{m}/{d}/{y}",
        f"{d} {mon}",
        f"{d} {month}",
        f"{mon} {d},",
        f"{month} {d},",
        f"{mon}. {d},",
        f"{month} {y}",
        f"{mon} {y}",
    ]


@contextlib.contextmanager
def eager_tasks() -> Iterator[None]:
    """Celery tasks run in this process (the settings make them so when REDIS_URL is unset)."""
    saved = {k: celery_app.conf[k] for k in ("task_always_eager", "task_eager_propagates")}
    celery_app.conf.update(task_always_eager=True, task_eager_propagates=True)
    try:
        yield
    finally:
        celery_app.conf.update(saved)


@dataclass
class Scene:
    world: World
    couple: Couple
    share: CaseShare
    sessions: dict[str, TherapySession]
    ruptures: dict[str, Rupture]
    nightly_flags: list[Flag]
    fields: list[str]  # the name of every free-text field planted
    responses: dict[str, bytes]  # a group member's pages, fetched once

    def forbidden(self) -> list[str]:
        """Everything no consultation page may show of this couple."""
        needles = [*PLANTED_VALUES, *(f"{CANARY} {field}:" for field in self.fields)]
        needles += [self.couple.case_code, f"/couples/{self.couple.case_code}/"]
        needles += [f"/sessions/{s.pk}/" for s in self.sessions.values()]
        needles += [f"/ruptures/{r.pk}/" for r in self.ruptures.values()]
        needles += [flag.detail for flag in self.nightly_flags]
        for day in [STARTED_ON, *SESSION_DAYS.values()]:
            needles += date_forms(day)
        return needles

    def text(self, name: str) -> str:
        content = self.responses[name]
        return pdf_text(content) if name == "case PDF" else page_text(content)


def build_map(couple: Couple, revision: int) -> None:
    """A map whose every step carries planted text, beside vocabulary terms where allowed."""
    resentment = make_emotion("resentment", EmotionKind.SECONDARY)
    loneliness = make_emotion("loneliness", EmotionKind.PRIMARY)
    frustration = make_emotion("frustration", EmotionKind.SECONDARY)

    def text(step: str) -> str:
        return planted(f"map {revision} {step}")

    cycle_map_save(
        couple=couple,
        author=couple.therapist,
        base_revision=revision - 1,
        change_note=planted(f"map {revision} change note"),
        chains={
            "A": [
                StepDraft(StepKind.TRIGGER, text("A trigger")),
                StepDraft(StepKind.PERCEPTION, text("A perception")),
                StepDraft(StepKind.BODY, text("A body")),
                StepDraft(StepKind.SECONDARY_EMOTION, text("A beside resentment"), resentment),
                StepDraft(StepKind.PRIMARY_EMOTION, text("A beside loneliness"), loneliness),
                StepDraft(StepKind.ATTACHMENT_NEED, text("A need")),
                StepDraft(StepKind.ACTION, text("A action"), move="pursuing"),
            ],
            "B": [
                StepDraft(StepKind.TRIGGER, text("B trigger")),
                StepDraft(StepKind.SECONDARY_EMOTION, text("B beside frustration"), frustration),
                StepDraft(StepKind.PRIMARY_EMOTION, text("B free-text-only emotion")),
                StepDraft(StepKind.ACTION, text("B action"), move="withdrawing"),
            ],
        },
    )


def at(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(10), tzinfo=datetime.UTC)


def build_scene() -> Scene:
    world = World.build()
    owner = world.owner
    couple = make_couple(
        owner,
        partner_a=PartnerDetails(NAME_A, CyclePosition.PURSUER, f"ze/hir {CANARY} pronouns A:"),
        partner_b=PartnerDetails(NAME_B, CyclePosition.WITHDRAWER, f"xe/xem {CANARY} pronouns B:"),
        cycle_pattern=CyclePattern.PURSUE_WITHDRAW,
        eft_step=EFTStep.OWN_NEEDS,
        started_on=STARTED_ON,
    )
    build_map(couple, 1)
    build_map(couple, 2)

    attendance = {"walk-out": Attendance.ENDED_EARLY, "no-show": Attendance.NO_SHOW}
    observed = {
        "first": {"horsemen": Horseman.CRITICISM | Horseman.CONTEMPT},
        "walk-out": {"change_events": EFTChangeEvent.ATTACHMENT_INJURY},
    }
    sessions = {
        name: make_session(
            couple,
            starts_at=at(day),
            progress_note=planted(f"progress note {name}"),
            private_note=planted(f"private note {name}"),
            attendance=attendance.get(name, Attendance.ATTENDED),
            left_early=LeftBy.PARTNER_B if name == "walk-out" else "",
            **observed.get(name, {}),
        )
        for name, day in SESSION_DAYS.items()
    }
    session_withdraw(session=sessions["withdrawn"], by=owner, reason=planted("session withdrawn"))
    for s in sessions.values():
        s.refresh_from_db()
    for label, scores in (("A", (7, 8, 6, 9)), ("B", (5, 5, 5, 5))):
        AllianceRating.objects.create(
            session=sessions["first"],
            partner=label,
            bond=scores[0],
            goals=scores[1],
            tasks=scores[2],
            fit=scores[3],
            entered_by="therapist",
        )

    ruptures = {
        "unresolved": make_rupture(
            sessions["first"],
            rupture_type=RuptureType.WITHDRAWAL,
            withdrawal_markers=WithdrawalMarker.DENIAL | WithdrawalMarker.MINIMAL_RESPONSE,
            therapist_contribution=4,
            note=planted("rupture note unresolved"),
            reflection=planted("reflection unresolved"),
        ),
        "repaired": make_rupture(
            sessions["walk-out"],
            rupture_type=RuptureType.CONFRONTATION,
            who_moved=WhoMoved.PARTNER_B,
            toward=Toward.PARTNER_A,
            confrontation_markers=ConfrontationMarker.REJECTS_INTERVENTION,
            significance=4,
            note=planted("rupture note repaired"),
            reflection=planted("reflection repaired"),
        ),
        "withdrawn": make_rupture(
            sessions["repair"],
            note=planted("rupture note withdrawn"),
            reflection=planted("reflection withdrawn"),
        ),
    }
    rupture_repair(
        rupture=ruptures["repaired"],
        repaired_in=sessions["repair"],
        status=RuptureStatus.RESOLVED,
        strategies=ResolutionStrategy.CLARIFIES_MISUNDERSTANDING
        | ResolutionStrategy.ACKNOWLEDGES_CONTRIBUTION,
        resolution_stage=ResolutionStage.UNDERLYING_NEED,
    )
    rupture_withdraw(rupture=ruptures["withdrawn"], by=owner, reason=planted("rupture withdrawn"))

    # The nightly job writes the flags (and their details) as it does in production.
    with eager_tasks(), TestCase.captureOnCommitCallbacks(execute=True):
        start_run(practice=world.practice, for_date=day_just_ended(world.practice))
    nightly_flags = list(Flag.objects.filter(couple=couple).order_by("pk"))
    # A detail edited by hand, and a supervisor's comment, are free text as well.
    Flag.objects.filter(pk=nightly_flags[-1].pk).update(detail=planted("flag detail"))
    for flag in nightly_flags:
        FlagAcknowledgement.objects.create(
            flag=flag,
            by=world.supervisor,
            comment=planted(f"acknowledgement {flag.kind}"),
            follow_up_on=datetime.date(2026, 3, 14),
        )

    share = CaseShare.objects.create(couple=couple, group=world.group, shared_by=owner)
    fields = [
        "pronouns A",
        "pronouns B",
        "flag detail",
        *(f"map {n} change note" for n in (1, 2)),
        *(
            f"map {n} {step}"
            for n in (1, 2)
            for step in (
                "A trigger",
                "A perception",
                "A body",
                "A beside resentment",
                "A beside loneliness",
                "A need",
                "A action",
                "B trigger",
                "B beside frustration",
                "B free-text-only emotion",
                "B action",
            )
        ),
        *(f"{kind} {name}" for kind in ("progress note", "private note") for name in sessions),
        "session withdrawn",
        *(f"{kind} {name}" for kind in ("rupture note", "reflection") for name in ruptures),
        "rupture withdrawn",
        *(f"acknowledgement {flag.kind}" for flag in nightly_flags),
    ]
    return Scene(
        world=world,
        couple=couple,
        share=share,
        sessions=sessions,
        ruptures=ruptures,
        nightly_flags=nightly_flags,
        fields=fields,
        responses={},
    )


def fetch_pages(scene: Scene) -> dict[str, bytes]:
    client = Client()
    client.force_login(scene.world.group_member)
    group, code = scene.world.group.pk, scene.share.code
    urls = {
        "group list": reverse("consultation:groups"),
        "group dashboard": reverse("consultation:group", args=[group]),
        "shared case": reverse("consultation:case", args=[group, code]),
        "case PDF": reverse("consultation:case_pdf", args=[group, code]),
    }
    responses = {}
    for name, url in urls.items():
        response = client.get(url)
        assert response.status_code == 200, (name, response.status_code)
        responses[name] = response.content
    return responses


@pytest.fixture(scope="module")
def scene(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        built = build_scene()
        built.responses = fetch_pages(built)
        yield built
        transaction.set_rollback(True)


PAGES = ["group list", "group dashboard", "shared case", "case PDF"]


def test_every_free_text_field_was_planted(scene: Scene) -> None:
    """The canaries are really in the record, so their absence below means something."""
    couple = scene.couple
    partners = list(couple.partners.values_list("display_name", "pronouns"))
    assert [name for name, _ in partners] == [NAME_A, NAME_B]
    assert all(CANARY in pronouns for _, pronouns in partners)
    rows = [
        *couple.cycle_maps.values_list("change_note", flat=True),
        *couple.cycle_maps.values_list("steps__text", flat=True),
        *TherapySession.objects.filter(couple=couple).values_list("progress_note", flat=True),
        *TherapySession.objects.filter(couple=couple)
        .exclude(withdrawal_reason="")
        .values_list("withdrawal_reason", flat=True),
        *PrivateNote.objects.filter(session__couple=couple).values_list("text", flat=True),
        *PrivateNote.objects.filter(rupture__couple=couple).values_list("text", flat=True),
        *couple.ruptures.values_list("note", flat=True),
        *couple.ruptures.exclude(withdrawal_reason="").values_list("withdrawal_reason", flat=True),
        *Flag.objects.filter(couple=couple).values_list("detail", flat=True),
        *FlagAcknowledgement.objects.filter(flag__couple=couple).values_list("comment", flat=True),
    ]
    tags = {tag for row in rows for tag in re.findall(rf"{CANARY} ([^:]+):", row)}
    assert tags == set(scene.fields) - {"pronouns A", "pronouns B"}


def test_the_nightly_job_opened_flags_on_the_couple(scene: Scene) -> None:
    kinds = {flag.kind for flag in scene.nightly_flags}
    assert {FlagKind.UNRESOLVED_RUPTURE, FlagKind.HIGH_THERAPIST_CONTRIBUTION} <= kinds


def test_the_couples_own_pdf_shows_the_names_so_the_pdf_check_can_see_them(
    client: Client, scene: Scene
) -> None:
    """The text extraction finds a name where one is printed: the checks below aren't blind."""
    client.force_login(scene.world.owner)
    response = exported(client, reverse("cycles:pdf", args=[scene.couple.case_code]))
    assert response.status_code == 200
    assert found_in(pdf_text(response.content), [NAME_A, NAME_B]) == [NAME_A, NAME_B]


@pytest.mark.parametrize("name", PAGES)
def test_no_identifier_reaches_the_group(scene: Scene, name: str) -> None:
    assert found_in(scene.text(name), scene.forbidden()) == []


def test_the_deidentified_case_object_holds_no_identifier(scene: Scene) -> None:
    """The layer itself, whatever a template later does with it."""
    case = shared_case(scene.share)
    assert found_in(repr(case), scene.forbidden()) == []


SHOWN = [
    # The cycle: step kinds, vocabulary terms and move directions.
    "Trigger / cue",
    "Perception / meaning",
    "Body response",
    "Secondary (reactive) emotion",
    "Primary (underlying) emotion",
    "Attachment fear and longing / need",
    "Action / move",
    "resentment",
    "loneliness",
    "frustration",
    # Rupture coding: types, markers, strategies, outcome with the repairing session's ordinal.
    "Withdrawal (moving away)",
    "Confrontation (moving against)",
    "Denial; Minimal response",
    "Rejects a therapist intervention",
    "Clarifies a misunderstanding; Acknowledges own contribution",
    "Resolved in session 3",
    "Unresolved",
    # Sessions by format, attendance and what was observed; open flags by kind and ordinal.
    "Criticism, Contempt",
    "Attachment injury surfaced",
    "Ended early",
    "No-show",
    "Unresolved rupture (session 1)",
    "High therapist contribution (session 1)",
]


@pytest.mark.parametrize("name", ["shared case", "case PDF"])
def test_the_shared_case_shows_codes_vocabulary_and_ordinals(scene: Scene, name: str) -> None:
    text = scene.text(name)
    assert found_in(text, [scene.share.code]) == [scene.share.code]
    assert found_in(text, SHOWN) == SHOWN


def test_the_shared_case_page_lists_sessions_ruptures_and_alliance_by_ordinal(
    scene: Scene,
) -> None:
    text = re.sub(r"\s+", "", page_text(scene.responses["shared case"]))
    rows = [
        ("Attended", "Criticism,Contempt"),
        ("Endedearly", "Attachmentinjurysurfaced"),
        ("Attended", "—"),
        ("No-show", "—"),
    ]
    for ordinal, (attendance, observed) in enumerate(rows, 1):
        assert (
            f"<tr><td>{ordinal}</td><td>Conjoint</td><td>{attendance}</td><td>{observed}</td></tr>"
            in text
        )
    assert "<tr><td>1</td><td>30</td><td>20</td></tr>" in text  # alliance totals, A and B
    assert "<td>1</td><td>Withdrawal(movingaway)</td><td>PartnerA→Thetherapist</td>" in text
    assert "<td>2</td><td>Confrontation(movingagainst)</td><td>PartnerB→PartnerA</td>" in text


def test_the_group_dashboard_lists_the_case_by_share_code(scene: Scene) -> None:
    text = scene.text("group dashboard")
    url = reverse("consultation:case", args=[scene.world.group.pk, scene.share.code])
    assert f'href="{url}"' in text


def test_the_pdf_is_named_by_the_share_code(client: Client, scene: Scene) -> None:
    client.force_login(scene.world.group_member)
    url = reverse("consultation:case_pdf", args=[scene.world.group.pk, scene.share.code])
    response = client.get(url)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"] == f'attachment; filename="{scene.share.code}.pdf"'


def test_labels_come_from_the_models_so_a_new_choice_can_not_break_the_shared_case() -> None:
    from consultation.deidentify import RUPTURE_COLUMNS, SESSION_COLUMNS, label
    from ruptures.models import Rupture
    from sessions.models import SessionFormat, TherapySession

    for value, text in SessionFormat.choices:
        assert label(TherapySession, "format", value) == text
    # A value the code doesn't know yet (added to the model later) shows as itself.
    assert label(TherapySession, "attendance", "rescheduled") == "rescheduled"
    # The allow-lists name real columns: a renamed or dropped field fails here, not in a view.
    for model, columns in ((Rupture, RUPTURE_COLUMNS), (TherapySession, SESSION_COLUMNS)):
        names = {f.attname for f in model._meta.concrete_fields} | {"pk"}
        assert set(columns) <= names, set(columns) - names
