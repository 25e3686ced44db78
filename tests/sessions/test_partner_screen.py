"""The partner screen: the therapist hands the signed-in device to one partner, who sees only
their own questions, can reach nothing else of the app, and gives it back through the
therapist's password (sessions/measure_views.py, people/middleware.py)."""

from __future__ import annotations

import datetime
import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from people.models import AccessEvent
from sessions.models import (
    AllianceRating,
    MeasureResponse,
    PostSessionReport,
    SessionFormat,
    TherapySession,
)
from tests.factories import PASSWORD, World, make_rupture, make_session, measures_stamp_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.http import HttpResponse

    from cycles.models import Partner

pytestmark = pytest.mark.django_db

SCREEN = "/partner-screen/"
PROGRESS_NOTE = "Progress: traced the pursue-withdraw cycle after the holiday argument."
PRIVATE_NOTE = "Private: I noticed my own irritation rising."
REFLECTION = "Reflection: I raised my voice."


@dataclass
class Scene:
    world: World
    session: TherapySession
    individual_b: TherapySession
    partner_a: Partner
    partner_b: Partner


@pytest.fixture(scope="module")
def scene(django_db_setup, django_db_blocker) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        session = make_session(
            world.couple,
            starts_at=timezone.make_aware(datetime.datetime(2025, 3, 14, 10, 30)),
            progress_note=PROGRESS_NOTE,
            private_note=PRIVATE_NOTE,
        )
        make_rupture(session, reflection=REFLECTION)
        partners = {p.label: p for p in world.couple.partners.all()}
        yield Scene(
            world=world,
            session=session,
            individual_b=make_session(world.couple, days_ago=3, format=SessionFormat.INDIVIDUAL_B),
            partner_a=partners["A"],
            partner_b=partners["B"],
        )
        transaction.set_rollback(True)


def start_url(session: TherapySession, partner: str) -> str:
    return reverse("therapy_sessions:partner_screen_start", args=[session.pk, partner])


@pytest.fixture
def locked(client: Client, scene: Scene) -> Client:
    """The owner's browser, handed to partner A with the CSI-4."""
    client.force_login(scene.world.owner)
    response = client.post(start_url(scene.session, "A"), {"include": "csi4"})
    assert response.status_code == 302
    assert response["Location"] == SCREEN
    return client


def partner_a_answers() -> dict[str, str]:
    return {
        "alliance-A-bond": "8",
        "alliance-A-goals": "7",
        "alliance-A-tasks": "6",
        "alliance-A-fit": "9",
        "report-partner_a-tension": "yes",
        "report-partner_a-upsetting": "4",
        "report-partner_a-resolved": "2",
        "m-csi4-A-happiness": "3",
        "m-csi4-A-warm": "2",
        "m-csi4-A-rewarding": "2",
        "m-csi4-A-satisfied": "3",
    }


def elsewhere(scene: Scene) -> list[tuple[str, str]]:
    """(method, URL) of pages outside the partner screen, the record's and the app's own."""
    couple, session = scene.world.couple, scene.session
    return [
        ("get", reverse("home")),
        ("get", reverse("cycles:caseload")),
        ("get", reverse("cycles:detail", args=[couple.case_code])),
        ("get", reverse("cycles:edit", args=[couple.case_code])),
        ("get", reverse("therapy_sessions:detail", args=[session.pk])),
        ("get", reverse("therapy_sessions:edit", args=[session.pk])),
        ("get", reverse("therapy_sessions:measures", args=[session.pk])),
        ("post", reverse("therapy_sessions:measures", args=[session.pk])),
        ("post", start_url(session, "B")),
        ("get", reverse("people:practice")),
        ("get", "/admin/"),
        ("get", f"/admin/cycles/couple/{couple.pk}/change/"),
        ("get", "/accounts/login/"),
        ("post", "/accounts/logout/"),
        ("get", reverse("health")),
        ("get", "/no-such-page/"),
    ]


def test_every_other_url_redirects_to_the_partner_screen(locked, scene):
    for method, url in elsewhere(scene):
        response = getattr(locked, method)(url)
        assert (response.status_code, response.get("Location")) == (302, SCREEN), (method, url)


