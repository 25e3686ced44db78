"""Who reaches a consultation group and its shared cases: its current members, no one else.

The owner shares their couple into the group (owner and group member are members). A
colleague outside the group, a member who left after the case was shared, a therapist of
another practice in their own practice's group, the practice admin (also after adding
themselves to the group), the owner's supervisor and anonymous visitors reach neither the
group, nor the shared case, nor its PDF. Members see the case only de-identified: the couple's
record URLs stay 404 for them. A withdrawn share is gone at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.db import transaction
from django.shortcuts import resolve_url
from django.urls import reverse

from cycles.models import CaseShare
from people.models import ConsultationGroup, GroupMembership
from tests.factories import World, make_couple, make_user

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.test import Client

    from people.models import User

pytestmark = pytest.mark.django_db


@dataclass
class Scene:
    world: World
    share: CaseShare
    former_member: User
    elsewhere_group: ConsultationGroup  # the outsider's own practice's group
    second_group: ConsultationGroup  # group_member is in it too; nothing is shared there

    def person(self, role: str) -> User:
        if role == "former_member":
            return self.former_member
        return getattr(self.world, role)

    def urls(self) -> dict[str, str]:
        group, code = self.world.group.pk, self.share.code
        return {
            "group": reverse("consultation:group", args=[group]),
            "case": reverse("consultation:case", args=[group, code]),
            "pdf": reverse("consultation:case_pdf", args=[group, code]),
        }


@pytest.fixture(scope="module")
def scene(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        former = make_user(world.practice, "Former Member", therapist=True)
        GroupMembership.objects.create(group=world.group, user=former)
        share = CaseShare.objects.create(
            couple=world.couple, group=world.group, shared_by=world.owner
        )
        GroupMembership.objects.filter(group=world.group, user=former).delete()

        outsider_practice = world.outsider.practice
        assert outsider_practice is not None
        elsewhere = ConsultationGroup.objects.create(
            practice=outsider_practice, name=world.group.name
        )
        GroupMembership.objects.create(group=elsewhere, user=world.outsider)
        CaseShare.objects.create(
            couple=make_couple(world.outsider), group=elsewhere, shared_by=world.outsider
        )
        second = ConsultationGroup.objects.create(practice=world.practice, name="Second group")
        for member in (world.owner, world.group_member):
            GroupMembership.objects.create(group=second, user=member)
        yield Scene(
            world=world,
            share=share,
            former_member=former,
            elsewhere_group=elsewhere,
            second_group=second,
        )
        transaction.set_rollback(True)


MEMBERS = ["owner", "group_member"]
NOT_MEMBERS = [
    "colleague",
    "former_member",
    "outsider",
    "practice_admin",
    "supervisor",
    "other_supervisor",
]
PAGES = ["group", "case", "pdf"]


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", MEMBERS)
def test_members_reach_the_group_the_case_and_its_pdf(
    client: Client, scene: Scene, role: str, page: str
) -> None:
    client.force_login(scene.person(role))
    assert client.get(scene.urls()[page]).status_code == 200


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("role", NOT_MEMBERS)
def test_anyone_not_a_member_now_gets_404(
    client: Client, scene: Scene, role: str, page: str
) -> None:
    client.force_login(scene.person(role))
    assert client.get(scene.urls()[page]).status_code == 404


@pytest.mark.parametrize("page", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(client: Client, scene: Scene, page: str) -> None:
    url = scene.urls()[page]
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].split("?")[0] == resolve_url(settings.LOGIN_URL)
    assert scene.share.code not in response.content.decode()


def test_a_practice_admin_who_added_themselves_to_the_group_still_gets_404(
    client: Client, scene: Scene
) -> None:
    """Admins manage group memberships (people.admin.MembershipInline) but read no clinical
    content (docs/domain.md#who-sees-what), de-identified or not."""
    admin = scene.world.practice_admin
    GroupMembership.objects.create(group=scene.world.group, user=admin)
    client.force_login(admin)
    statuses = {page: client.get(url).status_code for page, url in scene.urls().items()}
    assert statuses == {"group": 404, "case": 404, "pdf": 404}


def test_the_group_list_shows_only_the_groups_one_is_in(client: Client, scene: Scene) -> None:
    client.force_login(scene.world.colleague)
    response = client.get(reverse("consultation:groups"))
    assert response.status_code == 200
    assert reverse("consultation:group", args=[scene.world.group.pk]) not in response.text

    client.force_login(scene.world.outsider)
    text = client.get(reverse("consultation:groups")).text
    assert reverse("consultation:group", args=[scene.elsewhere_group.pk]) in text
    assert reverse("consultation:group", args=[scene.world.group.pk]) not in text


def test_another_practices_group_stays_404_to_members_here(client: Client, scene: Scene) -> None:
    client.force_login(scene.world.group_member)
    elsewhere = scene.elsewhere_group
    code = elsewhere.shares.get().code
    assert client.get(reverse("consultation:group", args=[elsewhere.pk])).status_code == 404
    assert client.get(reverse("consultation:case", args=[elsewhere.pk, code])).status_code == 404


def test_a_therapist_of_another_practice_put_in_this_group_gets_404(
    client: Client, scene: Scene
) -> None:
    GroupMembership.objects.create(group=scene.world.group, user=scene.world.outsider)
    client.force_login(scene.world.outsider)
    for url in scene.urls().values():
        assert client.get(url).status_code == 404


def test_a_case_is_reached_only_through_the_group_it_was_shared_into(
    client: Client, scene: Scene
) -> None:
    client.force_login(scene.world.group_member)
    second, code = scene.second_group.pk, scene.share.code
    assert client.get(reverse("consultation:case", args=[second, code])).status_code == 404
    assert client.get(reverse("consultation:case_pdf", args=[second, code])).status_code == 404
    assert code not in client.get(reverse("consultation:group", args=[second])).text


def test_a_withdrawn_share_is_gone_at_once(client: Client, scene: Scene) -> None:
    urls = scene.urls()
    client.force_login(scene.world.group_member)
    assert scene.share.code in client.get(urls["group"]).text

    client.force_login(scene.world.owner)
    withdraw = reverse("cycles:withdraw_share", args=[scene.world.couple.case_code, scene.share.pk])
    assert client.post(withdraw).status_code == 302

    client.force_login(scene.world.group_member)
    assert client.get(urls["case"]).status_code == 404
    assert client.get(urls["pdf"]).status_code == 404
    dashboard = client.get(urls["group"])
    assert dashboard.status_code == 200
    assert scene.share.code not in dashboard.text
    assert "No cases shared into this group." in dashboard.text


def test_record_urls_of_a_shared_couple_stay_404_to_group_members(
    client: Client, scene: Scene
) -> None:
    world = scene.world
    code = world.couple.case_code
    client.force_login(world.group_member)
    for url in [
        reverse("cycles:detail", args=[code]),
        reverse("cycles:pdf", args=[code]),
        reverse("cycles:cycle_history", args=[code]),
        reverse("therapy_sessions:detail", args=[world.session.pk]),
        reverse("therapy_sessions:measures", args=[world.session.pk]),
        reverse("ruptures:edit", args=[world.rupture.pk]),
    ]:
        assert client.get(url).status_code == 404, url


def test_a_supervisor_of_someone_else_sees_none_of_their_couples(
    client: Client, scene: Scene
) -> None:
    world = scene.world
    code = world.couple.case_code
    client.force_login(world.other_supervisor)
    caseload = client.get(reverse("cycles:caseload"))
    assert caseload.status_code == 200
    assert code not in caseload.text
    for url in [
        reverse("cycles:detail", args=[code]),
        reverse("cycles:pdf", args=[code]),
        reverse("therapy_sessions:detail", args=[world.session.pk]),
    ]:
        assert client.get(url).status_code == 404, url
