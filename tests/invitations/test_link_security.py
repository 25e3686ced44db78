"""The security of the remote answer links (issue 22, "Security"; docs/security.md, "Remote
answer links"): used, expired, revoked and discharged-case links all get one page that
reveals nothing; the page is throttled per link and unknown tokens per address; links to one
address are limited; the page sets no session and carries no-store, no-referrer and a strict
CSP; only the couple's therapist sends or revokes.
"""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cycles.models import CoupleStatus
from invitations import links
from invitations.models import Invitation, InvitationStatus, LinkHit, Purpose
from sessions.models import AllianceRating
from tests.invitations.conftest import (
    ADDRESSES,
    answer_url,
    invite,
    rated_world,
    set_addresses,
)

if TYPE_CHECKING:
    from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.django_db

DEAD = "This link no longer works"
ANSWERS = {f"alliance-A-{item}": "5" for item in ("bond", "goals", "tasks", "fit")}


def sent_link(
    client: Client, sink: SmtpSink, capture: Any, purpose: str = Purpose.SESSION
) -> tuple[Any, Invitation, str]:
    world, _ = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    invitation, token = invite(client, world.couple, "A", purpose, sink, capture)
    return world, invitation, token


def test_used_expired_revoked_and_closed_case_links_get_one_page_that_reveals_nothing(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    world, used, used_token = sent_link(client, sink, django_capture_on_commit_callbacks)
    capture = django_capture_on_commit_callbacks
    expired, expired_token = invite(client, world.couple, "A", Purpose.SESSION, sink, capture)
    revoked, revoked_token = invite(client, world.couple, "A", Purpose.SESSION, sink, capture)
    _closing, closing_token = invite(client, world.couple, "B", Purpose.SESSION, sink, capture)
    with capture(execute=True):
        assert Client().post(answer_url(used_token), ANSWERS).status_code == 200
    Invitation.objects.filter(pk=expired.pk).update(
        expires_at=timezone.now() - datetime.timedelta(seconds=1)
    )
    response = client.post(reverse("invitations:revoke", args=[world.couple.case_code, revoked.pk]))
    assert response.status_code == 302
    revoked.refresh_from_db()
    assert revoked.status == InvitationStatus.REVOKED
    assert revoked.revoked_by == world.owner

    unknown = Client().get(answer_url("x" * 43)).content
    pages = {}
    for name, token in [
        ("used", used_token),
        ("expired", expired_token),
        ("revoked", revoked_token),
    ]:
        pages[name] = Client().get(answer_url(token))
    type(world.couple).objects.filter(pk=world.couple.pk).update(
        status=CoupleStatus.COMPLETED, closed_on=timezone.localdate()
    )
    pages["closed case"] = Client().get(answer_url(closing_token))
    for name, page in pages.items():
        assert page.status_code == 200, name
        assert page.content == unknown, name  # the same page, byte for byte
        assert DEAD in page.content.decode(), name
    for secret in (world.couple.case_code, world.owner.display_name, world.practice.name):
        assert secret not in unknown.decode()
    expired.refresh_from_db()
    assert expired.status == InvitationStatus.EXPIRED

    # A second POST to the used link stores nothing more.
    before = AllianceRating.objects.count()
    again = Client().post(answer_url(used_token), {k: "0" for k in ANSWERS})
    assert DEAD in again.content.decode()
    assert AllianceRating.objects.count() == before
    assert AllianceRating.objects.get(session=used.session, partner="A").bond == 5


def test_a_link_is_throttled_per_token(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    _, _, token = sent_link(client, sink, django_capture_on_commit_callbacks)
    partner = Client()
    for _ in range(links.HITS_PER_LINK):
        assert partner.get(answer_url(token)).status_code == 200
    refused = partner.post(answer_url(token), ANSWERS)
    assert refused.status_code == 429
    assert "Please wait" in refused.content.decode()
    assert not AllianceRating.objects.filter(entered_by="partner_remote").exists()
    # A quarter of an hour later it works again.
    LinkHit.objects.update(at=timezone.now() - links.HIT_WINDOW)
    assert partner.get(answer_url(token)).status_code == 200


def test_guessing_tokens_is_throttled_per_address(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    _, _, token = sent_link(client, sink, django_capture_on_commit_callbacks)
    guesser = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(links.GUESSES_PER_ADDRESS):
        assert DEAD in guesser.get(answer_url(f"guess-{n:040d}")).content.decode()
    # Now even a good token is refused from that address, before any lookup...
    assert guesser.get(answer_url(token)).status_code == 429
    # ...while the partner, elsewhere, is not affected.
    assert Client(REMOTE_ADDR="198.51.100.7").get(answer_url(token)).status_code == 200


def test_links_to_one_address_are_limited_per_day(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    world, _, _ = sent_link(client, sink, django_capture_on_commit_callbacks)
    for _ in range(links.INVITATIONS_PER_ADDRESS_PER_DAY - 1):
        invite(client, world.couple, "A", Purpose.SESSION, sink, django_capture_on_commit_callbacks)
    response = client.post(
        reverse("invitations:send", args=[world.couple.case_code]),
        {"partner": "A", "purpose": Purpose.SESSION},
        follow=True,
    )
    assert "the most it may" in response.content.decode()
    assert Invitation.objects.filter(couple=world.couple, partner="A").count() == (
        links.INVITATIONS_PER_ADDRESS_PER_DAY
    )


def test_the_page_is_no_store_no_referrer_strict_csp_and_sets_no_cookie(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    _, _, token = sent_link(client, sink, django_capture_on_commit_callbacks)
    partner = Client()
    for response in (
        partner.get(answer_url(token)),
        partner.post(answer_url(token), {"alliance-A-bond": "3"}),  # refused: errors shown
        partner.get(answer_url("no-such-token-" + "0" * 30)),
    ):
        assert "no-store" in response["Cache-Control"]
        assert response["Referrer-Policy"] == "no-referrer"
        csp = response["Content-Security-Policy"]
        assert "default-src 'none'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "unsafe-inline" not in csp
        assert "unsafe-eval" not in csp
        assert "script-src" not in csp  # none allowed: default-src 'none'
        assert not response.cookies  # no session, no CSRF cookie: nothing at all
    assert settings.SESSION_COOKIE_NAME not in partner.cookies


def test_a_signed_in_therapists_browser_gains_nothing_and_loses_nothing_on_the_page(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    """Opening a link in a browser signed in as someone: the page is the same, and the
    answers are still the partner's, never the signed-in person's."""
    _world, _invitation, token = sent_link(client, sink, django_capture_on_commit_callbacks)
    response = client.get(answer_url(token))
    assert response.status_code == 200
    assert "<nav" not in response.content.decode()


def test_only_the_couples_therapist_sends_revokes_or_sees_addresses(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    world, invitation, _ = sent_link(client, sink, django_capture_on_commit_callbacks)
    code = world.couple.case_code
    for role in ("supervisor", "colleague", "outsider", "group_member", "practice_admin"):
        other = Client()
        other.force_login(getattr(world, role))
        send = other.post(
            reverse("invitations:send", args=[code]), {"partner": "A", "purpose": "session"}
        )
        assert send.status_code == 404, role
        revoke = other.post(reverse("invitations:revoke", args=[code, invitation.pk]))
        assert revoke.status_code == 404, role
        assert other.get(reverse("invitations:contact", args=[code])).status_code == 404, role
        panel = other.get(reverse("invitations:panel", args=[code]))
        if role == "supervisor":  # reads the statuses, never the addresses
            body = panel.content.decode()
            assert panel.status_code == 200
            assert "Sent" in body
            assert "@example.invalid" not in body
            assert "Send the link" not in body
        else:
            assert panel.status_code == 404, role
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SENT
    assert Invitation.objects.count() == 1


def test_posting_the_same_send_form_twice_makes_one_link(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    world, _ = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    data = {"partner": "A", "purpose": "session", "request_token": "7" * 32}
    url = reverse("invitations:send", args=[world.couple.case_code])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, data)
        client.post(url, data)
    assert Invitation.objects.filter(couple=world.couple).count() == 1
    assert len(sink.wait_for(1)) == 1


def test_the_watchdog_expires_links_past_their_time_and_drops_old_page_hits(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    from invitations import sending

    world, invitation, token = sent_link(client, sink, django_capture_on_commit_callbacks)
    Client().get(answer_url(token))
    later = timezone.now() + links.link_lifetime() + datetime.timedelta(minutes=1)

    sending.resume_unsent(later)
    sending.purge_hits(later)

    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.EXPIRED
    assert invitation.token_hash == ""
    assert not LinkHit.objects.exists()
    panel = client.get(reverse("invitations:panel", args=[world.couple.case_code]))
    assert "Expired" in panel.content.decode()
    # Revoking it now changes nothing, and says so.
    response = client.post(
        reverse("invitations:revoke", args=[world.couple.case_code, invitation.pk]), follow=True
    )
    assert "already been answered or had ended" in response.content.decode()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.EXPIRED


def test_destroying_the_record_removes_its_links_and_addresses(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    from cycles.services import _delete_record
    from invitations.models import PartnerContact

    world, _, token = sent_link(client, sink, django_capture_on_commit_callbacks)
    Client().get(answer_url(token))

    _delete_record(world.couple)

    assert not Invitation.objects.exists()
    assert not PartnerContact.objects.exists()
    assert not LinkHit.objects.filter(invitation__isnull=False).exists()


def test_the_send_form_takes_only_partner_and_purpose(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    """Mass assignment (checklist item 6): whatever else is posted changes nothing."""
    from tests.factories import make_couple

    world, _ = rated_world()
    theirs = make_couple(world.colleague)
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    far = (timezone.now() + datetime.timedelta(days=365)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("invitations:send", args=[world.couple.case_code]),
            {
                "partner": "A",
                "purpose": Purpose.SESSION,
                "couple": theirs.pk,
                "created_by": world.colleague.pk,
                "status": InvitationStatus.ANSWERED,
                "expires_at": far,
                "token_hash": "0" * 64,
                "measure_codes": "csi4",
            },
        )
    invitation = Invitation.objects.get()
    assert invitation.couple == world.couple
    assert invitation.created_by == world.owner
    assert invitation.status == InvitationStatus.SENT
    assert invitation.token_hash != "0" * 64
    assert invitation.measure_codes == []
    assert invitation.expires_at <= timezone.now() + links.link_lifetime()


def test_both_partners_get_a_link_each_once_even_if_the_form_is_sent_twice(
    client: Client, sink: SmtpSink, django_capture_on_commit_callbacks: Any
) -> None:
    world, _ = rated_world()
    client.force_login(world.owner)
    set_addresses(client, world.couple)
    data = {"partner": "both", "purpose": Purpose.SESSION, "request_token": "5" * 32}
    url = reverse("invitations:send", args=[world.couple.case_code])
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, data)
        client.post(url, data)
    sent = Invitation.objects.filter(couple=world.couple)
    assert sorted(sent.values_list("partner", flat=True)) == ["A", "B"]
    mails = sink.wait_for(2)
    assert sorted(m["To"] for m in mails) == sorted(ADDRESSES.values())
