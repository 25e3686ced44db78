"""Closing a case (discharge) and reopening it: the caseload, the nightly flags and the
consultation groups' counts of active cases leave a closed case; it stays readable."""

from __future__ import annotations

import datetime
import html
import re
from typing import TYPE_CHECKING, Any

import pytest
from django.urls import reverse
from django.utils import timezone

from consultation.groups import dashboard
from cycles.models import CaseEvent, CaseEventKind, CaseShare, Couple, CoupleStatus
from flags import runs
from people.models import AccessEvent, ConsultationGroup, GroupMembership
from ruptures.models import Flag, FlagKind
from tests.factories import World, make_couple, make_rupture, make_session, version_of

if TYPE_CHECKING:
    from django.test import Client

    from people.models import User

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate


def as_user(client: Client, user: User) -> Client:
    client.force_login(user)
    return client


def field_error(response: Any, auto_id: str) -> str:
    match = re.search(
        rf'id="{re.escape(auto_id)}_error"[^>]*>(.*?)</(?:ul|p)>', response.text, re.DOTALL
    )
    assert match, f"no error shown beside {auto_id}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def close(client: Client, couple: Couple, **data: Any) -> Any:
    body = {"reason": CoupleStatus.COMPLETED, "closed_on": TODAY().isoformat()} | data
    return client.post(reverse("cycles:close", args=[couple.case_code]), body | version_of(couple))


def caseload_codes(client: Client, status: str | None = None) -> list[str]:
    url = reverse("cycles:caseload") + (f"?status={status}" if status else "")
    return [c.case_code for c in client.get(url).context["page"].object_list]


def high_contribution_rupture(couple: Couple, days_ago: int = 3) -> None:
    make_rupture(make_session(couple, days_ago=days_ago), therapist_contribution=5)


def test_the_therapist_closes_a_case_and_it_leaves_the_active_caseload(client):
    world = World.build()
    client = as_user(client, world.owner)
    other = make_couple(world.owner)
    assert set(caseload_codes(client)) == {world.couple.case_code, other.case_code}

    response = close(client, world.couple, reason=CoupleStatus.REFERRED)

    assert response.status_code == 302
    world.couple.refresh_from_db()
    assert world.couple.status == CoupleStatus.REFERRED
    assert world.couple.closed_on == TODAY()
    assert caseload_codes(client) == [other.case_code]
    assert caseload_codes(client, "closed") == [world.couple.case_code]
    assert world.couple.case_code in caseload_codes(client, "all")
    # Still readable, by its therapist and by the supervisor.
    page = client.get(world.couple.get_absolute_url())
    assert page.status_code == 200
    assert f"Closed on {TODAY():%-d %b %Y}: referred on." in page.text
    assert reverse("cycles:reopen", args=[world.couple.case_code]) in page.text
    assert as_user(client, world.supervisor).get(world.couple.get_absolute_url()).status_code == 200
    event = AccessEvent.objects.get(action="close case")
    assert (event.user, event.case_code) == (world.owner, world.couple.case_code)
    assert event.detail == f"reason=referred closed_on={TODAY().isoformat()}"
    assert CaseEvent.objects.get(couple=world.couple).kind == CaseEventKind.DISCHARGED


def test_an_other_reason_needs_its_words_which_stay_on_the_record_not_in_the_trail(client):
    world = World.build()
    client = as_user(client, world.owner)
    refused = close(client, world.couple, reason=CoupleStatus.CLOSED_OTHER, other_reason="  ")
    assert refused.status_code == 200
    assert field_error(refused, "id_other_reason") == "Say what the other reason is."
    world.couple.refresh_from_db()
    assert world.couple.status == CoupleStatus.ACTIVE

    close(client, world.couple, reason=CoupleStatus.CLOSED_OTHER, other_reason="Moved abroad")

    world.couple.refresh_from_db()
    assert world.couple.status == CoupleStatus.CLOSED_OTHER
    assert CaseEvent.objects.get(couple=world.couple).note == "Moved abroad"
    assert "Moved abroad" not in AccessEvent.objects.get(action="close case").detail


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("future", "The discharge date can't be in the future."),
        ("before", "the discharge date can't be before it."),
        ("31/02/2026", ""),
    ],
)
def test_a_bad_discharge_date_is_refused_beside_the_field_and_kept(client, typed, message):
    world = World.build()  # its first session was 10 days ago
    client = as_user(client, world.owner)
    value = {
        "future": (TODAY() + datetime.timedelta(days=1)).isoformat(),
        "before": (TODAY() - datetime.timedelta(days=11)).isoformat(),
    }.get(typed, typed)
    response = close(client, world.couple, closed_on=value)
    assert response.status_code == 200
    error = field_error(response, "id_closed_on")
    assert error
    assert message in error
    assert f'value="{value}"' in response.text
    world.couple.refresh_from_db()
    assert (world.couple.status, world.couple.closed_on) == (CoupleStatus.ACTIVE, None)
    assert not CaseEvent.objects.exists()
    assert not AccessEvent.objects.filter(action="close case").exists()


