"""Logging, reading, correcting and withdrawing therapy sessions in the browser.

Sessions are numbered by date, whenever they are logged; a withdrawn session stays in the
record (who withdrew it and why) but leaves every view, and the others are renumbered.
"""

from __future__ import annotations

import datetime
import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from cycles.models import Couple, CycleStep, Partner
from ruptures.codes import RuptureStatus
from ruptures.models import Rupture
from ruptures.services import rupture_repair
from sessions.models import (
    Attendance,
    EFTChangeEvent,
    Horseman,
    NoteKind,
    PrivateNote,
    SessionFormat,
    TherapySession,
)
from tests.factories import World, make_couple, make_rupture, make_session, version_of

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.test import Client
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

    from people.models import User

pytestmark = pytest.mark.django_db

NO_ACCESS = ["colleague", "other_supervisor", "group_member", "practice_admin", "outsider"]
EDIT_CONTROLS = [
    "Log a session",
    "Edit the session",
    "Edit or withdraw",
    "Add a rupture",
    "Withdraw this session",
    "Mark repaired",
    "Logged by mistake?",
]
EDIT_WORDS = re.compile(r"\bEdit\b|\bWithdraw\b")
PROGRESS_NOTE = "Named the protest polka together."


@dataclass
class Scene:
    world: World

    def person(self, role: str) -> User:
        return getattr(self.world, role)

    @property
    def couple(self) -> Couple:
        return self.world.couple

    @property
    def session(self) -> TherapySession:
        return self.world.session


