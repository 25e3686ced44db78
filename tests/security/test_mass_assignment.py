"""Forms take only their own fields (checklist item 6): posting `therapist`, `practice`,
`author`, `created_by`, `is_staff`, `couple`, `session`, `withdrawn_by` and the like beside a
valid form changes nothing beyond what the form is for.

Each case posts a valid form (which must succeed, so the test isn't vacuous) with the extra
fields pointing at a colleague, another practice and a colleague's couple, session and
rupture; afterwards no row points at any of those that didn't before, and nobody's role or
practice changed.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.db import models, transaction
from django.urls import reverse
from django.utils import timezone

from cycles.models import CaseShare, Couple, CyclePattern, CyclePosition
from people.models import ConsultationGroup, GroupMembership, Practice, User
from ruptures.codes import RuptureStatus, RuptureType, Toward, WhoMoved
from ruptures.models import FlagAcknowledgement, NightlyRun, Rupture
from sessions.models import AllianceRating, Attendance, SessionFormat, TherapySession
from tests.factories import make_couple, make_rupture, make_session, measures_stamp_of, version_of
from tests.security import Scene, build_scene

pytestmark = pytest.mark.django_db

APPS = ("people", "cycles", "therapy_sessions", "ruptures")


@dataclass
class Victims:
    """What the extra fields point at: none of it may gain a reference."""

    colleague: User
    practice: Practice  # the outsider's
    couple: Couple  # the colleague's
    session: TherapySession
    rupture: Rupture
    second_group: ConsultationGroup  # the owner's, not yet shared into


@pytest.fixture(scope="module")
def scene(django_db_setup: None, django_db_blocker: Any) -> Any:
    with django_db_blocker.unblock(), transaction.atomic():
        scene = build_scene()
        world = scene.world
        theirs = make_couple(world.colleague)
        their_session = make_session(theirs, days_ago=4)
        group = ConsultationGroup.objects.create(practice=world.practice, name="Monday group")
        GroupMembership.objects.create(group=group, user=world.owner)
        victims = Victims(
            colleague=world.colleague,
            practice=world.outsider.practice,
            couple=theirs,
            session=their_session,
            rupture=make_rupture(their_session),
            second_group=group,
        )
        yield scene, victims
        transaction.set_rollback(True)


def extra(v: Victims, prefix: str = "") -> dict[str, Any]:
    """The fields no form takes, plain and with the form's prefix."""
    fields = {
        "therapist": v.colleague.pk,
        "practice": v.practice.pk,
        "practice_id": v.practice.pk,
        "author": v.colleague.pk,
        "created_by": v.colleague.pk,
        "recorded_by": v.colleague.pk,
        "shared_by": v.colleague.pk,
        "by": v.colleague.pk,
        "is_staff": "on",
        "is_superuser": "on",
        "is_practice_admin": "on",
        "couple": v.couple.pk,
        "couple_id": v.couple.pk,
        "session": v.session.pk,
        "repaired_in": v.session.pk,
        "rupture": v.rupture.pk,
        "withdrawn_by": v.colleague.pk,
        "withdrawn_at": "2020-01-01T00:00:00",
        "case_code": v.couple.case_code,
    }
    return fields | ({f"{prefix}-{k}": value for k, value in fields.items()} if prefix else {})


def references(v: Victims) -> dict[str, int]:
    """For every foreign key of the app's models to a victim's model: rows pointing at one."""
    targets: dict[type[models.Model], list[int]] = {
        User: [v.colleague.pk],
        Practice: [v.practice.pk],
        Couple: [v.couple.pk],
        TherapySession: [v.session.pk],
        Rupture: [v.rupture.pk],
    }
    counts = {}
    for label in APPS:
        for model in apps.get_app_config(label).get_models():
            for field in model._meta.concrete_fields:
                related = field.related_model if field.is_relation else None
                if related in targets:
                    key = f"{model.__name__}.{field.name}"
                    lookup = {f"{field.name}__in": targets[related]}
                    counts[key] = model._default_manager.filter(**lookup).count()
    return counts


def roles_and_practices() -> list[tuple[Any, ...]]:
    return list(
        User.objects.order_by("pk").values_list(
            "pk",
            "practice_id",
            "is_staff",
            "is_superuser",
            "is_therapist",
            "is_supervisor",
            "is_practice_admin",
            "is_active",
        )
    )


def day(days_ago: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=days_ago)).isoformat()


def couple_data() -> dict[str, Any]:
    return {
        "partner_a_name": "Noor Vale",
        "partner_a_position": CyclePosition.PURSUER,
        "partner_b_name": "Ilan Vale",
        "partner_b_position": CyclePosition.WITHDRAWER,
        "cycle_pattern": CyclePattern.PURSUE_WITHDRAW,
        "eft_step": "2",
        "started_on": day(30),
    }