def test_signing_out_is_locked_too_and_the_lock_survives_it(locked, scene):
    locked.post("/accounts/logout/")

    assert "partner_screen" in locked.session
    assert locked.get(reverse("cycles:caseload")).url == SCREEN


def test_a_locked_post_to_the_record_saves_nothing(locked, scene):
    url = reverse("therapy_sessions:measures", args=[scene.session.pk])
    data = {f"alliance-B-{item}": "0" for item in ("bond", "goals", "tasks", "fit")}

    locked.post(url, data | measures_stamp_of(scene.session))

    assert not AllianceRating.objects.filter(session=scene.session).exists()


def test_screen_shows_partner_as_own_questions_and_none_of_the_record(locked, scene):
    response = locked.get(SCREEN)

    assert response.status_code == 200
    html = response.content.decode()
    for name in ("alliance-A-bond", "alliance-A-fit", "report-partner_a-tension"):
        assert f'name="{name}"' in html
    for name in ("happiness", "warm", "rewarding", "satisfied"):
        assert f'name="m-csi4-A-{name}"' in html
    assert "How connected did you feel with the therapist today?" in html
    for absent in (
        "alliance-B",
        "report-partner_b",
        "report-therapist",
        "m-csi4-B",
        "record_anyway",
    ):
        assert absent not in html
    world = scene.world
    for secret in (
        scene.partner_b.display_name,
        world.couple.case_code,
        PROGRESS_NOTE,
        PRIVATE_NOTE,
        REFLECTION,
        world.owner.display_name,
        world.owner.get_username(),
        "<nav",
        "/couples/",
        "/sessions/",
        "/admin/",
        "2025",
        "14 March",
        "March 14",
        "Mar. 14",
        "14/03",
        "03/14",
    ):
        assert secret not in html, secret
    assert not re.search(r'<a\s[^>]*href="/(?!static/)', html)  # no links into the app


def test_screen_without_a_questionnaire_asks_only_alliance_and_report(client, scene):
    client.force_login(scene.world.owner)
    client.post(start_url(scene.session, "B"))

    html = client.get(SCREEN).content.decode()

    assert 'name="alliance-B-bond"' in html
    assert 'name="report-partner_b-tension"' in html
    assert "m-csi4" not in html
    assert "alliance-A" not in html
    assert scene.partner_a.display_name not in html


def test_screen_starts_blank_even_when_the_therapist_stored_answers(locked, scene):
    AllianceRating.objects.create(
        session=scene.session, partner="A", bond=1, goals=2, tasks=3, fit=4, entered_by="therapist"
    )

    html = locked.get(SCREEN).content.decode()

    assert not re.search(r'value="[^"]+"[^>]*\schecked', html)


def test_partner_answers_are_stored_as_entered_by_the_partner_then_thanks(locked, scene):
    response = locked.post(SCREEN, partner_a_answers())

    assert (response.status_code, response.url) == (302, SCREEN)
    rating = AllianceRating.objects.get(session=scene.session)
    assert (rating.partner, rating.total, rating.entered_by) == ("A", 30, "partner")
    assert not rating.absent_but_recorded
    report = PostSessionReport.objects.get(session=scene.session)
    assert (report.respondent, report.tension, report.upsetting, report.resolved) == (
        "partner_a",
        True,
        4,
        2,
    )
    assert report.entered_by == "partner"
    csi = MeasureResponse.objects.get(session=scene.session)
    assert (csi.definition.code, csi.partner, csi.total, csi.entered_by) == (
        "csi4",
        "A",
        10,
        "partner",
    )

    thanks = locked.get(SCREEN)
    html = thanks.content.decode()
    assert "Thank you" in html
    assert 'name="alliance-A-bond"' not in html
    for secret in (scene.partner_b.display_name, scene.world.couple.case_code, PROGRESS_NOTE):
        assert secret not in html
    assert locked.get(reverse("cycles:detail", args=[scene.world.couple.case_code])).url == SCREEN


def test_after_thanks_the_screen_takes_no_more_answers(locked, scene):
    locked.post(SCREEN, partner_a_answers())

    again = locked.post(SCREEN, partner_a_answers() | {"alliance-A-bond": "0"})

    assert again.status_code == 200
    assert "Thank you" in again.content.decode()
    assert AllianceRating.objects.get(session=scene.session).bond == 8


