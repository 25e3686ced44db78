"""The supervision log: a supervisor logs a meeting from the agenda, bad input is refused
beside its field with nothing saved, the supervisee confirms their entry once; query counts
of the new pages are pinned at 1 and at 30 rows."""

from __future__ import annotations

import datetime
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from people.models import AccessEvent, Supervision
from ruptures.models import Flag, FlagAcknowledgement, FlagKind
from sessions.models import CosignState, TherapySession
from supervision.models import MeetingAttendance, MeetingFormat, SupervisionMeeting
from tests.factories import make_couple, make_practice, make_session, make_user

pytestmark = pytest.mark.django_db

SIZES = [1, 30]


@pytest.fixture
def scene() -> dict:
    practice = make_practice("Log Practice")
    supervisor = make_user(practice, "Sam Supervisor", supervisor=True)
    trainee = make_user(practice, "Tess Trainee", therapist=True)
    peer = make_user(practice, "Pat Peer", therapist=True)
    stranger = make_user(practice, "Nell Notmine", therapist=True)
    for person in (trainee, peer):
        Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=person)
    couple = make_couple(trainee)
    client = Client()
    client.force_login(supervisor)
    return {
        "practice": practice,
        "supervisor": supervisor,
        "trainee": trainee,
        "peer": peer,
        "stranger": stranger,
        "couple": couple,
        "client": client,
    }


def yesterday() -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=1)


def form_data(scene: dict, **changes: object) -> dict:
    data: dict = {
        "request_token": str(uuid.uuid4()),
        "held_on": yesterday().isoformat(),
        "starts_at_time": "10:00",
        "duration_minutes": "60",
        "format": MeetingFormat.INDIVIDUAL,
        "observable_data": "recording",
        "supervisees": [str(scene["trainee"].pk)],
        "cases": [scene["couple"].case_code],
        "notes": "Talked through the walk-out and my part in it.",
    }
    data.update(changes)
    return data


def post(scene: dict, **changes: object):
    return scene["client"].post(reverse("supervision:log_new"), form_data(scene, **changes))


def test_a_supervisor_logs_a_meeting_with_supervisee_and_case(scene):
    response = post(scene)
    assert response.status_code == 302
    meeting = SupervisionMeeting.objects.get()
    assert meeting.supervisor == scene["supervisor"]
    assert meeting.duration_minutes == 60
    assert meeting.observable_data == "recording"
    assert list(meeting.supervisees.all()) == [scene["trainee"]]
    assert list(meeting.cases.all()) == [scene["couple"]]
    assert timezone.localtime(meeting.starts_at).date() == yesterday()
    event = AccessEvent.objects.get(action="log supervision meeting")
    assert "walk-out" not in event.detail


def test_the_same_form_sent_twice_logs_one_meeting(scene):
    data = form_data(scene)
    client = scene["client"]
    assert client.post(reverse("supervision:log_new"), data).status_code == 302
    assert client.post(reverse("supervision:log_new"), data).status_code == 302
    assert SupervisionMeeting.objects.count() == 1


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        (
            {"held_on": (timezone.localdate() + datetime.timedelta(days=2)).isoformat()},
            "held_on",
            "This meeting is in the future",
        ),
        ({"duration_minutes": "-30"}, "duration_minutes", "A duration is at least 1 minute."),
        ({"duration_minutes": "0"}, "duration_minutes", "A duration is at least 1 minute."),
        ({"duration_minutes": "481"}, "duration_minutes", "More than 8 hours"),
        ({"duration_minutes": "an hour"}, "duration_minutes", "whole number of minutes"),
        ({"supervisees": ["STRANGER"]}, "supervisees", "Choose among your own supervisees."),
        ({"supervisees": []}, "supervisees", "Choose the supervisees who were present."),
        ({"cases": ["C-NOTYOURS"]}, "cases", "Choose among your supervisees' cases."),
        ({"held_on": "31/31/2026"}, "held_on", ""),
    ],
)
def test_bad_input_is_refused_beside_its_field_typed_input_kept_nothing_saved(
    scene, changes, field, message
):
    if changes.get("supervisees") == ["STRANGER"]:
        changes = {"supervisees": [str(scene["stranger"].pk)]}
    response = post(scene, **changes)
    assert response.status_code == 200
    form = response.context["form"]
    assert field in form.errors
    assert message in " ".join(form.errors[field])
    assert "Talked through the walk-out" in response.text  # the notes typed are kept
    assert SupervisionMeeting.objects.count() == 0