def session_data(days_ago: int) -> dict[str, Any]:
    return {
        "date": day(days_ago),
        "start_time": "09:00",
        "end_time": "09:50",
        "format": SessionFormat.CONJOINT,
        "attendance": Attendance.ATTENDED,
        "progress_note": "Slowed the cycle down.",
        "private_note": "Mine alone.",
    }


def rupture_data(prefix: str) -> dict[str, Any]:
    data = {
        "rupture_type": RuptureType.WITHDRAWAL,
        "withdrawal_markers": ["MINIMAL_RESPONSE"],
        "who_moved": WhoMoved.PARTNER_A,
        "toward": Toward.THERAPIST,
        "significance": "3",
        "resolution_stage": "1",
        "status": RuptureStatus.UNRESOLVED,
        "note": "Went quiet.",
        "reflection": "I rushed.",
    }
    return {f"{prefix}-{name}": value for name, value in data.items()}


def alliance(partner: str) -> dict[str, str]:
    return {f"alliance-{partner}-{item}": "7" for item in ("bond", "goals", "tasks", "fit")}


@dataclass(frozen=True)
class Case:
    actor: str
    url: Callable[[Scene, Victims], str]
    data: Callable[[Scene, Victims], dict[str, Any]]
    done: Callable[[Scene, Victims], bool]  # the form did its own job
    before: Callable[[Scene, Victims], None] | None = None  # e.g. lock the partner screen


def owns_all(scene: Scene) -> bool:
    owner = scene.world.owner
    mine = Couple.objects.filter(therapist=owner)
    return (
        mine.exclude(practice_id=owner.practice_id).count() == 0
        and TherapySession.objects.filter(couple__in=mine).exclude(therapist=owner).count() == 0
        and Rupture.objects.filter(couple__in=mine).exclude(created_by=owner).count() == 0
    )


def map_data(scene: Scene, v: Victims) -> dict[str, Any]:
    revision = scene.world.couple.cycle_maps.count()
    rows = {"A-TOTAL_FORMS": "1", "A-INITIAL_FORMS": "1"}
    rows |= {"A-0-kind": "trigger", "A-0-text": "goes quiet"}
    rows |= {"B-TOTAL_FORMS": "1", "B-INITIAL_FORMS": "1"}
    rows |= {"B-0-kind": "trigger", "B-0-text": "criticism"}
    return {"action": "save", "base_revision": revision, "change_note": "", **rows}