@pytest.fixture(scope="module")
def scene(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        TherapySession.objects.filter(pk=world.session.pk).update(progress_note=PROGRESS_NOTE)
        yield Scene(world=world)
        transaction.set_rollback(True)


# Helpers ---------------------------------------------------------------------------------


def as_user(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every clinical row, to show a refused request changed nothing."""
    models = (Couple, Partner, CycleStep, TherapySession, Rupture, PrivateNote)
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in models}


def field_error(response: Response, auto_id: str) -> str:
    match = re.search(
        rf'id="{re.escape(auto_id)}_error"[^>]*>(.*?)</(?:ul|p)>', response.text, re.DOTALL
    )
    assert match, f"no error shown beside {auto_id}"
    return html.unescape(re.sub(r"<[^>]+>", " ", match.group(1)))


def day(days_ago: int) -> str:
    return (timezone.localdate() - datetime.timedelta(days=days_ago)).isoformat()


def session_data(days_ago: int = 2, **overrides: str) -> dict[str, str]:
    data = {
        "date": day(days_ago),
        "start_time": "10:00",
        "end_time": "10:50",
        "format": SessionFormat.CONJOINT,
        "attendance": Attendance.ATTENDED,
        "cancelled_by": "",
        "left_early": "",
        "eft_step": "3",
        "progress_note": "Slowed the cycle down twice.",
        "private_note": "I felt pulled to rescue her.",
    }
    return data | overrides


def new_url(couple: Couple) -> str:
    return reverse("therapy_sessions:new", args=[couple.case_code])


def detail_url(session: TherapySession) -> str:
    return reverse("therapy_sessions:detail", args=[session.pk])


def edit_url(session: TherapySession) -> str:
    return reverse("therapy_sessions:edit", args=[session.pk])


def withdraw_url(session: TherapySession) -> str:
    return reverse("therapy_sessions:withdraw", args=[session.pk])


def ordinals(couple: Couple) -> list[tuple[int, datetime.date]]:
    """(number, local date) of the couple's current sessions, in number order."""
    return [
        (s.ordinal, timezone.localtime(s.starts_at).date())
        for s in TherapySession.objects.current().filter(couple=couple).order_by("ordinal")
    ]


def open_rupture_count(client: Client, couple: Couple) -> int:
    response = client.get(reverse("cycles:caseload"), {"status": "all"})
    (row,) = [c for c in response.context["page"].object_list if c.pk == couple.pk]
    return row.open_rupture_count


def assert_read_only(response: Response) -> None:
    for control in EDIT_CONTROLS:
        assert control not in response.text
    assert not EDIT_WORDS.search(response.text)


# Reading a session -----------------------------------------------------------------------


def test_the_owner_sees_the_session_with_its_private_note_ruptures_and_controls(client, scene):
    response = as_user(client, scene.world.owner).get(detail_url(scene.session))
    assert response.status_code == 200
    page = response.text
    assert "Session 1" in page
    assert PROGRESS_NOTE in page
    assert "Private process note." in page
    assert [r.pk for r in response.context["ruptures"]] == [scene.world.rupture.pk]
    assert "Minimal response" in page
    assert f'href="{edit_url(scene.session)}"' in page
    assert f'href="{reverse("ruptures:edit", args=[scene.world.rupture.pk])}"' in page
    assert f'action="{reverse("ruptures:add", args=[scene.session.pk])}"' in page
    assert f'action="{withdraw_url(scene.session)}"' in page
    for control in ("Edit the session", "Add a rupture", "Withdraw this session"):
        assert control in page


def test_the_supervisor_reads_the_session_without_controls_or_private_notes(client, scene):
    later = make_session(scene.couple, days_ago=3)
    response = as_user(client, scene.world.supervisor).get(detail_url(scene.session))
    assert response.status_code == 200
    assert PROGRESS_NOTE in response.text
    assert [r.pk for r in response.context["ruptures"]] == [scene.world.rupture.pk]
    assert "Private process note." not in response.text
    assert "My private reflection." not in response.text
    assert "Private psychotherapy note" not in response.text
    assert "<form" not in response.text.split("</header>", 1)[1]
    assert_read_only(response)
    later_page = client.get(detail_url(later))
    assert later_page.status_code == 200
    assert_read_only(later_page)  # no repair forms for the earlier open rupture either
    assert "Earlier ruptures still open" not in later_page.text


@pytest.mark.parametrize("role", ["supervisor", *NO_ACCESS])
def test_everyone_but_the_owner_gets_404_for_logging_correcting_and_withdrawing(
    client, scene, role
):
    as_user(client, scene.person(role))
    before = snapshot()
    assert client.get(new_url(scene.couple)).status_code == 404
    assert client.post(new_url(scene.couple), session_data()).status_code == 404
    assert client.get(edit_url(scene.session)).status_code == 404
    assert (
        client.post(
            edit_url(scene.session), session_data(days_ago=9) | version_of(scene.session)
        ).status_code
        == 404
    )
    response = client.post(withdraw_url(scene.session), {"reason": "Logged on the wrong couple"})
    assert response.status_code == 404
    assert snapshot() == before


@pytest.mark.parametrize("role", NO_ACCESS)
def test_other_people_get_404_for_the_session_page(client, scene, role):
    response = as_user(client, scene.person(role)).get(detail_url(scene.session))
    assert response.status_code == 404
    assert PROGRESS_NOTE not in response.text


@pytest.mark.parametrize(
    "path",
    [
        "/sessions/abc/",
        "/sessions/abc/edit/",
        "/sessions/-1/",
        "/sessions/1.5/withdraw/",
        "/sessions/99999999/",
        "/sessions/99999999999999999999999/",
        "/sessions/99999999999999999999999/edit/",
    ],
)
def test_unknown_or_garbage_session_urls_are_404_not_500(client, scene, path):
    as_user(client, scene.world.owner)
    assert client.get(path).status_code == 404
    assert client.post(path, session_data()).status_code in (404, 405)


def test_the_session_page_is_get_only(client, scene):
    response = as_user(client, scene.world.owner).post(detail_url(scene.session), {})
    assert response.status_code == 405


# Logging a session -----------------------------------------------------------------------


def test_the_owner_gets_the_form_for_a_session_that_just_ended(client, scene):
    response = as_user(client, scene.world.owner).get(new_url(scene.couple))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["format"].value() == SessionFormat.CONJOINT
    assert form["attendance"].value() == Attendance.ATTENDED
    assert 'name="private_note"' in response.text


def test_logging_a_session_saves_it_numbered_with_its_private_note(client, scene):
    as_user(client, scene.world.owner)
    response = client.post(new_url(scene.couple), session_data(days_ago=2))
    session = TherapySession.objects.get(couple=scene.couple, ordinal=2)
    assert response.status_code == 302
    assert response["Location"] == detail_url(session)
    assert timezone.localtime(session.starts_at).date().isoformat() == day(2)
    assert timezone.localtime(session.starts_at).time() == datetime.time(10, 0)
    assert session.duration_minutes == 50
    assert (session.format, session.attendance, session.eft_step) == ("conjoint", "attended", 3)
    assert session.therapist == scene.world.owner
    assert session.progress_note == "Slowed the cycle down twice."
    note = PrivateNote.objects.get(session=session)
    assert (note.author, note.kind, note.text) == (
        scene.world.owner,
        NoteKind.PSYCHOTHERAPY_NOTE,
        "I felt pulled to rescue her.",
    )
    page = client.get(response["Location"]).text
    assert "Logged session 2. Add its ruptures below." in page
    assert "EFT step 3. Access underlying emotions" in page


def test_change_events_and_horsemen_are_logged_and_shown_on_the_session_and_couple_pages(
    client, scene
):
    couple = make_couple(scene.world.owner)
    as_user(client, scene.world.owner)
    data: dict[str, Any] = session_data() | {
        "change_events": ["BLAMER_SOFTENING", "ATTACHMENT_INJURY"],
        "horsemen": ["CRITICISM", "STONEWALLING"],
    }

    response = client.post(new_url(couple), data)

    assert response.status_code == 302
    session = TherapySession.objects.get(couple=couple)
    assert session.change_events == EFTChangeEvent.BLAMER_SOFTENING | (
        EFTChangeEvent.ATTACHMENT_INJURY
    )
    assert session.horsemen == Horseman.CRITICISM | Horseman.STONEWALLING
    page = client.get(response["Location"]).text
    observed = page.split('id="observations"')[1].split("</p>")[0]
    assert '<span class="badge ok">Blamer softening</span>' in observed
    assert '<span class="badge warn">Attachment injury surfaced</span>' in observed
    assert '<span class="badge ">Criticism</span>' in observed
    assert '<span class="badge warn">Stonewalling</span>' in observed
    timeline = client.get(couple.get_absolute_url()).text.split('id="timeline-head"')[1]
    assert "Blamer softening" in timeline
    assert "Stonewalling" in timeline
    edit_form = client.get(edit_url(session)).context["form"]
    assert sorted(edit_form["horsemen"].value()) == ["CRITICISM", "STONEWALLING"]


def test_a_session_that_did_not_take_place_has_no_observations(client, scene):
    as_user(client, scene.world.owner)
    before = snapshot()
    data: dict[str, Any] = session_data(attendance=Attendance.NO_SHOW) | {
        "horsemen": ["CONTEMPT"],
        "change_events": ["DE_ESCALATION"],
    }

    response = client.post(new_url(scene.couple), data)

    assert response.status_code == 200
    for auto_id in ("id_horsemen", "id_change_events"):
        assert "Only a session that took place has observations." in field_error(response, auto_id)
    assert snapshot() == before


def test_a_cancellation_is_logged_with_who_cancelled(client, scene):
    as_user(client, scene.world.owner)
    data = session_data(attendance=Attendance.CANCELLED, cancelled_by="partner_b", private_note="")
    assert client.post(new_url(scene.couple), data).status_code == 302
    session = TherapySession.objects.get(couple=scene.couple, ordinal=2)
    assert (session.attendance, session.cancelled_by) == ("cancelled", "partner_b")
    assert not PrivateNote.objects.filter(session=session).exists()


def test_sessions_logged_late_are_numbered_by_date(client, scene):
    couple = make_couple(scene.world.owner)
    as_user(client, scene.world.owner)
    for days_ago in (10, 3):
        assert client.post(new_url(couple), session_data(days_ago)).status_code == 302
    assert ordinals(couple) == [(1, date(10)), (2, date(3))]

    response = client.post(new_url(couple), session_data(6), follow=True)
    assert "Logged session 2." in response.text
    assert ordinals(couple) == [(1, date(10)), (2, date(6)), (3, date(3))]
    page = client.get(couple.get_absolute_url())
    assert [s.ordinal for s in page.context["sessions"]] == [1, 2, 3]
    assert [timezone.localtime(s.starts_at).date() for s in page.context["sessions"]] == [
        date(10),
        date(6),
        date(3),
    ]


def date(days_ago: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days_ago)


@pytest.mark.parametrize(
    ("overrides", "auto_id", "message"),
    [
        pytest.param(
            {"date": day(-1)},
            "id_date",
            "A session can't be logged before it has happened.",
            id="date-in-future",
        ),
        pytest.param(
            {"end_time": "09:40"}, "id_end_time", "The end must be after the start.", id="end-early"
        ),
        pytest.param(
            {"end_time": "10:00"}, "id_end_time", "The end must be after the start.", id="no-length"
        ),
        pytest.param(
            {"attendance": Attendance.CANCELLED},
            "id_cancelled_by",
            "Say who cancelled.",
            id="cancelled-without-who",
        ),
        pytest.param(
            {"cancelled_by": "therapist"},
            "id_cancelled_by",
            "Only a cancelled session has someone who cancelled.",
            id="who-cancelled-an-attended-session",
        ),
        pytest.param(
            {"left_early": "partner_a"},
            "id_left_early",
            "Only a session that ended early has someone who left.",
            id="who-left-without-ended-early",
        ),
        pytest.param(
            {"attendance": Attendance.ENDED_EARLY},
            "id_left_early",
            "Say who left.",
            id="ended-early-without-who",
        ),
        pytest.param(
            {
                "format": SessionFormat.INDIVIDUAL_A,
                "attendance": Attendance.ENDED_EARLY,
                "left_early": "partner_b",
            },
            "id_left_early",
            "That partner wasn't in this individual session.",
            id="absent-partner-left",
        ),
        pytest.param(
            {"start_time": "01:00", "end_time": "23:00"},
            "id_end_time",
            "longer than 8 hours",
            id="too-long",
        ),
        pytest.param({"date": "abc"}, "id_date", "valid date", id="garbage-date"),
        pytest.param({"start_time": "25:99"}, "id_start_time", "valid time", id="garbage-time"),
        pytest.param({"format": "zoom"}, "id_format", "valid choice", id="garbage-format"),
        pytest.param({"eft_step": "12"}, "id_eft_step", "valid choice", id="step-12"),
        pytest.param({"eft_step": "-5"}, "id_eft_step", "valid choice", id="step-negative"),
        pytest.param({"cancelled_by": "the cat"}, "id_cancelled_by", "valid choice", id="who"),
        pytest.param({"horsemen": "SARCASM"}, "id_horsemen", "valid choice", id="horseman"),
    ],
)
def test_bad_session_input_shows_the_error_beside_its_field_and_saves_nothing(
    client, scene, overrides, auto_id, message
):
    as_user(client, scene.world.owner)
    before = snapshot()
    response = client.post(new_url(scene.couple), session_data(**overrides))
    assert response.status_code == 200
    assert message in field_error(response, auto_id)
    assert "Slowed the cycle down twice." in response.text  # what was typed stays
    assert "I felt pulled to rescue her." in response.text
    assert snapshot() == before


def test_a_session_with_several_mistakes_shows_each_beside_its_field(client, scene):
    as_user(client, scene.world.owner)
    data = session_data(end_time="09:00", attendance=Attendance.CANCELLED, left_early="both")
    response = client.post(new_url(scene.couple), data)
    assert "The end must be after the start." in field_error(response, "id_end_time")
    assert "Say who cancelled." in field_error(response, "id_cancelled_by")
    assert "Only a session that ended early" in field_error(response, "id_left_early")
    assert 'value="09:00"' in response.text


# Correcting a session --------------------------------------------------------------------


def test_the_owner_gets_the_session_form_filled_in_with_their_private_note(client, scene):
    response = as_user(client, scene.world.owner).get(edit_url(scene.session))
    assert response.status_code == 200
    form = response.context["form"]
    assert form["progress_note"].value() == PROGRESS_NOTE
    assert form["private_note"].value() == "Private process note."
    assert PROGRESS_NOTE in response.text
    assert "Private process note." in response.text


def test_correcting_a_session_saves_it_and_its_private_note(client, scene):
    as_user(client, scene.world.owner)
    data = session_data(
        days_ago=10,
        attendance=Attendance.ENDED_EARLY,
        left_early="partner_a",
        progress_note="A walked out at minute 30.",
        private_note="I raised my voice.",
    )
    response = client.post(edit_url(scene.session), data | version_of(scene.session))
    assert response.status_code == 302
    assert response["Location"] == detail_url(scene.session)
    session = TherapySession.objects.get(pk=scene.session.pk)
    assert (session.attendance, session.left_early) == ("ended_early", "partner_a")
    assert session.progress_note == "A walked out at minute 30."
    assert PrivateNote.objects.get(session=session).text == "I raised my voice."
    assert "Saved session 1." in client.get(response["Location"]).text


def test_clearing_the_private_note_removes_it(client, scene):
    as_user(client, scene.world.owner)
    client.post(
        edit_url(scene.session),
        session_data(days_ago=10, private_note="") | version_of(scene.session),
    )
    assert not PrivateNote.objects.filter(session=scene.session).exists()


def test_a_corrected_date_renumbers_the_sessions(client, scene):
    later = make_session(scene.couple, days_ago=3)
    as_user(client, scene.world.owner)
    assert (
        client.post(edit_url(later), session_data(days_ago=12) | version_of(later)).status_code
        == 302
    )
    assert TherapySession.objects.get(pk=later.pk).ordinal == 1
    assert TherapySession.objects.get(pk=scene.session.pk).ordinal == 2


def test_a_correction_with_a_future_date_is_refused_beside_the_date(client, scene):
    as_user(client, scene.world.owner)
    before = snapshot()
    response = client.post(
        edit_url(scene.session), session_data(days_ago=-2) | version_of(scene.session)
    )
    assert response.status_code == 200
    assert "before it has happened" in field_error(response, "id_date")
    assert snapshot() == before


def test_moving_a_repairing_session_before_its_rupture_is_refused_beside_the_date(client, scene):
    later = make_session(scene.couple, days_ago=3)
    rupture_repair(rupture=scene.world.rupture, repaired_in=later, status=RuptureStatus.RESOLVED)
    as_user(client, scene.world.owner)
    before = snapshot()
    response = client.post(
        edit_url(later), session_data(days_ago=12, progress_note="moved") | version_of(later)
    )
    assert response.status_code == 200
    assert "repaired before it happened" in field_error(response, "id_date")
    assert "\nmoved</textarea>" in response.text  # what was typed stays
    assert snapshot() == before
    # and the other way round: the rupture's session moved after its repair
    response = client.post(
        edit_url(scene.session), session_data(days_ago=1) | version_of(scene.session)
    )
    assert response.status_code == 200
    assert "repaired before it happened" in field_error(response, "id_date")
    assert snapshot() == before


# Withdrawing a session -------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   "])
def test_withdrawing_needs_a_reason_and_changes_nothing_without_one(client, scene, reason):
    as_user(client, scene.world.owner)
    before = snapshot()
    response = client.post(withdraw_url(scene.session), {"reason": reason})
    assert response.status_code == 200
    assert "This field is required." in field_error(response, "id_reason")
    assert snapshot() == before


def test_a_withdrawn_session_stays_on_record_but_leaves_every_view(client, scene):
    couple, first = scene.couple, scene.session
    second = make_session(couple, days_ago=6)
    third = make_session(couple, days_ago=3)
    make_rupture(second)
    as_user(client, scene.world.owner)
    assert open_rupture_count(client, couple) == 2

    response = client.post(withdraw_url(second), {"reason": "Logged on the wrong couple"})
    assert response.status_code == 302
    assert response["Location"] == couple.get_absolute_url()

    kept = TherapySession.objects.get(pk=second.pk)
    assert kept.withdrawn_at is not None
    assert kept.withdrawn_by == scene.world.owner
    assert kept.withdrawal_reason == "Logged on the wrong couple"
    assert Rupture.objects.filter(session=second).count() == 1  # its rupture is kept too

    page = client.get(couple.get_absolute_url())
    assert "Withdrew the session." in page.text
    assert [s.pk for s in page.context["sessions"]] == [first.pk, third.pk]
    assert f'href="{detail_url(second)}"' not in page.text
    assert [r.session_id for r in page.context["open_ruptures"]] == [first.pk]
    assert open_rupture_count(client, couple) == 1
    assert ordinals(couple) == [(1, date(10)), (2, date(3))]
    assert TherapySession.objects.get(pk=third.pk).ordinal == 2

    third_page = client.get(detail_url(third))
    assert [r.session_id for r in third_page.context["earlier_open"]] == [first.pk]


def test_a_withdrawn_sessions_page_says_so_and_offers_no_controls(client, scene):
    as_user(client, scene.world.owner)
    client.post(withdraw_url(scene.session), {"reason": "Duplicate entry"})
    response = client.get(detail_url(scene.session))
    assert response.status_code == 200
    assert "Withdrawn on" in response.text
    assert "Duplicate entry" in response.text
    for control in ("Edit the session", "Add a rupture", "Withdraw this session", "Edit or"):
        assert control not in response.text
    assert client.get(edit_url(scene.session)).status_code == 404
    # A second click on "Withdraw" (or another tab) is told so, and changes nothing.
    again = client.post(withdraw_url(scene.session), {"reason": "again"}, follow=True)
    assert "was already withdrawn" in again.text
    session = TherapySession.objects.get(pk=scene.session.pk)
    assert session.withdrawal_reason == "Duplicate entry"


def test_a_session_that_repaired_a_rupture_cannot_be_withdrawn_until_the_repair_is(client, scene):
    later = make_session(scene.couple, days_ago=3)
    rupture_repair(rupture=scene.world.rupture, repaired_in=later, status=RuptureStatus.RESOLVED)
    as_user(client, scene.world.owner)
    before = snapshot()
    response = client.post(withdraw_url(later), {"reason": "Wrong day"}, follow=True)
    assert response.redirect_chain == [(detail_url(later), 302)]
    assert "This session repaired an earlier rupture: undo that repair first" in response.text
    assert snapshot() == before


def test_withdrawing_is_post_only(client, scene):
    response = as_user(client, scene.world.owner).get(withdraw_url(scene.session))
    assert response.status_code == 405