def test_individual_supervision_with_three_supervisees_is_refused(scene):
    third = make_user(scene["practice"], "Third Trainee", therapist=True)
    Supervision.objects.create(
        practice=scene["practice"], supervisor=scene["supervisor"], therapist=third
    )
    people = [str(p.pk) for p in (scene["trainee"], scene["peer"], third)]
    response = post(scene, supervisees=people)
    assert "Individual supervision is one supervisor with at most 2" in " ".join(
        response.context["form"].errors["supervisees"]
    )
    assert SupervisionMeeting.objects.count() == 0
    # As group supervision it is fine.
    assert post(scene, supervisees=people, format=MeetingFormat.GROUP).status_code == 302


def test_group_supervision_with_nine_supervisees_is_refused(scene):
    people = []
    for n in range(9):
        person = make_user(scene["practice"], f"Group Trainee {n}", therapist=True)
        Supervision.objects.create(
            practice=scene["practice"], supervisor=scene["supervisor"], therapist=person
        )
        people.append(str(person.pk))
    response = post(scene, supervisees=people, format=MeetingFormat.GROUP, cases=[])
    assert "Group supervision has at most 8 supervisees: you chose 9." in " ".join(
        response.context["form"].errors["supervisees"]
    )
    assert SupervisionMeeting.objects.count() == 0


def test_a_case_of_a_supervisee_not_present_is_refused(scene):
    response = post(scene, supervisees=[str(scene["peer"].pk)])
    assert "the case of a supervisee not at this meeting" in " ".join(
        response.context["form"].errors["cases"]
    )
    assert SupervisionMeeting.objects.count() == 0


def test_an_overlapping_meeting_of_the_same_supervisor_is_refused(scene):
    assert post(scene).status_code == 302
    response = post(scene, starts_at_time="10:30", supervisees=[str(scene["peer"].pk)], cases=[])
    errors = " ".join(response.context["form"].errors["starts_at_time"])
    assert "This overlaps your meeting of" in errors
    assert "10:00–11:00" in errors
    assert SupervisionMeeting.objects.count() == 1
    # Straight after it is fine.
    assert post(scene, starts_at_time="11:00", cases=[]).status_code == 302


def test_a_supervisee_already_in_another_supervisors_meeting_then_is_refused(scene):
    """Supervision hours count once: the trainee can't be in two supervisors' meetings at once."""
    second = make_user(scene["practice"], "Rowan Second", supervisor=True)
    Supervision.objects.create(
        practice=scene["practice"], supervisor=second, therapist=scene["trainee"]
    )
    assert post(scene).status_code == 302
    other = Client()
    other.force_login(second)
    data = form_data(scene, starts_at_time="10:30", cases=[])
    response = other.post(reverse("supervision:log_new"), data)
    errors = " ".join(response.context["form"].errors["starts_at_time"])
    assert "Tess Trainee already had supervision with another supervisor on" in errors
    assert "10:00–11:00" in errors
    assert response.context["form"]["notes"].value() == data["notes"]
    assert SupervisionMeeting.objects.count() == 1
    # The other supervisor's own meeting at that time with someone else is theirs to log.
    peer = scene["peer"]
    Supervision.objects.create(practice=scene["practice"], supervisor=second, therapist=peer)
    data = form_data(scene, starts_at_time="10:30", supervisees=[str(peer.pk)], cases=[])
    assert other.post(reverse("supervision:log_new"), data).status_code == 302
    assert SupervisionMeeting.objects.count() == 2


