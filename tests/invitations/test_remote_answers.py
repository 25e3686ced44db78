"""A partner answers from their own phone through a private link (issue 22, items 1, 2, 4).

The therapist keeps the partner's address and sends a link; a real SMTP server process
(tests/smtp_sink.py) receives the e-mail; the partner opens the link anonymously and answers;
the answers are the session's measures, "entered by the partner, remotely", and the flag they
call for is open right after the POST (Celery eager, on-commit callbacks run, as the same-day
tests do).
"""

from __future__ import annotations

import hashlib
import html
import re
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from invitations import sending
from invitations.models import Invitation, InvitationStatus, PartnerContact, Purpose
from people.models import AccessEvent
from ruptures.models import Flag, FlagKind
from sessions.models import MeasureResponse, PostSessionReport
from tests.invitations.conftest import (
    ADDRESSES,
    alliance_of,
    answer_url,
    invite,
    rated_world,
    set_addresses,
)

if TYPE_CHECKING:
    from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.django_db


def low_alliance(partner: str = "A", tension: str = "yes") -> dict[str, str]:
    data = {f"alliance-{partner}-{item}": "2" for item in ("bond", "goals", "tasks", "fit")}
    respondent = f"partner_{partner.lower()}"
    data[f"report-{respondent}-tension"] = tension
    if tension == "yes":
        data[f"report-{respondent}-upsetting"] = "4"
        data[f"report-{respondent}-resolved"] = "1"
    return data


