"""The therapist enters the per-partner measures: all or none, in range, absent partners on
purpose only, corrections overwrite, and nobody but the couple's therapist reaches the page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction
from django.urls import reverse

from sessions.models import (
    AllianceRating,
    Attendance,
    MeasureDefinition,
    MeasureResponse,
    PostSessionReport,
    SessionFormat,
    TherapySession,
)
from sessions.services import session_withdraw
from tests.factories import World, make_session, make_user, measures_stamp_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.http import HttpResponse
    from django.test import Client

    from people.models import User

pytestmark = pytest.mark.django_db

NON_EDITORS = [
    "supervisor",
    "colleague",
    "other_supervisor",
    "group_member",
    "practice_admin",
    "outsider",
    "superuser",
]


@dataclass
class Scene:
    world: World
    superuser: User
    individual_a: TherapySession
    individual_b: TherapySession
    cancelled: TherapySession
    no_show: TherapySession
    withdrawn: TherapySession

    def person(self, role: str) -> User:
        return self.superuser if role == "superuser" else getattr(self.world, role)


@pytest.fixture(scope="module")
def scene(django_db_setup, django_db_blocker) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        couple = world.couple
        withdrawn = make_session(couple, days_ago=1)
        session_withdraw(session=withdrawn, by=world.owner, reason="Logged twice.")
        yield Scene(
            world=world,
            superuser=make_user(None, "Root", is_superuser=True, is_staff=True),
            individual_a=make_session(couple, days_ago=9, format=SessionFormat.INDIVIDUAL_A),
            individual_b=make_session(couple, days_ago=8, format=SessionFormat.INDIVIDUAL_B),
            cancelled=make_session(
                couple, days_ago=6, attendance=Attendance.CANCELLED, cancelled_by="both"
            ),
            no_show=make_session(couple, days_ago=5, attendance=Attendance.NO_SHOW),
            withdrawn=withdrawn,
        )
        transaction.set_rollback(True)


def alliance(partner: str, bond: Any = 7, goals: Any = 6, tasks: Any = 8, fit: Any = 5) -> dict:
    values = {"bond": bond, "goals": goals, "tasks": tasks, "fit": fit}
    return {f"alliance-{partner}-{k}": str(v) for k, v in values.items() if v is not None}


def report(respondent: str, tension: str, upsetting: Any = None, resolved: Any = None) -> dict:
    values = {"tension": tension, "upsetting": upsetting, "resolved": resolved}
    return {f"report-{respondent}-{k}": str(v) for k, v in values.items() if v is not None}


def csi(partner: str, happiness: Any = 4, warm: Any = 3, rewarding: Any = 3, satisfied: Any = 2):
    values = {"happiness": happiness, "warm": warm, "rewarding": rewarding, "satisfied": satisfied}
    return {f"m-csi4-{partner}-{k}": str(v) for k, v in values.items() if v is not None}


def everything() -> dict[str, str]:
    """A complete, valid entry for a conjoint session both partners attended."""
    return {
        **alliance("A"),
        **alliance("B", 9, 9, 8, 9),
        **report("partner_a", "yes", 4, 2),
        **report("partner_b", "no"),
        **report("therapist", "yes", 3, 3),
        **csi("A"),
        **csi("B", 5, 4, 4, 4),
    }


def measures_url(session: TherapySession) -> str:
    return reverse("therapy_sessions:measures", args=[session.pk])


def field_group(response: HttpResponse, name: str) -> str:
    """The HTML of the field group (includes/field.html) holding the input called `name`."""
    html = response.content.decode()
    for chunk in html.split('<div class="field')[1:]:
        if f'name="{name}"' in chunk:
            return chunk
    raise AssertionError(f"no field group for {name}")


def has_error(response: HttpResponse, name: str, message: str) -> bool:
    group = field_group(response, name)
    return group.startswith(" has-error") and message in group


def stored(session: TherapySession) -> int:
    return (
        AllianceRating.objects.filter(session=session).count()
        + PostSessionReport.objects.filter(session=session).count()
        + MeasureResponse.objects.filter(session=session).count()
    )


@pytest.fixture
def owner_client(client: Client, scene: Scene) -> Client:
    client.force_login(scene.world.owner)
    return client


def test_therapist_saves_both_partners_measures_and_returns_to_the_session(owner_client, scene):
    session = scene.world.session

    response = owner_client.post(measures_url(session), everything() | measures_stamp_of(session))

    assert response.status_code == 302
    assert response.url == reverse("therapy_sessions:detail", args=[session.pk])
    a, b = AllianceRating.objects.filter(session=session).order_by("partner")
    assert (a.bond, a.goals, a.tasks, a.fit, a.total) == (7, 6, 8, 5, 26)
    assert b.total == 35
    assert {a.entered_by, b.entered_by} == {"therapist"}
    assert not a.absent_but_recorded
    reports = {r.respondent: r for r in PostSessionReport.objects.filter(session=session)}
    assert (reports["partner_a"].tension, reports["partner_a"].upsetting) == (True, 4)
    assert (reports["partner_b"].tension, reports["partner_b"].upsetting) == (False, None)
    assert reports["therapist"].resolved == 3
    responses = {r.partner: r for r in MeasureResponse.objects.filter(session=session)}
    assert responses["A"].total == 12
    assert responses["A"].answers == {"happiness": 4, "warm": 3, "rewarding": 3, "satisfied": 2}
    assert responses["B"].total == 17
    assert responses["A"].recorded_by == scene.world.owner
    assert responses["A"].definition == MeasureDefinition.objects.get(code="csi4")


def test_measures_page_shows_both_partners_questions_and_csi4(owner_client, scene):
    response = owner_client.get(measures_url(scene.world.session))

    assert response.status_code == 200
    html = response.content.decode()
    for name in ("alliance-A-bond", "alliance-B-fit", "report-therapist-tension", "m-csi4-B-warm"):
        assert f'name="{name}"' in html
    assert "record_anyway" not in html  # both partners were there
    for partner in scene.world.couple.partners.all():
        assert partner.display_name in html


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("alliance-A-bond", "11"),
        ("alliance-B-fit", "-1"),
        ("alliance-A-goals", "seven"),
        ("m-csi4-A-warm", "7"),  # a 0–5 item
        ("m-csi4-B-satisfied", "6"),  # 6 is in range only for "happiness"
        ("m-csi4-B-happiness", "7"),
        ("report-partner_a-upsetting", "6"),
        ("report-therapist-resolved", "0"),
        ("report-partner_b-tension", "maybe"),
    ],
)
def test_out_of_range_answer_is_refused_beside_its_field_and_nothing_is_saved(
    owner_client, scene, name, value
):
    session = scene.world.session
    data = everything() | report("partner_b", "yes", 2, 2) | {name: value}

    response = owner_client.post(measures_url(session), data | measures_stamp_of(session))

    assert response.status_code == 200
    assert has_error(response, name, f"Select a valid choice. {value} is not one of")
    assert stored(session) == 0


def test_partly_answered_alliance_is_refused_beside_each_missing_item(owner_client, scene):
    session = scene.world.session
    data = everything()
    for item in ("goals", "tasks", "fit"):
        del data[f"alliance-B-{item}"]

    response = owner_client.post(measures_url(session), data | measures_stamp_of(session))

    assert response.status_code == 200
    for item in ("goals", "tasks", "fit"):
        assert has_error(response, f"alliance-B-{item}", "Answer all four, or none.")
    assert not has_error(response, "alliance-B-bond", "Answer all four")
    assert stored(session) == 0


def test_an_answer_clicked_by_mistake_can_be_taken_back_with_not_answered(owner_client, scene):
    session = scene.world.session
    page = owner_client.get(measures_url(session))
    for name in ("alliance-B-bond", "m-csi4-A-happiness"):
        assert 'value=""' in field_group(page, name)
        assert "Not answered" in field_group(page, name)
    # B's bond was clicked, then set back to "Not answered": B answered nothing, no error.
    data = alliance("A") | {"alliance-B-bond": ""}

    response = owner_client.post(measures_url(session), data | measures_stamp_of(session))

    assert response.status_code == 302
    assert list(
        AllianceRating.objects.filter(session=session).values_list("partner", flat=True)
    ) == ["A"]


def test_partly_answered_questionnaire_is_refused_beside_each_missing_item(owner_client, scene):
    session = scene.world.session
    data = everything()
    del data["m-csi4-A-rewarding"]

    response = owner_client.post(measures_url(session), data | measures_stamp_of(session))

    assert response.status_code == 200
    assert has_error(response, "m-csi4-A-rewarding", "Answer every question, or none.")
    assert stored(session) == 0


def test_tension_without_how_upsetting_and_resolved_is_refused(owner_client, scene):
    session = scene.world.session
    data = everything() | report("partner_b", "yes")

    response = owner_client.post(measures_url(session), data | measures_stamp_of(session))

    assert response.status_code == 200
    assert has_error(response, "report-partner_b-upsetting", "Answer this when there was tension.")
    assert has_error(response, "report-partner_b-resolved", "Answer this when there was tension.")
    assert stored(session) == 0


def test_no_tension_with_how_upsetting_given_is_refused(owner_client, scene):
    session = scene.world.session
    data = everything() | report("partner_b", "no", upsetting=4)

    response = owner_client.post(measures_url(session), data | measures_stamp_of(session))

    assert response.status_code == 200
    errors = response.context["forms"].reports["partner_b"].errors
    assert "upsetting" in errors or "tension" in errors
    assert has_error(response, "report-partner_b-tension", "how upsetting") or has_error(
        response, "report-partner_b-upsetting", "tension"
    )
    assert stored(session) == 0


def test_how_upsetting_without_saying_whether_there_was_tension_is_refused(owner_client, scene):
    session = scene.world.session
    data = everything()
    data["report-partner_a-tension"] = ""

    response = owner_client.post(measures_url(session), data | measures_stamp_of(session))

    assert response.status_code == 200
    assert has_error(response, "report-partner_a-tension", "Say whether there was tension")
    assert stored(session) == 0


def test_blank_sections_are_not_stored(owner_client, scene):
    session = scene.world.session

    response = owner_client.post(measures_url(session), alliance("A") | measures_stamp_of(session))

    assert response.status_code == 302
    assert list(
        AllianceRating.objects.filter(session=session).values_list("partner", flat=True)
    ) == ["A"]
    assert stored(session) == 1


ABSENCES = [
    ("individual_a", "B", "it was an individual with partner a"),
    ("individual_b", "A", "it was an individual with partner b"),
    ("cancelled", "A", "the session was cancelled"),
    ("cancelled", "B", "the session was cancelled"),
    ("no_show", "B", "the session was a no-show"),
]


def absent_answers(partner: str) -> dict[str, str]:
    respondent = f"partner_{partner.lower()}"
    return {**alliance(partner), **report(respondent, "yes", 3, 1), **csi(partner)}


@pytest.mark.parametrize(("which", "partner", "reason"), ABSENCES)
def test_absent_partner_is_refused_without_record_anyway_and_the_message_names_why(
    owner_client, scene, which, partner, reason
):
    session = getattr(scene, which)
    respondent = f"partner_{partner.lower()}"

    response = owner_client.post(
        measures_url(session), absent_answers(partner) | measures_stamp_of(session)
    )

    assert response.status_code == 200
    message = f"Partner {partner} wasn&#x27;t in this session ({reason})."
    assert has_error(response, f"alliance-{partner}-record_anyway", message)
    assert has_error(response, f"report-{respondent}-record_anyway", message)
    assert has_error(response, f"m-csi4-{partner}-record_anyway", message)
    assert stored(session) == 0


@pytest.mark.parametrize(("which", "partner", "reason"), ABSENCES)
def test_absent_partner_is_recorded_with_record_anyway_and_marked_so(
    owner_client, scene, which, partner, reason
):
    session = getattr(scene, which)
    respondent = f"partner_{partner.lower()}"
    data = absent_answers(partner) | {
        f"alliance-{partner}-record_anyway": "on",
        f"report-{respondent}-record_anyway": "on",
        f"m-csi4-{partner}-record_anyway": "on",
    }

    response = owner_client.post(measures_url(session), data | measures_stamp_of(session))

    assert response.status_code == 302
    rating = AllianceRating.objects.get(session=session)
    assert (rating.partner, rating.total, rating.absent_but_recorded) == (partner, 26, True)
    assert PostSessionReport.objects.get(session=session).respondent == respondent
    assert MeasureResponse.objects.get(session=session).absent_but_recorded


def test_partner_who_was_in_the_individual_session_needs_no_record_anyway(owner_client, scene):
    session = scene.individual_a

    page = owner_client.get(measures_url(session)).content.decode()
    response = owner_client.post(
        measures_url(session), absent_answers("A") | measures_stamp_of(session)
    )

    assert 'name="alliance-A-record_anyway"' not in page
    assert 'name="alliance-B-record_anyway"' in page
    assert response.status_code == 302
    assert not AllianceRating.objects.get(session=session, partner="A").absent_but_recorded


def test_therapist_report_of_a_cancelled_session_needs_no_record_anyway(owner_client, scene):
    session = scene.cancelled

    response = owner_client.post(
        measures_url(session), report("therapist", "no") | measures_stamp_of(session)
    )

    assert response.status_code == 302
    assert PostSessionReport.objects.get(session=session).respondent == "therapist"


def test_correcting_a_rating_overwrites_it(owner_client, scene):
    session = scene.world.session
    url = measures_url(session)
    first = alliance("A") | report("partner_a", "yes", 5, 1) | csi("A")
    owner_client.post(url, first | measures_stamp_of(session))

    again = alliance("A", 2, 3, 4, 1) | report("partner_a", "no") | csi("A", 6, 5, 5, 5)
    response = owner_client.post(url, again | measures_stamp_of(session))

    assert response.status_code == 302
    rating = AllianceRating.objects.get(session=session)
    assert (rating.bond, rating.goals, rating.tasks, rating.fit) == (2, 3, 4, 1)
    partner_report = PostSessionReport.objects.get(session=session)
    assert (partner_report.tension, partner_report.upsetting, partner_report.resolved) == (
        False,
        None,
        None,
    )
    response_row = MeasureResponse.objects.get(session=session)
    assert response_row.total == 21


def test_stored_answers_are_shown_for_correction(owner_client, scene):
    session = scene.world.session
    owner_client.post(measures_url(session), alliance("B", 9, 1, 2, 3) | measures_stamp_of(session))

    group = field_group(owner_client.get(measures_url(session)), "alliance-B-bond")

    assert 'value="9" class="scale" id="id_alliance-B-bond_9" checked>' in group
    assert group.count("checked") == 1


@pytest.mark.parametrize("role", NON_EDITORS)
def test_everyone_but_the_couples_therapist_gets_404_on_the_measures_page(client, scene, role):
    session = scene.world.session
    client.force_login(scene.person(role))

    assert client.get(measures_url(session)).status_code == 404
    assert (
        client.post(measures_url(session), everything() | measures_stamp_of(session)).status_code
        == 404
    )
    assert stored(session) == 0


@pytest.mark.parametrize("role", NON_EDITORS)
def test_everyone_but_the_couples_therapist_gets_404_starting_the_partner_screen(
    client, scene, role
):
    url = reverse("therapy_sessions:partner_screen_start", args=[scene.world.session.pk, "A"])
    client.force_login(scene.person(role))

    response = client.post(url, {"include": "csi4"})

    assert response.status_code == 404
    assert "partner_screen" not in client.session
    assert client.get(reverse("home")).url != reverse("partner_screen")


def test_a_withdrawn_session_has_no_measures_page(owner_client, scene):
    assert owner_client.get(measures_url(scene.withdrawn)).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, scene):
    response = client.get(measures_url(scene.world.session))

    assert response.status_code == 302
    assert response.url.startswith("/accounts/login/")