def test_done_with_nothing_answered_asks_again_and_offers_to_skip(locked, scene):
    response = locked.post(SCREEN, {})

    assert response.status_code == 200
    page = response.content.decode()
    assert "You haven't answered any question yet." in page
    assert 'name="skip"' in page
    assert 'name="alliance-A-bond"' in page  # still the questions, not the thanks

    skipped = locked.post(SCREEN, {"skip": "1"})

    assert (skipped.status_code, skipped.url) == (302, SCREEN)
    assert "Thank you" in locked.get(SCREEN).content.decode()
    assert not AllianceRating.objects.filter(session=scene.session).exists()
    assert not PostSessionReport.objects.filter(session=scene.session).exists()
    assert not MeasureResponse.objects.filter(session=scene.session).exists()


def test_partly_answered_screen_says_so_and_saves_nothing(locked, scene):
    answers = partner_a_answers()
    del answers["alliance-A-fit"]

    response = locked.post(SCREEN, answers)

    assert response.status_code == 200
    assert "Answer all four, or none." in response.content.decode()
    assert not AllianceRating.objects.filter(session=scene.session).exists()
    assert not PostSessionReport.objects.filter(session=scene.session).exists()


def test_handing_the_screen_to_an_absent_partner_is_refused_with_the_reason(client, scene):
    """Partner A wasn't in B's individual session; only the therapist may record their answers
    anyway, so the screen isn't handed over: the therapist is told why, and nothing locks."""
    client.force_login(scene.world.owner)

    response = client.post(start_url(scene.individual_b, "A"), follow=True)

    page = response.content.decode()
    assert "wasn&#x27;t in this session" in page
    assert "individual with partner b" in page
    assert response.redirect_chain[-1][0] == reverse(
        "therapy_sessions:measures", args=[scene.individual_b.pk]
    )
    assert "partner_screen" not in client.session
    assert client.get(reverse("cycles:caseload")).status_code == 200


def test_wrong_password_keeps_the_lock_and_says_so(locked, scene):
    locked.post(SCREEN, partner_a_answers())

    response = locked.post(reverse("partner_screen_unlock"), {"password": "not-it"})

    assert response.status_code == 200
    assert "That is not the therapist&#x27;s password." in response.content.decode()
    assert locked.get(reverse("cycles:caseload")).url == SCREEN
    assert locked.get(SCREEN).status_code == 200


def test_wrong_password_before_the_partner_is_done_keeps_the_lock(locked, scene):
    response = locked.post(reverse("partner_screen_unlock"), {"password": ""})

    assert response.status_code == 200
    assert "That is not the therapist&#x27;s password." in response.content.decode()
    assert locked.get(reverse("cycles:caseload")).url == SCREEN


def test_right_password_lifts_the_lock_and_returns_to_the_measures_page(locked, scene):
    locked.post(SCREEN, partner_a_answers())

    response = locked.post(reverse("partner_screen_unlock"), {"password": PASSWORD})

    measures = reverse("therapy_sessions:measures", args=[scene.session.pk])
    assert (response.status_code, response.url) == (302, measures)
    assert "partner_screen" not in locked.session
    page = locked.get(measures)
    assert page.status_code == 200
    assert "Welcome back" in page.content.decode()
    assert locked.get(
        reverse("cycles:detail", args=[scene.world.couple.case_code])
    ).status_code == (200)
    assert locked.get(SCREEN).url == reverse("home")


# Unlock throttling (sessions/partner_lock.py): 5 wrong passwords, each audited, then the session
# ends; the count is in the database (the audit rows), so an empty cache changes nothing.

UNLOCK_FAILED = "partner screen unlock failed"


def unlock(client: Client, password: str) -> HttpResponse:
    return client.post(reverse("partner_screen_unlock"), {"password": password})


def unlock_failures(scene: Scene) -> list[AccessEvent]:
    events = AccessEvent.objects.filter(action=UNLOCK_FAILED, user=scene.world.owner)
    return list(events.order_by("pk"))


