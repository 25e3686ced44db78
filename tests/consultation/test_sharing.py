"""Sharing a couple into a consultation group, and withdrawing it: only its own therapist, only
into a group they are in, once per group; the couple page says where it is shared; shares,
reads of shared cases and PDF exports are in the access trail, without clinical text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.db import transaction
from django.shortcuts import resolve_url
from django.urls import reverse

from cycles.models import CaseShare
from people.models import AccessEvent, ConsultationGroup, GroupMembership
from tests.factories import World, make_couple

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.test import Client
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

    from people.models import User

pytestmark = pytest.mark.django_db

NOT_THE_THERAPIST = [
    "colleague",
    "supervisor",
    "other_supervisor",
    "group_member",
    "practice_admin",
    "outsider",
]
REFUSED = "Choose one of your consultation groups to share into."


@dataclass
class Scene:
    world: World
    not_joined: ConsultationGroup  # of the owner's practice; the owner isn't a member
    elsewhere: ConsultationGroup  # of the outsider's practice

    @property
    def owner(self) -> User:
        return self.world.owner

    @property
    def share_url(self) -> str:
        return reverse("cycles:share", args=[self.world.couple.case_code])

    def clinical_text(self) -> list[str]:
        """What the couple's record says that no access event may repeat."""
        couple = self.world.couple
        names = list(couple.partners.values_list("display_name", flat=True))
        return [*names, "Private process note.", "My private reflection.", "partner goes quiet"]


