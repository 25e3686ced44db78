"""Signing a session's record, amending it, and co-signing a trainee's notes
(sessions/signing.py; docs/domain.md, "Signing")."""

from __future__ import annotations

import datetime
import html
from typing import TYPE_CHECKING

import pytest
from django.db import DatabaseError, transaction
from django.urls import reverse
from django.utils import timezone

from core.templatetags.dates import practice_datetime
from people.models import AccessEvent, Supervision
from ruptures.models import Rupture
from sessions import signing
from sessions.models import (
    Amendment,
    Attendance,
    CosignState,
    SessionFormat,
    SignOffEvent,
    TherapySession,
)
from tests.factories import World, make_rupture, version_of

if TYPE_CHECKING:
    from django.test import Client

    from people.models import User

pytestmark = pytest.mark.django_db

FIRST_NOTE = "Named the protest polka; both nodded."
AMENDED_NOTE = "Named the protest polka; Avery nodded, Blake looked away."
PRIVATE = "My own unease about siding with Avery."


def text_of(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def edit_form(session: TherapySession, **overrides: str) -> dict[str, str]:
    local = timezone.localtime(session.starts_at)
    end = local + datetime.timedelta(minutes=session.duration_minutes)
    return {
        "date": local.date().isoformat(),
        "start_time": f"{local:%H:%M}",
        "end_time": f"{end:%H:%M}",
        "format": session.format or SessionFormat.CONJOINT,
        "attendance": session.attendance or Attendance.ATTENDED,
        "cancelled_by": "",
        "left_early": "",
        "eft_step": str(session.eft_step or ""),
        "progress_note": session.progress_note,
        "private_note": "",
        **version_of(session),
        **overrides,
    }


def sign(client: Client, user: User, session: TherapySession) -> str:
    client.force_login(user)
    response = client.post(reverse("therapy_sessions:sign", args=[session.pk]), follow=True)
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def signed_world(cosign: bool = False) -> World:
    world = World.build()
    if cosign:
        Supervision.objects.filter(therapist=world.owner).update(notes_need_cosign=True)
    TherapySession.objects.filter(pk=world.session.pk).update(progress_note=FIRST_NOTE)
    world.session.refresh_from_db()
    return world


def test_the_therapist_signs_and_the_page_says_the_record_is_locked(client: Client) -> None:
    world = signed_world()
    page = sign(client, world.owner, world.session)

    world.session.refresh_from_db()
    assert world.session.signed_at is not None
    assert world.session.signed_by == world.owner
    assert world.session.cosign_state == CosignState.NOT_NEEDED
    assert "Signed session 1: its record is locked" in page
    assert f"Signed by {world.owner}" in page
    assert "Sign this record" not in page
    assert "Withdraw this session" not in page
    assert AccessEvent.objects.filter(action="signed session", user=world.owner).count() == 1


def test_signing_twice_signs_once_and_says_so(client: Client) -> None:
    world = signed_world()
    sign(client, world.owner, world.session)
    again = sign(client, world.owner, world.session)

    assert "You already signed session 1." in again
    assert SignOffEvent.objects.filter(session=world.session).count() == 1


@pytest.mark.parametrize("role", ["supervisor", "colleague", "practice_admin", "outsider"])
def test_only_the_therapist_who_held_the_session_signs_it(client: Client, role: str) -> None:
    world = signed_world()
    client.force_login(getattr(world, role))
    response = client.post(reverse("therapy_sessions:sign", args=[world.session.pk]))
    assert response.status_code == 404
    world.session.refresh_from_db()
    assert world.session.signed_at is None


def test_a_signed_record_changes_only_by_an_amendment_with_a_reason(client: Client) -> None:
    world = signed_world()
    sign(client, world.owner, world.session)
    world.session.refresh_from_db()
    url = reverse("therapy_sessions:edit", args=[world.session.pk])

    refused = client.post(url, edit_form(world.session, progress_note=AMENDED_NOTE))

    assert refused.status_code == 200
    body = html.unescape(refused.content.decode())
    assert "Say why the record is amended." in body
    assert AMENDED_NOTE in body  # what was typed is kept
    world.session.refresh_from_db()
    assert world.session.progress_note == FIRST_NOTE

    saved = client.post(
        url,
        edit_form(
            world.session,
            progress_note=AMENDED_NOTE,
            amendment_reason="Blake's response was misremembered.",
        ),
    )

    assert saved.status_code == 302
    world.session.refresh_from_db()
    assert world.session.progress_note == AMENDED_NOTE
    amendment = Amendment.objects.get(session=world.session)
    assert amendment.changes == [
        {
            "what": "Session",
            "field": "Progress note",
            "before": FIRST_NOTE,
            "after": AMENDED_NOTE,
        }
    ]
    assert not amendment.applying
    for reader in (world.owner, world.supervisor):
        client.force_login(reader)
        page = text_of(client, reverse("therapy_sessions:detail", args=[world.session.pk]))
        assert "Reason: Blake's response was misremembered." in page
        assert FIRST_NOTE in page  # the original, kept and readable
        assert AMENDED_NOTE in page


def test_the_private_note_stays_outside_signing(client: Client) -> None:
    world = signed_world()
    sign(client, world.owner, world.session)
    world.session.refresh_from_db()

    saved = client.post(
        reverse("therapy_sessions:edit", args=[world.session.pk]),
        edit_form(world.session, private_note=PRIVATE),
    )

    assert saved.status_code == 302
    assert not Amendment.objects.exists()
    client.force_login(world.supervisor)
    page = text_of(client, reverse("therapy_sessions:detail", args=[world.session.pk]))
    assert PRIVATE not in page


def test_the_database_refuses_a_change_to_a_signed_record_outside_an_amendment(
    client: Client,
) -> None:
    world = signed_world()
    sign(client, world.owner, world.session)

    with pytest.raises(DatabaseError), transaction.atomic():
        TherapySession.objects.filter(pk=world.session.pk).update(progress_note="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        TherapySession.objects.filter(pk=world.session.pk).update(signed_at=None)
    with pytest.raises(DatabaseError), transaction.atomic():
        Rupture.objects.filter(pk=world.rupture.pk).update(significance=1)
    with pytest.raises(DatabaseError), transaction.atomic():
        make_rupture(world.session)

    world.session.refresh_from_db()
    world.rupture.refresh_from_db()
    assert world.session.progress_note == FIRST_NOTE
    assert world.rupture.significance == 3
    assert Rupture.objects.filter(session=world.session).count() == 1
    # What isn't the record's content still changes: the next session's number, its version.
    TherapySession.objects.filter(pk=world.session.pk).update(version=99)


def test_the_database_refuses_a_repair_added_to_or_changed_in_a_signed_session(
    client: Client,
) -> None:
    from ruptures.codes import ResolutionStage, RuptureStatus
    from ruptures.models import RuptureRepair
    from tests.factories import make_session

    world = signed_world()
    later = make_session(world.couple, days_ago=3)
    repair = RuptureRepair.objects.create(
        rupture=world.rupture,
        session=later,
        status=RuptureStatus.RESOLVED,
        resolution_stage=ResolutionStage.UNDERLYING_NEED,
        status_before=RuptureStatus.UNRESOLVED,
        stage_before=ResolutionStage.NONE,
        note="Named my part in it.",
    )
    sign(client, world.owner, later)

    with pytest.raises(DatabaseError), transaction.atomic():
        RuptureRepair.objects.filter(pk=repair.pk).update(note="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        RuptureRepair.objects.create(
            rupture=world.rupture,
            session=later,
            status=RuptureStatus.RESOLVED,
            resolution_stage=ResolutionStage.UNDERLYING_NEED,
            status_before=RuptureStatus.RESOLVED,
            stage_before=ResolutionStage.UNDERLYING_NEED,
        )

    repair.refresh_from_db()
    assert repair.note == "Named my part in it."
    assert RuptureRepair.objects.filter(session=later).count() == 1


def test_a_signed_session_is_not_withdrawn(client: Client) -> None:
    world = signed_world()
    sign(client, world.owner, world.session)

    response = client.post(
        reverse("therapy_sessions:withdraw", args=[world.session.pk]),
        {"reason": "logged twice"},
        follow=True,
    )

    assert "a signed record can't be withdrawn" in html.unescape(response.content.decode())
    world.session.refresh_from_db()
    assert world.session.withdrawn_at is None


def test_co_signing_round_trip_with_a_change_request(client: Client) -> None:
    world = signed_world(cosign=True)
    page = sign(client, world.owner, world.session)
    assert "It now waits for your supervisor's co-signature." in page
    queue_url = reverse("therapy_sessions:cosign_queue")
    review_url = reverse("therapy_sessions:review", args=[world.session.pk])

    client.force_login(world.supervisor)
    queue = text_of(client, queue_url)
    assert "Awaiting your co-signature (1)" in queue
    assert world.couple.case_code in queue
    empty = client.post(review_url, {"outcome": "request_changes", "comment": " "}, follow=True)
    assert "Say what should change" in html.unescape(empty.content.decode())
    client.post(
        review_url, {"outcome": "request_changes", "comment": "Add what Blake said at the end."}
    )
    world.session.refresh_from_db()
    assert world.session.cosign_state == CosignState.CHANGES_REQUESTED

    client.force_login(world.owner)
    assert "Add what Blake said at the end." in text_of(
        client, reverse("therapy_sessions:detail", args=[world.session.pk])
    )
    assert world.couple.case_code in text_of(client, queue_url).split("Sent back to you")[1]
    client.post(
        reverse("therapy_sessions:edit", args=[world.session.pk]),
        edit_form(
            world.session, progress_note=AMENDED_NOTE, amendment_reason="As my supervisor asked."
        ),
    )
    first_signed = TherapySession.objects.get(pk=world.session.pk).signed_at
    page = sign(client, world.owner, world.session)
    world.session.refresh_from_db()
    assert world.session.cosign_state == CosignState.AWAITING
    # The signature that stands is the second; the queue's wait starts from it.
    assert world.session.signed_at > first_signed
    assert practice_datetime(world.session.signed_at) in page

    client.force_login(world.supervisor)
    client.post(review_url, {"outcome": "cosign", "comment": ""})
    world.session.refresh_from_db()
    assert world.session.cosign_state == CosignState.COSIGNED
    assert "Nothing waits for your co-signature." in text_of(client, queue_url)
    kinds = list(SignOffEvent.objects.filter(session=world.session).values_list("kind", flat=True))
    assert kinds == ["signed", "changes_requested", "amended", "signed", "cosigned"]


@pytest.mark.parametrize("role", ["other_supervisor", "owner", "colleague"])
def test_nobody_outside_the_chain_co_signs(client: Client, role: str) -> None:
    world = signed_world(cosign=True)
    sign(client, world.owner, world.session)
    client.force_login(getattr(world, role))

    client.post(reverse("therapy_sessions:review", args=[world.session.pk]), {"outcome": "cosign"})

    world.session.refresh_from_db()
    assert world.session.cosign_state == CosignState.AWAITING


def test_the_queue_lists_the_oldest_first_and_is_no_place_for_an_admin(client: Client) -> None:
    world = signed_world(cosign=True)
    later = TherapySession.objects.create(
        couple=world.couple,
        therapist=world.owner,
        starts_at=timezone.now() - datetime.timedelta(days=2),
        ordinal=2,
    )
    sign(client, world.owner, later)
    sign(client, world.owner, world.session)
    later.refresh_from_db()
    client.force_login(world.supervisor)
    queue = text_of(client, reverse("therapy_sessions:cosign_queue"))
    rows = queue.split("Awaiting your co-signature")[1]
    assert rows.index(f"{later.signed_at:%-d %b %Y}") >= 0
    assert rows.index("Session 2") < rows.index("Session 1")  # session 2 was signed first

    client.force_login(world.practice_admin)
    assert client.get(reverse("therapy_sessions:cosign_queue")).status_code == 404


def test_the_queue_takes_the_same_queries_however_long_it_is(client: Client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    world = signed_world(cosign=True)
    client.force_login(world.supervisor)
    url = reverse("therapy_sessions:cosign_queue")

    def queries_with(waiting: int) -> int:
        for n in range(waiting):
            session = TherapySession.objects.create(
                couple=world.couple,
                therapist=world.owner,
                starts_at=timezone.now() - datetime.timedelta(days=30 + n + 10 * waiting),
                ordinal=100 + n + 10 * waiting,
            )
            TherapySession.objects.filter(pk=session.pk).update(
                signed_at=timezone.now(), signed_by=world.owner, cosign_state="awaiting"
            )
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    first, more = queries_with(1), queries_with(6)
    # Session and user, the audit middleware's, the awaiting rows and their count, the plan
    # revisions awaiting (with their count), and the sent-back and unsigned lists (empty for a
    # supervisor who holds no sessions). Pinned: a count that grows with the queue is an N+1.
    assert first == more == 8


def test_the_supervisor_turns_co_signing_on_for_a_supervisee(client: Client) -> None:
    world = signed_world()
    client.force_login(world.supervisor)
    overview = reverse("supervision:therapist", args=[world.owner.pk])
    assert "don't need your co-signature" in text_of(client, overview)

    response = client.post(
        reverse("supervision:cosign_setting", args=[world.owner.pk]),
        {"notes_need_cosign": "yes"},
        follow=True,
    )

    assert "now wait for your co-signature once signed" in html.unescape(response.content.decode())
    assert Supervision.objects.get(supervisor=world.supervisor).notes_need_cosign
    sign(client, world.owner, world.session)
    world.session.refresh_from_db()
    assert world.session.cosign_state == CosignState.AWAITING
    # Another supervisor, not theirs, can't.
    client.force_login(world.other_supervisor)
    refused = client.post(
        reverse("supervision:cosign_setting", args=[world.owner.pk]), {"notes_need_cosign": "no"}
    )
    assert refused.status_code == 404
    assert Supervision.objects.get(supervisor=world.supervisor).notes_need_cosign


def test_signing_again_unchanged_after_a_request_needs_a_reply_the_supervisor_reads(
    client: Client,
) -> None:
    world = signed_world(cosign=True)
    sign(client, world.owner, world.session)
    review_url = reverse("therapy_sessions:review", args=[world.session.pk])
    client.force_login(world.supervisor)
    client.post(review_url, {"outcome": "request_changes", "comment": "Add the homework."})

    client.force_login(world.owner)
    page = text_of(client, reverse("therapy_sessions:detail", args=[world.session.pk]))
    assert "Why the record stands as it is" in page
    assert "Sign again unchanged" in page
    refused = sign(client, world.owner, world.session)
    assert signing.UNCHANGED_NEEDS_A_REPLY in refused
    world.session.refresh_from_db()
    assert world.session.cosign_state == CosignState.CHANGES_REQUESTED

    reply = "No homework was set in this session; it was set in the next."
    client.post(reverse("therapy_sessions:sign", args=[world.session.pk]), {"reply": reply})
    world.session.refresh_from_db()
    assert world.session.cosign_state == CosignState.AWAITING
    client.force_login(world.supervisor)
    history = text_of(client, reverse("therapy_sessions:detail", args=[world.session.pk]))
    assert f"Signed by Owner Therapist: “{reply}”" in history


def test_after_an_amendment_signing_again_needs_no_reply(client: Client) -> None:
    world = signed_world(cosign=True)
    sign(client, world.owner, world.session)
    client.force_login(world.supervisor)
    client.post(
        reverse("therapy_sessions:review", args=[world.session.pk]),
        {"outcome": "request_changes", "comment": "Add the homework."},
    )
    client.force_login(world.owner)
    client.post(
        reverse("therapy_sessions:edit", args=[world.session.pk]),
        edit_form(world.session, progress_note=AMENDED_NOTE, amendment_reason="As asked."),
    )
    page = sign(client, world.owner, world.session)
    assert "Why the record stands as it is" not in page
    world.session.refresh_from_db()
    assert world.session.cosign_state == CosignState.AWAITING
