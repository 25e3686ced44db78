"""People leaving and account recovery (issue 20, item 5; people.offboarding): the practice
admin deactivates a clinician (sessions ended at once, caseload listed for transfer), sends a
single-use, time-limited password-reset link, and resets an authenticator; each told by
e-mail without clinical content, each audited, and only for people of the admin's practice.
"""

from __future__ import annotations

import datetime
import html
import re

import pytest
import time_machine
from allauth.mfa.models import Authenticator
from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import transaction
from django.http import HttpResponse
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlsafe_base64_encode
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from people import offboarding
from people.models import AccessEvent, User
from people.views import LINK_DEAD, SELF_REFUSED
from tests.factories import PASSWORD, World, make_couple, make_session

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a-much-longer-new-passphrase-42"
CLINICAL = "Private process note."
ACTION_URLS = (
    "people:deactivate",
    "people:reactivate",
    "people:send_reset_link",
    "people:reset_authenticator",
)


@pytest.fixture
def world() -> World:
    return World.build()


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def sessions_of(user: User) -> int:
    return sum(
        1 for s in Session.objects.all() if str(s.get_decoded().get(SESSION_KEY)) == str(user.pk)
    )


def text_of(response: HttpResponse) -> str:
    return html.unescape(response.content.decode())


def events(action: str) -> list[AccessEvent]:
    return list(AccessEvent.objects.filter(action=action))


def mail_to(user: User) -> list[mail.EmailMessage]:
    return [m for m in mail.outbox if user.email in m.to]


def reset_link_in(message: mail.EmailMessage) -> str:
    found = re.search(r"http://testserver(/practice/reset/[^/\s]+/[^/\s]+/)", message.body)
    assert found, message.body
    return found.group(1)


def test_deactivating_ends_the_clinicians_sessions_at_once(world: World) -> None:
    owner = world.owner
    theirs = signed_in(owner)
    assert theirs.get(reverse("cycles:caseload")).status_code == 200
    admin = signed_in(world.practice_admin)
    url = reverse("people:deactivate", args=[owner.pk])

    assert admin.get(url).status_code == 200  # the confirmation page changes nothing
    owner.refresh_from_db()
    assert owner.is_active
    assert sessions_of(owner) == 1

    response = admin.post(url)

    assert response.status_code == 302
    assert response["Location"] == reverse("people:person", args=[owner.pk])
    owner.refresh_from_db()
    assert not owner.is_active
    assert sessions_of(owner) == 0
    assert sessions_of(world.practice_admin) == 1  # the admin's own session is untouched
    after = theirs.get(reverse("cycles:caseload"))
    assert after.status_code == 302
    assert reverse("account_login") in after["Location"]
    (event,) = events("person deactivated")
    assert event.user == world.practice_admin
    assert event.object_id == str(owner.pk)
    assert "sessions ended=1" in event.detail
    assert "caseload=1" in event.detail


def test_the_deactivated_clinicians_caseload_is_listed_for_transfer_by_code(world: World) -> None:
    second = make_couple(world.owner)
    admin = signed_in(world.practice_admin)
    page = admin.post(reverse("people:deactivate", args=[world.owner.pk]), follow=True)
    text = text_of(page)
    assert "is deactivated and signed out everywhere" in text
    assert "Caseload to transfer" in text
    for code in (world.couple.case_code, second.case_code):
        assert reverse("cycles:transfer", args=[code]) in text  # to the transfer page
    for partner in world.couple.partners.all():
        assert partner.display_name not in text


def test_the_clinician_is_told_without_clinical_content(world: World) -> None:
    make_session(world.couple, days_ago=2, private_note="Canary: very private words.")
    signed_in(world.practice_admin).post(reverse("people:deactivate", args=[world.owner.pk]))
    (message,) = mail_to(world.owner)
    assert "deactivated" in message.subject
    body = message.subject + message.body
    assert world.couple.case_code not in body
    for partner in world.couple.partners.all():
        assert partner.display_name not in body
    assert "Canary" not in body
    assert CLINICAL not in body