@pytest.fixture(scope="module")
def scene(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        not_joined = ConsultationGroup.objects.create(practice=world.practice, name="Not joined")
        GroupMembership.objects.create(group=not_joined, user=world.colleague)
        outsider_practice = world.outsider.practice
        assert outsider_practice is not None
        elsewhere = ConsultationGroup.objects.create(
            practice=outsider_practice, name="Elsewhere group"
        )
        GroupMembership.objects.create(group=elsewhere, user=world.outsider)
        yield Scene(world=world, not_joined=not_joined, elsewhere=elsewhere)
        transaction.set_rollback(True)


def shares() -> list[tuple[int, int, bool]]:
    """Every share as (couple, group, active)."""
    rows = CaseShare.objects.order_by("pk").values_list("couple_id", "group_id", "withdrawn_at")
    return [(couple, group, withdrawn is None) for couple, group, withdrawn in rows]


def told(response: Response) -> str:
    """What the request told the user last (shown on the page it redirected to)."""
    return [str(m) for m in get_messages(response.wsgi_request)][-1]


def share(client: Client, scene: Scene, group: Any) -> Response:
    """Post the couple page's share form; every outcome goes back to the couple page."""
    response = client.post(scene.share_url, {"group": str(group)})
    assert (response.status_code, response["Location"]) == (
        302,
        scene.world.couple.get_absolute_url(),
    )
    return response


def test_the_therapist_shares_their_couple_into_their_group(client: Client, scene: Scene) -> None:
    world = scene.world
    client.force_login(scene.owner)
    response = share(client, scene, world.group.pk)
    created = CaseShare.objects.get()
    assert (created.couple, created.group, created.shared_by) == (
        world.couple,
        world.group,
        scene.owner,
    )
    assert created.withdrawn_at is None
    assert created.code.startswith("S-")
    assert created.code != world.couple.case_code
    assert told(response) == f"Shared into {world.group.name}, de-identified as {created.code}."


def test_the_couple_page_shows_where_it_is_shared(client: Client, scene: Scene) -> None:
    world = scene.world
    client.force_login(scene.owner)
    before = client.get(world.couple.get_absolute_url()).text
    assert "Not shared with any group." in before
    assert f'<option value="{world.group.pk}">{world.group.name}</option>' in before

    share(client, scene, world.group.pk)
    page = client.get(world.couple.get_absolute_url()).text
    created = CaseShare.objects.get()
    assert f"Shared into <strong>{world.group.name}</strong> as {created.code}" in page
    withdraw = reverse("cycles:withdraw_share", args=[world.couple.case_code, created.pk])
    assert f'action="{withdraw}"' in page
    assert f'<option value="{world.group.pk}">' not in page  # offered no more


def test_sharing_twice_into_one_group_keeps_one_share(client: Client, scene: Scene) -> None:
    world = scene.world
    client.force_login(scene.owner)
    share(client, scene, world.group.pk)
    response = share(client, scene, world.group.pk)
    assert shares() == [(world.couple.pk, world.group.pk, True)]
    assert told(response) == f"Already shared into {world.group.name}."


def test_a_withdrawn_case_can_be_shared_again_under_a_new_code(
    client: Client, scene: Scene
) -> None:
    world = scene.world
    client.force_login(scene.owner)
    share(client, scene, world.group.pk)
    first = CaseShare.objects.get()
    client.post(reverse("cycles:withdraw_share", args=[world.couple.case_code, first.pk]))
    share(client, scene, world.group.pk)
    again = CaseShare.objects.active().get()
    assert again.pk != first.pk
    assert again.code != first.code
    assert shares() == [
        (world.couple.pk, world.group.pk, False),
        (world.couple.pk, world.group.pk, True),
    ]


@pytest.mark.parametrize("group", ["not_joined", "elsewhere"])
def test_sharing_into_a_group_the_therapist_is_not_in_is_refused(
    client: Client, scene: Scene, group: str
) -> None:
    client.force_login(scene.owner)
    response = share(client, scene, getattr(scene, group).pk)
    assert told(response) == REFUSED
    assert shares() == []


# "\u00b2" (superscript two) passes str.isdigit() but not int().
@pytest.mark.parametrize(
    "value",
    ["", "0", "99999", "abc", "-1", "1.5", "\u00b2"],
    ids=["empty", "zero", "unknown", "letters", "negative", "decimal", "superscript-two"],
)
def test_a_missing_or_malformed_group_is_refused(client: Client, scene: Scene, value: str) -> None:
    client.force_login(scene.owner)
    response = share(client, scene, value)
    assert told(response) == REFUSED
    assert shares() == []


@pytest.mark.parametrize("role", NOT_THE_THERAPIST)
def test_only_the_couples_own_therapist_can_share_it(
    client: Client, scene: Scene, role: str
) -> None:
    person = getattr(scene.world, role)
    client.force_login(person)
    response = client.post(scene.share_url, {"group": scene.world.group.pk})
    assert response.status_code == 404
    assert shares() == []
    assert not AccessEvent.objects.filter(action="share case").exists()


@pytest.mark.parametrize("role", NOT_THE_THERAPIST)
def test_only_the_couples_own_therapist_can_withdraw_a_share(
    client: Client, scene: Scene, role: str
) -> None:
    world = scene.world
    existing = CaseShare.objects.create(
        couple=world.couple, group=world.group, shared_by=world.owner
    )
    client.force_login(getattr(world, role))
    url = reverse("cycles:withdraw_share", args=[world.couple.case_code, existing.pk])
    assert client.post(url).status_code == 404
    existing.refresh_from_db()
    assert existing.withdrawn_at is None


def test_anonymous_visitors_can_neither_share_nor_withdraw(client: Client, scene: Scene) -> None:
    world = scene.world
    existing = CaseShare.objects.create(
        couple=world.couple, group=world.group, shared_by=world.owner
    )
    withdraw = reverse("cycles:withdraw_share", args=[world.couple.case_code, existing.pk])
    for url in (scene.share_url, withdraw):
        response = client.post(url, {"group": world.group.pk})
        assert response.status_code == 302
        assert response["Location"].split("?")[0] == resolve_url(settings.LOGIN_URL)
    assert shares() == [(world.couple.pk, world.group.pk, True)]


def test_sharing_and_withdrawing_take_post_only(client: Client, scene: Scene) -> None:
    world = scene.world
    existing = CaseShare.objects.create(
        couple=world.couple, group=world.group, shared_by=world.owner
    )
    client.force_login(scene.owner)
    withdraw = reverse("cycles:withdraw_share", args=[world.couple.case_code, existing.pk])
    assert client.get(scene.share_url, {"group": world.group.pk}).status_code == 405
    assert client.get(withdraw).status_code == 405
    assert shares() == [(world.couple.pk, world.group.pk, True)]


def test_a_share_of_another_couple_cannot_be_withdrawn_through_this_one(
    client: Client, scene: Scene
) -> None:
    """The share is looked up among the couple's own shares, not by its id alone."""
    world = scene.world
    other = make_couple(world.colleague)
    GroupMembership.objects.create(group=world.group, user=world.colleague)
    theirs = CaseShare.objects.create(couple=other, group=world.group, shared_by=world.colleague)
    client.force_login(scene.owner)
    url = reverse("cycles:withdraw_share", args=[world.couple.case_code, theirs.pk])
    assert client.post(url).status_code == 404
    theirs.refresh_from_db()
    assert theirs.withdrawn_at is None


def events() -> list[tuple[Any, ...]]:
    """The trail but its sign-ins (force_login records one each time)."""
    return list(
        AccessEvent.objects.exclude(action__startswith="sign")
        .order_by("pk")
        .values_list("user_id", "practice_id", "action", "object_type", "case_code")
    )


def test_shares_reads_exports_and_withdrawals_are_recorded_without_clinical_text(
    client: Client, scene: Scene
) -> None:
    world = scene.world
    couple, group, member = world.couple, world.group, world.group_member
    client.force_login(scene.owner)
    client.post(scene.share_url, {"group": group.pk})
    created = CaseShare.objects.get()

    client.force_login(member)
    client.get(reverse("consultation:group", args=[group.pk]))
    client.get(reverse("consultation:case", args=[group.pk, created.code]))
    client.get(reverse("consultation:case_pdf", args=[group.pk, created.code]))
    client.force_login(scene.owner)
    client.post(reverse("cycles:withdraw_share", args=[couple.case_code, created.pk]))

    practice = world.practice.pk
    assert events() == [
        (scene.owner.pk, practice, "share case", "couple", couple.case_code),
        (member.pk, practice, "read group dashboard", "consultationgroup", ""),
        (member.pk, practice, "read shared case", "", created.code),
        (member.pk, practice, "export shared case pdf", "", created.code),
        (scene.owner.pk, practice, "withdraw share", "couple", couple.case_code),
    ]
    member_events = AccessEvent.objects.filter(user=member)
    assert not member_events.filter(case_code=couple.case_code).exists()
    recorded = " ".join(
        " ".join(str(v) for v in row)
        for row in AccessEvent.objects.values_list("action", "object_type", "object_id", "detail")
    )
    assert [text for text in scene.clinical_text() if text in recorded] == []
    assert created.code in recorded