def test_each_wrong_unlock_password_is_audited_and_the_screen_says_how_many_tries_are_left(
    locked, scene
):
    locked.post(SCREEN, partner_a_answers())
    assert "After 5 wrong passwords this device signs out" in locked.get(SCREEN).content.decode()

    for used in range(1, 5):
        cache.clear()  # not where the count is kept
        response = unlock(locked, f"guess-{used}")
        assert response.status_code == 200
        text = html.unescape(response.content.decode())
        assert "That is not the therapist's password." in text
        left = 5 - used
        assert f"{left} {'try' if left == 1 else 'tries'} left." in text

    assert locked.get(reverse("cycles:caseload")).url == SCREEN
    assert "1 try left." in html.unescape(locked.get(SCREEN).content.decode())
    events = unlock_failures(scene)
    assert [e.detail for e in events] == ["try 1 of 5", "try 2 of 5", "try 3 of 5", "try 4 of 5"]
    assert {(e.object_type, e.object_id) for e in events} == {
        ("therapysession", str(scene.session.pk))
    }
    assert {e.case_code for e in events} == {scene.world.couple.case_code}
    assert not any("guess" in f"{e.detail} {e.object_id}" for e in events)
    # The fifth try is still a try.
    response = unlock(locked, PASSWORD)
    assert response.url == reverse("therapy_sessions:measures", args=[scene.session.pk])
    assert len(unlock_failures(scene)) == 4


def test_five_wrong_passwords_end_the_session_and_then_even_the_right_one_is_refused(locked, scene):
    locked.post(SCREEN, partner_a_answers())
    key = locked.session.session_key
    for n in range(1, 5):
        assert unlock(locked, f"guess-{n}").status_code == 200

    fifth = unlock(locked, "guess-5")

    assert (fifth.status_code, fifth.url) == (302, reverse("account_login"))
    assert not Session.objects.filter(session_key=key).exists()
    assert "_auth_user_id" not in locked.session
    sixth = unlock(locked, PASSWORD)
    assert sixth.status_code == 302
    assert sixth.url.startswith(reverse("account_login"))
    assert "_auth_user_id" not in locked.session
    sign_in = html.unescape(locked.get(reverse("account_login")).content.decode())
    assert "The partner screen was signed out after 5 wrong passwords." in sign_in
    couple_page = reverse("cycles:detail", args=[scene.world.couple.case_code])
    assert locked.get(couple_page).url.startswith(reverse("account_login"))
    assert [e.detail for e in unlock_failures(scene)] == [f"try {n} of 5" for n in range(1, 6)]
    assert AccessEvent.objects.filter(action="sign out", user=scene.world.owner).exists()
    # What the partner answered before handing the device back is kept.
    assert AllianceRating.objects.filter(session=scene.session, partner="A").exists()


def test_guesses_on_two_devices_locked_by_one_therapist_count_together(client, scene):
    """A second locked tablet gives no fresh tries: the count is the therapist's."""
    tablets = []
    for _ in range(2):
        tablet = Client()
        tablet.force_login(scene.world.owner)
        tablet.post(start_url(scene.session, "A"), {"include": "csi4"})
        tablets.append(tablet)
    for n in range(3):
        assert unlock(tablets[0], f"guess-{n}").status_code == 200

    assert unlock(tablets[1], "guess-a").status_code == 200
    assert unlock(tablets[1], "guess-b").url == reverse("account_login")
    assert unlock(tablets[0], PASSWORD).url == reverse("account_login")
    details = [e.detail for e in unlock_failures(scene)]
    assert details == [*(f"try {n} of 5" for n in range(1, 6)), "no tries left"]


def test_starting_a_screen_for_another_therapists_session_is_404(client, scene):
    client.force_login(scene.world.colleague)

    response = client.post(start_url(scene.session, "A"), {"include": "csi4"})

    assert response.status_code == 404
    assert "partner_screen" not in client.session
    assert client.get(SCREEN).url == reverse("home")


def test_starting_a_screen_for_no_such_partner_is_404(client, scene):
    client.force_login(scene.world.owner)

    assert client.post(start_url(scene.session, "C")).status_code == 404
    assert "partner_screen" not in client.session


def test_the_screen_is_started_by_post_only(client, scene):
    client.force_login(scene.world.owner)

    assert client.get(start_url(scene.session, "A")).status_code == 405
    assert "partner_screen" not in client.session