def test_the_agenda_lists_open_flags_unacknowledged_first_and_notes_awaiting(scene):
    couple = scene["couple"]
    quiet = make_couple(scene["trainee"])
    session = make_session(couple, days_ago=5)
    TherapySession.objects.filter(pk=session.pk).update(
        signed_at=timezone.now(), cosign_state=CosignState.AWAITING
    )
    seen = Flag.objects.create(
        couple=couple,
        kind=FlagKind.GONE_QUIET,
        opened_on=yesterday(),
        detail="Coded.",
    )
    FlagAcknowledgement.objects.create(flag=seen, by=scene["supervisor"], comment="Seen.")
    Flag.objects.create(
        couple=couple,
        kind=FlagKind.ALLIANCE_DROP,
        key="s",
        opened_on=yesterday(),
        detail="Coded.",
        evidence={"sessions": [session.ordinal]},
    )
    Flag.objects.create(
        couple=make_couple(scene["stranger"]),
        kind=FlagKind.GONE_QUIET,
        opened_on=yesterday(),
        detail="Not a supervisee's.",
    )
    response = scene["client"].get(reverse("supervision:log_new"))
    agenda = {item.supervisee: item for item in response.context["agenda"]}
    assert set(agenda) == {scene["trainee"], scene["peer"]}
    trainee = agenda[scene["trainee"]]
    assert [case.couple for case in trainee.on_agenda] == [couple]
    assert [case.couple for case in trainee.others] == [quiet]
    case = trainee.on_agenda[0]
    assert [(i.kinds_text, i.acknowledged) for i in case.incidents] == [
        ("Alliance drop", False),
        ("Gone quiet", True),
    ]
    assert case.awaiting == [session.ordinal]
    assert agenda[scene["peer"]].on_agenda == []
    text = response.text
    assert "Awaiting your co-signature: session " in text
    assert "Unacknowledged" in text
    assert scene["stranger"].display_name not in text


def test_the_supervisee_confirms_their_entry_once_and_others_cannot(scene):
    assert post(scene).status_code == 302
    meeting = SupervisionMeeting.objects.get()
    url = reverse("supervision:log_confirm", args=[meeting.pk])
    peer = Client()
    peer.force_login(scene["peer"])
    assert peer.post(url).status_code == 404  # not present at it
    assert scene["client"].post(url).status_code == 404  # the supervisor doesn't confirm
    trainee = Client()
    trainee.force_login(scene["trainee"])
    log = trainee.get(reverse("supervision:log"))
    assert "Talked through the walk-out" in log.text
    assert "Confirm</button>" in log.text
    assert trainee.post(url).status_code == 302
    attendance = MeetingAttendance.objects.get()
    assert attendance.confirmed_by == scene["trainee"]
    first = attendance.confirmed_at
    assert first is not None
    assert trainee.post(url).status_code == 302
    attendance.refresh_from_db()
    assert attendance.confirmed_at == first
    assert "Confirm</button>" not in trainee.get(reverse("supervision:log")).text
    supervisor_log = scene["client"].get(reverse("supervision:log")).text
    assert "confirmed</span>" in supervisor_log


def test_the_practice_admin_reads_no_log(scene):
    admin = make_user(scene["practice"], "Ada Admin", practice_admin=True)
    client = Client()
    client.force_login(admin)
    assert client.get(reverse("supervision:log")).status_code == 404
    assert client.get(reverse("supervision:log_new")).status_code == 404


# --- query counts -----------------------------------------------------------------------


def build(scene: dict, rows: int) -> None:
    """`rows` meetings each with both supervisees and a case, `rows` couples each flagged
    with a session awaiting co-signature, `rows` held sessions."""
    start = timezone.now() - datetime.timedelta(days=rows + 2)
    for n in range(rows):
        couple = make_couple(scene["trainee"])
        session = make_session(couple, starts_at=start + datetime.timedelta(days=n))
        TherapySession.objects.filter(pk=session.pk).update(cosign_state=CosignState.AWAITING)
        Flag.objects.create(
            couple=couple, kind=FlagKind.GONE_QUIET, opened_on=yesterday(), detail="Coded."
        )
        meeting = SupervisionMeeting.objects.create(
            practice=scene["practice"],
            supervisor=scene["supervisor"],
            starts_at=start + datetime.timedelta(days=n, hours=3),
            duration_minutes=60,
            format=MeetingFormat.GROUP,
        )
        for person in (scene["trainee"], scene["peer"]):
            MeetingAttendance.objects.create(meeting=meeting, supervisee=person)
        meeting.cases.add(couple)