def test_the_email_names_nobody_and_only_the_tokens_hash_is_kept(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    world, _ = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    invitation, token = invite(
        client, world.couple, "A", Purpose.SESSION, sink, django_capture_on_commit_callbacks
    )

    message = sink.messages()[-1]
    assert message["To"] == ADDRESSES["A"]
    assert message["Subject"] == sending.SUBJECT
    text = message.get_content()
    partners = [p.display_name for p in world.couple.partners.all()]
    for secret in [
        *partners,
        world.couple.case_code,
        world.practice.name,
        world.owner.display_name,
        "alliance",
        "safety",
    ]:
        assert secret.lower() not in text.lower(), secret
        assert secret.lower() not in message["Subject"].lower(), secret
    assert len(token) >= 43  # 256 bits, URL-safe base64
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SENT
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    # The address is ciphertext in the database; the token appears nowhere in it.
    with connection.cursor() as cursor:
        cursor.execute("SELECT email FROM invitations_partnercontact")
        stored = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT * FROM invitations_invitation")
        rows = repr(cursor.fetchall())
    assert stored
    assert all(s.startswith("fernet:") for s in stored)
    assert not any(address in s for s in stored for address in ADDRESSES.values())
    assert token not in rows
    assert PartnerContact.objects.get(couple=world.couple, partner="A").email == ADDRESSES["A"]


def test_a_partners_answers_after_the_session_open_the_alliance_drop_flag_at_once(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    world, later = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    invitation, token = invite(
        client, world.couple, "A", Purpose.SESSION, sink, django_capture_on_commit_callbacks
    )
    partner = Client()  # the partner's own phone: nobody signed in

    page = partner.get(answer_url(token))
    assert page.status_code == 200
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.OPENED
    assert invitation.opened_at
    with django_capture_on_commit_callbacks(execute=True):
        response = partner.post(answer_url(token), low_alliance("A"))

    assert response.status_code == 200
    assert "Thank you" in response.content.decode()
    rating = alliance_of(later, "A")
    assert rating is not None
    assert rating.total == 8
    assert rating.entered_by == "partner_remote"
    report = PostSessionReport.objects.get(session=later, respondent="partner_a")
    assert report.tension
    assert report.entered_by == "partner_remote"
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ANSWERED
    assert invitation.answered_at
    open_kinds = set(Flag.objects.open().filter(couple=world.couple).values_list("kind", flat=True))
    assert FlagKind.ALLIANCE_DROP in open_kinds
    # The practice admin's audit trail has the link's opening and answer (no one signed in).
    trail = AccessEvent.objects.visible_to(world.practice_admin).filter(
        case_code=world.couple.case_code, object_id=str(invitation.pk)
    )
    assert set(trail.values_list("action", flat=True)) >= {
        "remote answer link opened",
        "remote answers saved",
    }
    # The session page says where the answers came from.
    page = client.get(reverse("therapy_sessions:detail", args=[later.pk])).content.decode()
    assert page.count("entered by the partner, remotely") == 2  # the alliance and the report
    # The therapist's panel says so.
    panel = client.get(reverse("invitations:panel", args=[world.couple.case_code]))
    assert "Answered" in panel.content.decode()


def test_the_page_shows_only_that_partners_questions_and_nothing_of_the_record(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    world, later = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    # Partner B already answered in the room; A's page must show nothing of it.
    from tests.invitations.conftest import rate

    rate(later, "B", 3, world.owner)
    _, token = invite(
        client, world.couple, "A", Purpose.SESSION, sink, django_capture_on_commit_callbacks
    )
    body = html.unescape(Client().get(answer_url(token)).content.decode())

    assert 'name="alliance-A-bond"' in body
    assert "alliance-B" not in body
    assert "partner_b" not in body
    # No stored answer of anyone's is drawn: only "Not answered" is ticked.
    assert not re.search(r'value="\d+"[^>]*checked', body)
    for name in [p.display_name for p in world.couple.partners.all()]:
        assert name not in body
    for secret in (world.couple.case_code, world.owner.display_name, world.practice.name):
        assert secret not in body
    assert "<nav" not in body
    assert "Sign out" not in body
    assert "<script" not in body
    # Screen readers: each 0–10 scale is a fieldset named by its question.
    assert "<fieldset" in body
    assert "<legend" in body


def test_bad_input_is_refused_next_to_its_field_with_the_answers_kept(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    world, later = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    invitation, token = invite(
        client, world.couple, "A", Purpose.SESSION, sink, django_capture_on_commit_callbacks
    )
    partner = Client()
    half = {"alliance-A-bond": "7", "alliance-A-goals": "6", "report-partner_a-tension": "no"}

    response = partner.post(answer_url(token), half)

    body = response.content.decode()
    assert response.status_code == 200
    assert "Answer all four, or none." in body
    assert 'id="id_alliance-A-tasks_error"' in body
    assert 'aria-describedby="id_alliance-A-tasks_error"' in body
    assert re.search(r'name="alliance-A-bond" value="7"[^>]*checked', body)  # kept
    assert alliance_of(later, "A") is None
    assert not PostSessionReport.objects.filter(session=later, respondent="partner_a").exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SENT  # still usable (a POST isn't a view)


def test_nothing_answered_is_said_and_the_link_stays_usable(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    world, _ = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    invitation, token = invite(
        client, world.couple, "A", Purpose.SESSION, sink, django_capture_on_commit_callbacks
    )
    response = Client().post(answer_url(token), {})
    assert "You haven't answered any question yet" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.status in (InvitationStatus.SENT, InvitationStatus.OPENED)


def test_a_questionnaire_before_the_next_session_is_kept_with_the_latest_session(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    world, later = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    invitation, token = invite(
        client, world.couple, "B", Purpose.SATISFACTION, sink, django_capture_on_commit_callbacks
    )
    assert invitation.session_id == later.pk
    assert "csi4" in invitation.measure_codes
    partner = Client()
    body = partner.get(answer_url(token)).content.decode()
    assert 'name="m-csi4-' in body
    assert "alliance-" not in body

    answers = {
        f"m-csi4-{item['key']}": str(item["min"])
        for item in MeasureResponse._meta.get_field("definition")
        .related_model.objects.get(code="csi4", practice=None)
        .items
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = partner.post(answer_url(token), answers)

    assert "Thank you" in response.content.decode()
    response_row = MeasureResponse.objects.get(session=later, partner="B")
    assert response_row.entered_by == "partner_remote"
    assert response_row.recorded_by is None


def test_a_link_the_watchdog_finds_unsent_is_mailed(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    """The send's message was lost (a dead broker): the row was saved first, so the
    watchdog's round mails it once the lease is past."""
    import datetime

    from django.utils import timezone

    world, _ = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    with django_capture_on_commit_callbacks(execute=False):  # the queueing never happens
        client.post(
            reverse("invitations:send", args=[world.couple.case_code]),
            {"partner": "A", "purpose": Purpose.SESSION},
        )
    invitation = Invitation.objects.get(couple=world.couple)
    assert invitation.status == InvitationStatus.WAITING
    assert not sink.messages()

    assert sending.resume_unsent(timezone.now()) == []  # within the lease: left alone
    later = timezone.now() + sending.lease() + datetime.timedelta(seconds=1)
    assert sending.resume_unsent(later) == [invitation.pk]

    assert len(sink.wait_for(1)) == 1
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SENT
    assert invitation.send_attempts == 1


def test_an_smtp_server_that_refuses_puts_the_link_back_then_fails_it_at_the_last_try(
    client: Client, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The task retries with backoff (invitations.tasks.send_invitation): each failed try
    puts the link back to waiting with its token's hash cleared; the last one fails it. In
    process (no broker, as here and in `make run`) the one try is the last."""
    from tests.processes import free_port

    world, _ = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    settings.MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": free_port(), "use_tls": False},
        }
    }
    with django_capture_on_commit_callbacks(execute=False):
        client.post(
            reverse("invitations:send", args=[world.couple.case_code]),
            {"partner": "A", "purpose": Purpose.SESSION},
        )
    invitation = Invitation.objects.get(couple=world.couple)

    with pytest.raises(sending.SendFailed):
        sending.send(invitation.pk)
    invitation.refresh_from_db()
    assert (invitation.status, invitation.token_hash) == (InvitationStatus.WAITING, "")
    assert invitation.send_attempts == 1

    assert sending.queue_send(invitation.pk) is False  # in process: the last try
    invitation.refresh_from_db()
    assert (invitation.status, invitation.token_hash) == (InvitationStatus.FAILED, "")
    assert invitation.error == "ConnectionRefusedError"
    assert invitation.send_attempts == 2
    panel = client.get(reverse("invitations:panel", args=[world.couple.case_code]))
    assert "Failed to send" in panel.content.decode()


def test_a_link_about_a_session_the_partner_missed_is_refused(client: Client) -> None:
    from sessions.models import SessionFormat
    from tests.factories import make_session

    world, _ = rated_world()
    make_session(world.couple, days_ago=0, format=SessionFormat.INDIVIDUAL_B)
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    response = client.post(
        reverse("invitations:send", args=[world.couple.case_code]),
        {"partner": "A", "purpose": Purpose.SESSION},
        follow=True,
    )
    assert "wasn't in the last session" in html.unescape(response.content.decode())
    assert not Invitation.objects.exists()