CASES: dict[str, Case] = {
    "couple new": Case(
        "owner",
        lambda s, v: reverse("cycles:new"),
        lambda s, v: couple_data(),
        lambda s, v: Couple.objects.filter(therapist=s.world.owner).count() == 2,
    ),
    "couple edit": Case(
        "owner",
        lambda s, v: reverse("cycles:edit", args=[s.world.couple.case_code]),
        lambda s, v: couple_data() | {"status": "paused"} | version_of(s.world.couple),
        lambda s, v: Couple.objects.get(pk=s.world.couple.pk).status == "paused",
    ),
    "cycle map": Case(
        "owner",
        lambda s, v: reverse("cycles:cycle_edit", args=[s.world.couple.case_code]),
        map_data,
        lambda s, v: (
            s.world.couple.cycle_maps.order_by("-revision").first().author == s.world.owner
        ),
    ),
    "session new": Case(
        "owner",
        lambda s, v: reverse("therapy_sessions:new", args=[s.world.couple.case_code]),
        lambda s, v: session_data(1),
        lambda s, v: TherapySession.objects.filter(couple=s.world.couple).count() == 4,
    ),
    "session edit": Case(
        "owner",
        lambda s, v: reverse("therapy_sessions:edit", args=[s.later.pk]),
        lambda s, v: session_data(2) | version_of(s.later),
        lambda s, v: (
            TherapySession.objects.get(pk=s.later.pk).progress_note == "Slowed the cycle down."
        ),
    ),
    "session withdraw": Case(
        "owner",
        lambda s, v: reverse("therapy_sessions:withdraw", args=[s.later.pk]),
        lambda s, v: {"reason": "Logged by mistake."},
        lambda s, v: TherapySession.objects.get(pk=s.later.pk).withdrawn_by == s.world.owner,
    ),
    "rupture add": Case(
        "owner",
        lambda s, v: reverse("ruptures:add", args=[s.world.session.pk]),
        lambda s, v: rupture_data("new"),
        lambda s, v: Rupture.objects.filter(session=s.world.session).count() == 2,
    ),
    "rupture edit": Case(
        "owner",
        lambda s, v: reverse("ruptures:edit", args=[s.world.rupture.pk]),
        lambda s, v: (
            rupture_data(f"r{s.world.rupture.pk}")
            | {f"r{s.world.rupture.pk}-minute": "12"}
            | version_of(s.world.rupture, f"r{s.world.rupture.pk}")
        ),
        lambda s, v: Rupture.objects.get(pk=s.world.rupture.pk).minute == 12,
    ),
    "rupture repair": Case(
        "owner",
        lambda s, v: reverse("ruptures:repair", args=[s.later.pk, s.world.rupture.pk]),
        lambda s, v: {
            f"repair{s.world.rupture.pk}-status": RuptureStatus.RESOLVED,
            f"repair{s.world.rupture.pk}-strategies": ["ACKNOWLEDGES_CONTRIBUTION"],
            f"repair{s.world.rupture.pk}-resolution_stage": "4",
        },
        lambda s, v: Rupture.objects.get(pk=s.world.rupture.pk).repaired_in_id == s.later.pk,
    ),
    "rupture withdraw": Case(
        "owner",
        lambda s, v: reverse("ruptures:withdraw", args=[s.world.rupture.pk]),
        lambda s, v: {"reason": "Logged by mistake."},
        lambda s, v: Rupture.objects.get(pk=s.world.rupture.pk).withdrawn_by == s.world.owner,
    ),
    "measures": Case(
        "owner",
        lambda s, v: reverse("therapy_sessions:measures", args=[s.world.session.pk]),
        lambda s, v: alliance("A") | alliance("B") | measures_stamp_of(s.world.session),
        lambda s, v: AllianceRating.objects.filter(session=s.world.session).count() == 2,
    ),
    "share": Case(
        "owner",
        lambda s, v: reverse("cycles:share", args=[s.world.couple.case_code]),
        lambda s, v: {"group": v.second_group.pk},
        lambda s, v: CaseShare.objects.get(group=v.second_group).shared_by == s.world.owner,
    ),
    "flag acknowledge": Case(
        "supervisor",
        lambda s, v: reverse("supervision:acknowledge", args=[s.flag.pk]),
        lambda s, v: {"comment": "Seen.", "flag": s.flag.pk},
        lambda s, v: FlagAcknowledgement.objects.get(flag=s.flag).by == s.world.supervisor,
    ),
    "partner screen": Case(
        "owner",
        lambda s, v: reverse("partner_screen"),
        lambda s, v: alliance("A"),
        lambda s, v: AllianceRating.objects.filter(session=s.world.session, partner="A").exists(),
        before=lambda s, v: None,
    ),
    "nightly run start": Case(
        "practice_admin",
        lambda s, v: reverse("ruptures:run_start"),
        lambda s, v: {},
        lambda s, v: (
            NightlyRun.objects.filter(practice=s.world.practice).exists()
            and not NightlyRun.objects.filter(practice=v.practice).exists()
        ),
    ),
}

PREFIXES = {"rupture add": "new", "measures": "alliance-A", "partner screen": "alliance-A"}


@pytest.mark.parametrize("name", sorted(CASES))
def test_extra_fields_change_nothing_beyond_the_form(scene: Any, name: str) -> None:
    the_scene, victims = scene
    case = CASES[name]
    prefix = PREFIXES.get(name, "")
    if name == "rupture edit":
        prefix = f"r{the_scene.world.rupture.pk}"
    elif name == "rupture repair":
        prefix = f"repair{the_scene.world.rupture.pk}"
    with transaction.atomic():
        before = references(victims), roles_and_practices()
        client = the_scene.client(case.actor)
        if name == "partner screen":
            start = reverse(
                "therapy_sessions:partner_screen_start", args=[the_scene.world.session.pk, "A"]
            )
            assert client.post(start, extra(victims)).status_code == 302
        response = client.post(
            case.url(the_scene, victims), case.data(the_scene, victims) | extra(victims, prefix)
        )
        assert response.status_code == 302, response.content.decode()[:2000]
        assert case.done(the_scene, victims), f"{name}: the form itself didn't do its job"
        assert (references(victims), roles_and_practices()) == before
        assert owns_all(the_scene)
        transaction.set_rollback(True)


def test_is_staff_posted_to_the_password_change_changes_no_role(scene: Any) -> None:
    the_scene, victims = scene
    with transaction.atomic():
        before = roles_and_practices()
        client = the_scene.client("owner")
        client.post(reverse("account_change_password"), extra(victims))
        assert roles_and_practices() == before
        transaction.set_rollback(True)