def test_no_reason_chosen_is_refused(client):
    world = World.build()
    response = close(as_user(client, world.owner), world.couple, reason="")
    assert field_error(response, "id_reason") == "Choose why the case is closing."
    response = close(client, world.couple, reason=CoupleStatus.PAUSED)
    assert field_error(response, "id_reason") == "Choose one of the reasons listed."
    world.couple.refresh_from_db()
    assert world.couple.status == CoupleStatus.ACTIVE


def test_a_close_form_read_before_another_save_is_refused(client):
    world = World.build()
    client = as_user(client, world.owner)
    stale = version_of(world.couple)
    close(client, world.couple)
    Couple.objects.filter(pk=world.couple.pk).update(status=CoupleStatus.ACTIVE, closed_on=None)
    response = client.post(
        reverse("cycles:close", args=[world.couple.case_code]),
        {"reason": CoupleStatus.DROPPED_OUT, "closed_on": TODAY().isoformat()} | stale,
    )
    assert response.status_code == 200
    assert "Someone saved this record after you opened it" in response.text
    assert CaseEvent.objects.count() == 1


def test_only_the_couples_therapist_closes_or_reopens_it(client):
    world = World.build()
    for person in (world.supervisor, world.colleague, world.practice_admin, world.outsider):
        assert close(as_user(client, person), world.couple).status_code == 404
    world.couple.refresh_from_db()
    assert world.couple.status == CoupleStatus.ACTIVE


def test_reopening_needs_a_reason_and_brings_the_case_back(client):
    world = World.build()
    client = as_user(client, world.owner)
    close(client, world.couple, reason=CoupleStatus.DROPPED_OUT)
    world.couple.refresh_from_db()
    url = reverse("cycles:reopen", args=[world.couple.case_code])

    refused = client.post(url, {"why": " "} | version_of(world.couple))
    assert field_error(refused, "id_why") == "Say why the case is reopening."
    world.couple.refresh_from_db()
    assert world.couple.status == CoupleStatus.DROPPED_OUT

    done = client.post(url, {"why": "They asked to resume."} | version_of(world.couple))

    assert done.status_code == 302
    world.couple.refresh_from_db()
    assert (world.couple.status, world.couple.closed_on) == (CoupleStatus.ACTIVE, None)
    assert world.couple.case_code in caseload_codes(client)
    reopened = CaseEvent.objects.get(kind=CaseEventKind.REOPENED)
    assert (reopened.note, reopened.by) == ("They asked to resume.", world.owner)
    assert AccessEvent.objects.filter(action="reopen case", user=world.owner).count() == 1
    # Both steps are on the case's history, shown on the close form.
    history = client.get(reverse("cycles:close", args=[world.couple.case_code])).text
    assert "Reopened" in history
    assert "They asked to resume." in history


def test_a_closed_case_gets_no_new_flags_and_its_open_flags_close(client):
    world = World.build()
    closing = make_couple(world.owner)
    staying = make_couple(world.owner)
    for couple in (closing, staying):
        high_contribution_rupture(couple)
    yesterday = TODAY() - datetime.timedelta(days=1)
    runs.run_now(world.practice, yesterday)
    contribution = FlagKind.HIGH_THERAPIST_CONTRIBUTION
    assert Flag.objects.open().filter(couple=closing, kind=contribution).exists()

    close(as_user(client, world.owner), closing)

    assert not Flag.objects.open().filter(couple=closing).exists()
    runs.run_now(world.practice, TODAY())
    assert not Flag.objects.open().filter(couple=closing).exists()
    assert Flag.objects.open().filter(couple=staying, kind=contribution).exists()


def test_the_nightly_run_closes_the_flags_of_a_case_closed_some_other_way():
    world = World.build()
    high_contribution_rupture(world.couple)
    runs.run_now(world.practice, TODAY() - datetime.timedelta(days=1))
    assert Flag.objects.open().filter(couple=world.couple).exists()
    Couple.objects.filter(pk=world.couple.pk).update(status=CoupleStatus.COMPLETED)

    runs.run_now(world.practice, TODAY())

    assert not Flag.objects.open().filter(couple=world.couple).exists()


def test_a_closed_case_leaves_the_groups_count_of_active_cases(client):
    world = World.build()
    group = ConsultationGroup.objects.create(practice=world.practice, name="Friday group")
    GroupMembership.objects.create(group=group, user=world.owner)
    couples = [make_couple(world.owner) for _ in range(6)]
    for couple in couples:
        CaseShare.objects.create(couple=couple, group=group, shared_by=world.owner)
    assert dashboard(group).cases == "6"

    close(as_user(client, world.owner), couples[0])

    assert dashboard(group).cases == "5"
    page = client.get(reverse("consultation:group", args=[group.pk]))
    assert "(5 cases)" in page.text
    assert "Active cases only: a closed case is not counted." in page.text


def test_the_edit_form_offers_no_closing_status(client):
    world = World.build()
    client = as_user(client, world.owner)
    form = client.get(reverse("cycles:edit", args=[world.couple.case_code])).context["form"]
    assert [value for value, _ in form.fields["status"].choices] == ["active", "paused"]