def count(client: Client, url: str) -> int:
    client.get(url)  # the session and user lookups settle
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
        body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == 200
    assert body
    return len(captured)


PAGES = {
    # as whom, which page, how many queries
    "supervisor log": ("supervisor", lambda s: reverse("supervision:log"), 6),
    "supervisee log": ("trainee", lambda s: reverse("supervision:log"), 5),
    # The supervisees and their cases read once, for the form and the agenda (plans too).
    "log a meeting": ("supervisor", lambda s: reverse("supervision:log_new"), 9),
    "own hours": ("trainee", lambda s: reverse("supervision:hours_own"), 8),
    "supervisor's view of hours": (
        "supervisor",
        lambda s: reverse("supervision:hours", args=[s["trainee"].pk]),
        9,
    ),
    "hours overview": ("supervisor", lambda s: reverse("supervision:hours_overview"), 4),
    "admin's hours overview": ("admin", lambda s: reverse("supervision:hours_overview"), 4),
    "counting rules": ("admin", lambda s: reverse("supervision:hours_rules"), 3),
    "hours CSV": ("trainee", lambda s: reverse("supervision:hours_csv", args=[s["trainee"].pk]), 8),
    "hours PDF": ("trainee", lambda s: reverse("supervision:hours_pdf", args=[s["trainee"].pk]), 8),
    "supervisor's hours CSV": (
        "supervisor",
        lambda s: reverse("supervision:hours_csv", args=[s["trainee"].pk]),
        9,
    ),
}


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize("rows", SIZES)
def test_query_counts_are_pinned(scene, page, rows):
    build(scene, rows)
    who, url, expected = PAGES[page]
    scene["admin"] = make_user(scene["practice"], "Ada Admin", practice_admin=True)
    client = Client()
    client.force_login(scene[who])
    assert count(client, url(scene)) == expected


def test_the_agenda_lists_plans_awaiting_and_the_cases_a_supervisee_co_leads(scene):
    from plans.models import PlanCosignState, PlanRevision

    couple = scene["couple"]
    today = timezone.localdate()
    PlanRevision.objects.create(
        couple=couple,
        revision=1,
        author=scene["trainee"],
        plan_date=today,
        review_on=today + datetime.timedelta(days=60),
        cosign_state=PlanCosignState.AWAITING,
    )
    # The peer co-leads the stranger's case: it is on the peer's agenda, with its flag, but
    # the stranger's own session awaiting someone else's co-signature is not.
    co_led = make_couple(scene["stranger"])
    co_led.co_therapist = scene["peer"]
    co_led.save(update_fields=["co_therapist"])
    theirs = make_session(co_led, days_ago=4)
    TherapySession.objects.filter(pk=theirs.pk).update(
        signed_at=timezone.now(), cosign_state=CosignState.AWAITING
    )
    Flag.objects.create(
        couple=co_led, kind=FlagKind.GONE_QUIET, opened_on=yesterday(), detail="Coded."
    )

    response = scene["client"].get(reverse("supervision:log_new"))

    agenda = {item.supervisee: item for item in response.context["agenda"]}
    trainee_case = agenda[scene["trainee"]].on_agenda[0]
    assert trainee_case.plan_awaiting == [1]
    assert "Awaiting your co-signature: treatment plan, revision 1" in response.text
    peer_cases = agenda[scene["peer"]].on_agenda
    assert [case.couple for case in peer_cases] == [co_led]
    assert peer_cases[0].awaiting == []
    assert [i.kinds_text for i in peer_cases[0].incidents] == ["Gone quiet"]
