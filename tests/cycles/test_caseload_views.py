"""The caseload and the couple page show a couple to its therapist and their supervisor only."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.db import transaction
from django.urls import reverse

from cycles.models import Couple, CoupleStatus, CyclePosition
from cycles.services import PartnerDetails
from cycles.views import CASELOAD_PAGE_SIZE
from people.models import Supervision
from tests.factories import World, make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from collections.abc import Iterator

    from people.models import User

pytestmark = pytest.mark.django_db

READERS = ["owner", "supervisor"]
NON_READERS = [
    "colleague",
    "other_supervisor",
    "group_member",
    "practice_admin",
    "outsider",
    "superuser",
]

# Session, user, the paginator's count, the access event written (one for the page), the page:
# every row's partners, last session and open ruptures come in the page query as subqueries
# (CoupleQuerySet.for_caseload).
CASELOAD_QUERIES = 5


@dataclass
class Scene:
    world: World
    superuser: User
    quill: Couple  # another active couple of the owner, with known partner names
    paused: Couple  # a paused couple of the owner
    colleagues: Couple  # the colleague's couple, partner named like the owner's

    def person(self, role: str) -> User:
        return self.superuser if role == "superuser" else getattr(self.world, role)


@pytest.fixture(scope="module")
def scene(django_db_setup, django_db_blocker) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        quill = make_couple(
            world.owner,
            partner_a=PartnerDetails("Morgan Quill", CyclePosition.PURSUER),
            partner_b=PartnerDetails("Sasha Quill", CyclePosition.WITHDRAWER),
        )
        paused = make_couple(
            world.owner, partner_a=PartnerDetails("Rowan Paused", CyclePosition.PURSUER)
        )
        Couple.objects.filter(pk=paused.pk).update(status=CoupleStatus.PAUSED)
        colleagues = make_couple(
            world.colleague, partner_a=PartnerDetails("Jordan Quill", CyclePosition.PURSUER)
        )
        yield Scene(
            world=world,
            superuser=make_user(None, "Root", is_superuser=True, is_staff=True),
            quill=quill,
            paused=paused,
            colleagues=colleagues,
        )
        transaction.set_rollback(True)


def listed(response) -> set[str]:
    """Case codes on the caseload page shown."""
    return {couple.case_code for couple in response.context["page"].object_list}


def caseload(client, user: User, **params: str):
    client.force_login(user)
    # The search words are posted, never put in a URL (cycles.views.caseload).
    send = client.post if "q" in params else client.get
    response = send(reverse("cycles:caseload"), params)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("role", READERS)
def test_the_caseload_lists_the_owners_couple_for_owner_and_supervisor(client, scene, role):
    response = caseload(client, scene.person(role))
    couple = scene.world.couple
    assert couple.case_code in listed(response)
    assert couple.case_code in response.text
    assert couple.partners.get(label="A").display_name in response.text


@pytest.mark.parametrize("role", NON_READERS)
def test_the_caseload_of_anyone_else_lacks_the_owners_couple(client, scene, role):
    response = caseload(client, scene.person(role), status="all")
    owners = {scene.world.couple.case_code, scene.quill.case_code, scene.paused.case_code}
    assert not owners & listed(response)
    assert scene.world.couple.case_code not in response.text
    assert "Morgan Quill" not in response.text


def test_the_supervisor_does_not_see_couples_of_therapists_they_do_not_supervise(client, scene):
    response = caseload(client, scene.world.supervisor, status="all")
    assert scene.colleagues.case_code not in listed(response)
    assert scene.colleagues.case_code in listed(caseload(client, scene.world.other_supervisor))


@pytest.mark.parametrize("role", READERS)
def test_the_couple_page_opens_for_owner_and_supervisor(client, scene, role):
    client.force_login(scene.person(role))
    response = client.get(reverse("cycles:detail", args=[scene.quill.case_code]))
    assert response.status_code == 200
    assert "Morgan Quill" in response.text


@pytest.mark.parametrize("role", NON_READERS)
def test_other_people_get_404_for_the_couple_page(client, scene, role):
    client.force_login(scene.person(role))
    response = client.get(reverse("cycles:detail", args=[scene.quill.case_code]))
    assert response.status_code == 404
    assert "Morgan Quill" not in response.text


def test_an_unknown_case_code_is_404(client, scene):
    client.force_login(scene.world.owner)
    assert client.get(reverse("cycles:detail", args=["C-NOSUCH"])).status_code == 404


@pytest.mark.parametrize(
    "url",
    [
        pytest.param(lambda scene: reverse("cycles:caseload"), id="caseload"),
        pytest.param(
            lambda scene: reverse("cycles:detail", args=[scene.quill.case_code]), id="couple"
        ),
    ],
)
def test_anonymous_visitors_are_sent_to_sign_in(client, scene, url):
    path = url(scene)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('account_login')}?next={path}"


@pytest.mark.parametrize("text", ["Morgan Quill", "quill", "SASHA"])
def test_the_caseload_finds_couples_by_partner_name(client, scene, text):
    assert listed(caseload(client, scene.world.owner, q=text)) == {scene.quill.case_code}


@pytest.mark.parametrize("part", [slice(None), slice(2, 7)], ids=["whole", "part"])
def test_the_caseload_finds_couples_by_case_code(client, scene, part):
    code = scene.quill.case_code[part].lower()
    assert listed(caseload(client, scene.world.owner, q=code)) == {scene.quill.case_code}


def test_the_search_never_finds_another_therapists_couple(client, scene):
    # "Jordan Quill" is a partner of the colleague's couple.
    assert listed(caseload(client, scene.world.owner, q="Jordan")) == set()
    assert listed(caseload(client, scene.world.owner, q=scene.colleagues.case_code)) == set()


def test_a_search_matching_nothing_says_so(client, scene):
    response = caseload(client, scene.world.owner, q="Nobody Called This")
    assert listed(response) == set()
    assert "No couples match." in response.text


def test_the_caseload_shows_active_couples_by_default(client, scene):
    response = caseload(client, scene.world.owner)
    assert listed(response) == {scene.world.couple.case_code, scene.quill.case_code}


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("paused", {"paused"}),
        ("active", {"couple", "quill"}),
        ("all", {"couple", "quill", "paused"}),
        ("completed", set()),
        ("no-such-status", {"couple", "quill"}),
    ],
)
def test_the_caseload_filters_by_status(client, scene, status, expected):
    codes = {
        "couple": scene.world.couple.case_code,
        "quill": scene.quill.case_code,
        "paused": scene.paused.case_code,
    }
    response = caseload(client, scene.world.owner, status=status)
    assert listed(response) == {codes[key] for key in expected}


def test_search_and_status_filter_combine(client, scene):
    assert listed(caseload(client, scene.world.owner, q="Rowan")) == set()
    response = caseload(client, scene.world.owner, q="Rowan", status="paused")
    assert listed(response) == {scene.paused.case_code}


def test_an_htmx_request_gets_the_table_alone(client, scene):
    client.force_login(scene.world.owner)
    response = client.post(
        reverse("cycles:caseload"), {"q": "quill"}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="caseload-table">')
    assert scene.quill.case_code in response.text


@pytest.mark.parametrize("params", [{}, {"q": "avery", "status": "all"}], ids=["plain", "search"])
@pytest.mark.parametrize("role", ["therapist", "supervisor"])
@pytest.mark.parametrize("n_couples", [1, CASELOAD_PAGE_SIZE + 5])
def test_the_caseload_takes_the_same_queries_for_1_or_30_couples(
    client, django_assert_num_queries, n_couples, role, params
):
    practice = make_practice()
    therapist = make_user(practice, "Busy Therapist", therapist=True)
    supervisor = make_user(practice, "Their Supervisor", supervisor=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    for n in range(n_couples):
        couple = make_couple(therapist, partner_a=PartnerDetails(f"Avery {n}"))
        make_rupture(make_session(couple))
    client.force_login(therapist if role == "therapist" else supervisor)
    # A search is posted: a POST also tells the database who is acting, before and after.
    searching = "q" in params
    with django_assert_num_queries(CASELOAD_QUERIES + (2 if searching else 0)):
        send = client.post if searching else client.get
        response = send(reverse("cycles:caseload"), params)
    assert len(listed(response)) == min(n_couples, CASELOAD_PAGE_SIZE)
    row = response.context["page"].object_list[0]
    assert row.open_rupture_count == 1
    assert row.last_session_at is not None
