"""Co-therapy through the access matrix (issue #20, docs/domain.md#co-therapy): a therapist
made co-therapist of a couple gets, on every URL of the couple's record, what its own therapist
gets; their supervisor reads it as the lead therapist's supervisor does; when the co-therapy
ends, both are back to what the matrix gives a colleague and their supervisor. Private notes
stay their author's throughout."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction
from django.urls import reverse

from cycles.models import CaseEvent, CaseEventKind
from cycles.services import co_therapist_set
from sessions.models import NoteKind, PrivateNote
from tests.security import Scene, build_scene
from tests.security.test_access_matrix import ROUTES, couple, request, rupture, session

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.django_db

# The URLs of one couple's record: every route whose arguments are the scene's couple, one
# of its sessions or one of its ruptures.
RECORD_ROUTES = sorted(
    name for name, route in ROUTES.items() if route.kwargs in (couple, session, rupture)
)
# Who treats or supervises a case is set by the admin or the supervisor, never by a therapist
# of the case: the co-therapist gets these as a colleague does.
SET_FROM_ABOVE = {"cycles:transfer", "cycles:co_therapist"}
PRIVATE_NOTE = "Co-therapy canary: my own countertransference."


def _join(scene: Scene) -> None:
    world = scene.world
    couple_row = world.couple
    co_therapist_set(
        couple=couple_row,
        co_therapist=world.colleague,
        by=world.practice_admin,
        note="Co-therapy for the intensive.",
        read_version=couple_row.version,
    )


@pytest.fixture(scope="module")
def joined(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        scene = build_scene()
        PrivateNote.objects.create(
            session=scene.later,
            author=scene.world.owner,
            kind=NoteKind.PSYCHOTHERAPY_NOTE,
            text=PRIVATE_NOTE,
        )
        _join(scene)
        yield scene
        transaction.set_rollback(True)


@pytest.mark.parametrize("name", RECORD_ROUTES)
def test_the_co_therapist_gets_what_the_therapist_gets(joined: Scene, name: str) -> None:
    for method in ("get", "post"):
        lead = request(joined, "owner", method, name)
        co = request(joined, "colleague", method, name)
        if name in SET_FROM_ABOVE:
            assert co == ROUTES[name].get["colleague"], (method, co)
        else:
            assert co == lead, f"{method.upper()} {name}: co-therapist {co}, therapist {lead}"


@pytest.mark.parametrize("name", RECORD_ROUTES)
def test_the_co_therapists_supervisor_reads_the_case(joined: Scene, name: str) -> None:
    lead = request(joined, "supervisor", "get", name)
    theirs = request(joined, "other_supervisor", "get", name)
    assert theirs == lead, f"GET {name}: co-therapist's supervisor {theirs}, supervisor {lead}"


def test_the_co_therapist_never_reads_the_therapists_private_note(joined: Scene) -> None:
    url = reverse("therapy_sessions:detail", args=[joined.later.pk])
    page = joined.client("colleague").get(url)
    assert page.status_code == 200
    assert PRIVATE_NOTE not in page.content.decode()
    assert PRIVATE_NOTE in joined.client("owner").get(url).content.decode()


def test_when_co_therapy_ends_the_matrix_is_as_before(joined: Scene) -> None:
    world = joined.world
    with transaction.atomic():
        world.couple.refresh_from_db()
        co_therapist_set(
            couple=world.couple,
            co_therapist=None,
            by=world.supervisor,
            note="The intensive ended.",
            read_version=world.couple.version,
        )
        for name in RECORD_ROUTES:
            route = ROUTES[name]
            for role in ("colleague", "other_supervisor"):
                assert request(joined, role, "get", name) == route.get[role], (name, role)
        kinds = list(CaseEvent.objects.filter(couple=world.couple).values_list("kind", flat=True))
        assert kinds == [CaseEventKind.CO_THERAPIST_JOINED, CaseEventKind.CO_THERAPIST_LEFT]
        transaction.set_rollback(True)