def test_a_deactivated_clinician_cannot_sign_in(world: World) -> None:
    signed_in(world.practice_admin).post(reverse("people:deactivate", args=[world.colleague.pk]))
    response = Client().post(
        reverse("account_login"), {"login": world.colleague.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("account_inactive")


def test_another_practices_clinician_is_a_404_and_nothing_changes(world: World) -> None:
    admin = signed_in(world.practice_admin)
    outsider = world.outsider
    signed_in(outsider)
    for name in ("people:person", "people:deactivate"):
        assert admin.get(reverse(name, args=[outsider.pk])).status_code == 404
    for name in ACTION_URLS:
        assert admin.post(reverse(name, args=[outsider.pk])).status_code == 404
    outsider.refresh_from_db()
    assert outsider.is_active
    assert sessions_of(outsider) == 1
    assert Authenticator.objects.filter(user=outsider).exists()
    assert mail.outbox == []
    assert not AccessEvent.objects.filter(object_id=str(outsider.pk)).exists()


def test_only_a_practice_admin_reaches_these_pages(world: World) -> None:
    for role in (world.owner, world.supervisor, world.colleague):
        client = signed_in(role)
        assert client.get(reverse("people:person", args=[world.colleague.pk])).status_code == 404
        assert (
            client.post(reverse("people:deactivate", args=[world.group_member.pk])).status_code
            == 404
        )
    world.group_member.refresh_from_db()
    assert world.group_member.is_active


def test_an_admin_cannot_deactivate_or_reset_themselves_here(world: World) -> None:
    me = world.practice_admin
    admin = signed_in(me)
    for name in ACTION_URLS:
        page = admin.post(reverse(name, args=[me.pk]), follow=True)
        assert SELF_REFUSED in text_of(page)
    me.refresh_from_db()
    assert me.is_active
    assert sessions_of(me) == 1
    assert Authenticator.objects.filter(user=me).exists()
    assert mail.outbox == []


def test_the_reset_link_sets_a_password_once(world: World) -> None:
    owner = world.owner
    admin = signed_in(world.practice_admin)
    admin.post(reverse("people:send_reset_link", args=[owner.pk]))
    (message,) = mail_to(owner)
    assert world.couple.case_code not in message.body
    link = reset_link_in(message)
    assert events("password reset link sent")

    visitor = Client()
    assert "New password" in text_of(visitor.get(link))
    weak = visitor.post(link, {"new_password1": "123", "new_password2": "123"})
    assert "too short" in text_of(weak)
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)  # a refused password changes nothing

    done = visitor.post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302
    assert done["Location"] == reverse("account_login")
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert events("password set from reset link")[0].user == owner

    again = Client().post(
        link, {"new_password1": "another-pass-9876", "new_password2": "another-pass-9876"}
    )
    assert LINK_DEAD in text_of(again)
    assert LINK_DEAD in text_of(Client().get(link))
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    assert events("password reset link refused")


def test_an_expired_reset_link_says_so_and_changes_nothing(world: World) -> None:
    owner = world.owner
    signed_in(world.practice_admin).post(reverse("people:send_reset_link", args=[owner.pk]))
    link = reset_link_in(mail_to(owner)[0])
    with time_machine.travel(timezone.now() + datetime.timedelta(hours=25)):
        page = Client().post(link, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert LINK_DEAD in text_of(page)
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)


def test_deactivating_kills_a_reset_link_sent_before(world: World) -> None:
    admin = signed_in(world.practice_admin)
    admin.post(reverse("people:send_reset_link", args=[world.owner.pk]))
    link = reset_link_in(mail_to(world.owner)[0])
    admin.post(reverse("people:deactivate", args=[world.owner.pk]))
    assert LINK_DEAD in text_of(Client().get(link))
    page = admin.post(reverse("people:send_reset_link", args=[world.owner.pk]), follow=True)
    assert "reactivate them first" in text_of(page)


def test_a_made_up_link_says_so() -> None:
    page = Client().get(reverse("people:password_reset", args=["MQ", "made-up-token"]))
    assert page.status_code == 200
    assert LINK_DEAD in text_of(page)


def test_no_link_without_an_email_address(world: World) -> None:
    User.objects.filter(pk=world.owner.pk).update(email="")
    page = signed_in(world.practice_admin).post(
        reverse("people:send_reset_link", args=[world.owner.pk]), follow=True
    )
    assert "has no e-mail address" in text_of(page)
    assert mail.outbox == []
    assert not events("password reset link sent")


def test_resetting_the_authenticator_sends_the_next_sign_in_to_enrolment(world: World) -> None:
    owner = world.owner
    theirs = signed_in(owner)
    Authenticator.objects.create(
        user=owner, type=Authenticator.Type.RECOVERY_CODES, data={"seed": "00", "used_mask": 0}
    )
    signed_in(world.practice_admin).post(reverse("people:reset_authenticator", args=[owner.pk]))

    assert not Authenticator.objects.filter(user=owner).exists()
    assert sessions_of(owner) == 0
    assert reverse("account_login") in theirs.get(reverse("cycles:caseload"))["Location"]
    (message,) = mail_to(owner)
    assert "authenticator" in message.subject
    assert world.couple.case_code not in message.body
    (event,) = events("authenticator reset")
    assert "authenticators deleted=2" in event.detail

    client = Client()
    signed = client.post(reverse("account_login"), {"login": owner.username, "password": PASSWORD})
    assert signed.status_code == 302
    home = client.get(signed["Location"], follow=True)
    assert home.redirect_chain[-1][0] == reverse("mfa_activate_totp")
    assert client.get(reverse("cycles:caseload"))["Location"] == reverse("mfa_activate_totp")


@pytest.mark.parametrize(
    "uidb64",
    [
        urlsafe_base64_encode(str(10**30).encode()),  # beyond any id the database holds
        urlsafe_base64_encode(b"\xff\xfe"),  # not text
        "%%%",
        "-1",
    ],
)
def test_a_mangled_link_says_so(uidb64: str) -> None:
    page = Client().post(reverse("people:password_reset", args=[uidb64, "x-y"]))
    assert page.status_code == 200
    assert LINK_DEAD in text_of(page)


JUNK = st.one_of(
    st.text(max_size=300),
    st.sampled_from(["", "\x00", "a" * 5000, NEW_PASSWORD, "<script>x</script>", "\uff11" * 12]),
)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(first=JUNK, second=JUNK)
def test_the_new_password_form_never_fails(world: World, first: str, second: str) -> None:
    """Whatever is typed: a message (200) or the password set (302), never a 500."""
    uidb64, token = offboarding.reset_path_parts(world.owner)
    url = reverse("people:password_reset", args=[uidb64, token])
    with transaction.atomic():
        status = Client().post(url, {"new_password1": first, "new_password2": second}).status_code
        transaction.set_rollback(True)
    assert status in (200, 302)


def test_a_returning_colleague_is_reactivated_and_signs_in_again(world: World) -> None:
    admin = signed_in(world.practice_admin)
    admin.post(reverse("people:deactivate", args=[world.colleague.pk]))
    page = admin.post(reverse("people:reactivate", args=[world.colleague.pk]), follow=True)
    assert "is active again" in text_of(page)
    world.colleague.refresh_from_db()
    assert world.colleague.is_active
    assert events("person reactivated")
    assert "reactivated" in mail_to(world.colleague)[-1].subject
    response = Client().post(
        reverse("account_login"), {"login": world.colleague.username, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] != reverse("account_inactive")
    again = admin.post(reverse("people:reactivate", args=[world.colleague.pk]), follow=True)
    assert "is already active" in text_of(again)
    assert len(events("person reactivated")) == 1
