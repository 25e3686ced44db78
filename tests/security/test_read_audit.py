"""Every page that shows a clinical record records its read (docs/domain.md#who-sees-what,
people.audit).

Each page writes one event per request, or one per record shown where it shows two (a session
and its private note, as the session page does); list pages write one event for the page,
never one per row, with counts in `detail`. Forms record their read on GET only: a POST
changes the record, and the database's triggers audit the change (people.ChangeEvent). No
clinical text reaches the trail, though the pages tested here show some.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction
from django.urls import reverse

from cycles.models import Couple, CycleStep, EmotionTerm, StepKind
from cycles.services import PartnerDetails, StepDraft, cycle_map_save
from people.models import AccessEvent, User
from sessions.models import PrivateNote, TherapySession
from tests.factories import World, make_couple, make_session

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.db.models import Model
    from django.test import Client

pytestmark = pytest.mark.django_db

CANARY = "CANARY-7f3e-read"


@dataclass
class Scene:
    world: World
    session: TherapySession  # the owner's, with a private note and a progress note
    bare: TherapySession  # the owner's, with no private note
    note: PrivateNote
    step: CycleStep  # of the latest map (revision 2)

    @property
    def couple(self) -> Couple:
        return self.world.couple

    @property
    def code(self) -> str:
        return self.world.couple.case_code


@pytest.fixture(scope="module")
def scene(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    """World's couple, its partner A renamed and a session, a private note and a second map
    revision written with clinical text that must never reach the trail."""
    with django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        User.objects.filter(pk=world.owner.pk).update(is_staff=True)
        world.owner.refresh_from_db()
        world.couple.partners.filter(label="A").update(display_name=f"Avery {CANARY}")
        session = make_session(
            world.couple,
            days_ago=3,
            private_note=f"note {CANARY}",
            progress_note=f"progress {CANARY}",
        )
        latest = cycle_map_save(
            couple=world.couple,
            author=world.owner,
            base_revision=1,
            chains={
                "A": [
                    StepDraft(StepKind.TRIGGER, f"trigger {CANARY}"),
                    StepDraft(StepKind.ACTION, "pushes", move="pursuing"),
                ],
                "B": [],
            },
        )
        assert latest.revision == 2
        yield Scene(
            world=world,
            session=session,
            bare=make_session(world.couple, days_ago=2),
            note=PrivateNote.objects.get(session=session),
            step=latest.steps.get(kind=StepKind.TRIGGER),
        )
        transaction.set_rollback(True)


def trail_mark() -> int:
    return AccessEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def trail_since(mark: int) -> list[AccessEvent]:
    """The events written after `mark`, sign-ins aside (force_login records one)."""
    made = AccessEvent.objects.filter(pk__gt=mark).exclude(action__startswith="sign")
    return list(made.order_by("pk"))


def reads_of(
    client: Client, url: str, params: dict[str, str] | None = None, *, shows_text: bool = True
) -> list[AccessEvent]:
    """The events one GET writes. `shows_text`: the page must show the scene's clinical text,
    or a clean `detail` would prove nothing."""
    mark = trail_mark()
    response = client.get(url, params or {})
    assert response.status_code == 200
    assert (CANARY in response.text) is shows_text
    return trail_since(mark)


def shape(event: AccessEvent) -> tuple[str, str, str, str]:
    return event.action, event.object_type, event.object_id, event.case_code


def about(obj: Model) -> tuple[str, str]:
    return obj._meta.model_name or "", str(obj.pk)


def assert_clean_and_by(events: list[AccessEvent], user: User) -> None:
    """Written for `user` in their practice, and holding no clinical text."""
    assert {(e.user_id, e.practice_id) for e in events} == {(user.pk, user.practice_id)}
    for event in events:
        recorded = " ".join([event.action, event.object_type, event.object_id, event.detail])
        assert CANARY not in recorded
        assert "Avery" not in recorded


# --- the owner's forms: their GET is a read -----------------------------------------------------


def test_the_session_form_records_the_session_and_the_private_note_it_decrypts(client, scene):
    client.force_login(scene.world.owner)
    events = reads_of(client, reverse("therapy_sessions:edit", args=[scene.session.pk]))
    assert [shape(e) for e in events] == [
        ("read session", *about(scene.session), scene.code),
        ("read private note", *about(scene.note), scene.code),
    ]
    assert [e.detail for e in events] == ["edit form", "edit form"]
    assert_clean_and_by(events, scene.world.owner)


def test_the_form_of_a_session_without_a_note_records_the_session_alone(client, scene):
    client.force_login(scene.world.owner)
    url = reverse("therapy_sessions:edit", args=[scene.bare.pk])
    events = reads_of(client, url, shows_text=False)
    assert [shape(e) for e in events] == [("read session", *about(scene.bare), scene.code)]


def test_the_rupture_form_records_the_rupture_and_any_private_reflection(client, scene):
    from ruptures.models import Rupture
    from tests.factories import make_rupture

    client.force_login(scene.world.owner)
    plain = make_rupture(scene.bare, note=f"note {CANARY}")
    events = reads_of(client, reverse("ruptures:edit", args=[plain.pk]))
    assert [shape(e) for e in events] == [("read rupture", *about(plain), scene.code)]
    assert events[0].detail == "edit form"
    reflected = make_rupture(scene.session, reflection=f"reflection {CANARY}")
    events = reads_of(client, reverse("ruptures:edit", args=[reflected.pk]))
    note = PrivateNote.objects.get(rupture=reflected)
    assert [shape(e) for e in events] == [
        ("read rupture", *about(reflected), scene.code),
        ("read private note", *about(note), scene.code),
    ]
    assert_clean_and_by(events, scene.world.owner)
    assert Rupture.objects.filter(pk__in=[plain.pk, reflected.pk]).count() == 2


def test_the_measures_page_records_one_read_of_the_session(client, scene):
    client.force_login(scene.world.owner)
    url = reverse("therapy_sessions:measures", args=[scene.session.pk])
    events = reads_of(client, url)  # the partners' names head their questions
    assert [shape(e) for e in events] == [
        ("read session measures", *about(scene.session), scene.code)
    ]
    assert events[0].detail == ""
    assert_clean_and_by(events, scene.world.owner)


def test_the_couple_form_records_one_read_of_the_couple(client, scene):
    client.force_login(scene.world.owner)
    events = reads_of(client, reverse("cycles:edit", args=[scene.code]))
    assert [shape(e) for e in events] == [("read couple", *about(scene.couple), scene.code)]
    assert events[0].detail == "edit form"
    assert_clean_and_by(events, scene.world.owner)


def test_the_cycle_map_editor_records_one_read_of_the_latest_map(client, scene):
    client.force_login(scene.world.owner)
    events = reads_of(client, reverse("cycles:cycle_edit", args=[scene.code]))
    assert [shape(e) for e in events] == [("read cycle map", *about(scene.couple), scene.code)]
    assert events[0].detail == "revision=2"
    assert_clean_and_by(events, scene.world.owner)


@pytest.mark.parametrize("role", ["owner", "supervisor"])
def test_the_cycle_map_history_records_one_read_whatever_it_compares(client, scene, role):
    person = getattr(scene.world, role)
    client.force_login(person)
    events = reads_of(client, reverse("cycles:cycle_history", args=[scene.code]))
    assert [shape(e) for e in events] == [
        ("read cycle map history", *about(scene.couple), scene.code)
    ]
    assert events[0].detail == "revisions=2 compared=1-2"
    assert_clean_and_by(events, person)


# --- what records no read -----------------------------------------------------------------------


def test_posting_a_form_records_no_read(client, scene):
    """A redrawn form shows what was just posted; a saved one is audited as a change."""
    client.force_login(scene.world.owner)
    mark = trail_mark()
    assert client.post(reverse("cycles:edit", args=[scene.code]), {}).status_code == 200
    url = reverse("therapy_sessions:edit", args=[scene.session.pk])
    assert client.post(url, {}).status_code == 200
    assert trail_since(mark) == []


def test_a_page_refused_records_nothing(client, scene):
    client.force_login(scene.world.colleague)
    mark = trail_mark()
    assert client.get(reverse("therapy_sessions:edit", args=[scene.session.pk])).status_code == 404
    assert client.get(reverse("cycles:cycle_history", args=[scene.code])).status_code == 404
    assert client.get(reverse("supervision:review")).status_code == 404
    assert trail_since(mark) == []


# --- list pages: one event for the page, counts only --------------------------------------------


def test_the_caseload_records_one_read_for_the_page_and_not_the_search_words(client, scene):
    owner = scene.world.owner
    for _ in range(3):
        make_couple(owner, partner_a=PartnerDetails(f"Avery {CANARY} twin"))
    client.force_login(owner)
    # The search is posted (cycles.views.caseload): its words never reach a URL.
    mark = trail_mark()
    response = client.post(reverse("cycles:caseload"), {"q": f"Avery {CANARY}"})
    assert response.status_code == 200
    assert CANARY in response.text
    events = trail_since(mark)
    assert [shape(e) for e in events] == [("read caseload", "", "", "")]
    assert events[0].detail == "status=active couples=4 page=1"
    assert_clean_and_by(events, owner)


@pytest.mark.parametrize("narrowed", [False, True], ids=["all", "one-therapist"])
def test_the_review_records_one_read_for_the_page(client, scene, narrowed):
    world = scene.world
    client.force_login(world.supervisor)
    params = {"period": "all"} | ({"therapist": str(world.owner.pk)} if narrowed else {})
    events = reads_of(client, reverse("supervision:review"), params)
    assert [shape(e) for e in events] == [("read caseload review", "", "", "")]
    therapist = world.owner.pk if narrowed else "all"
    couples = Couple.objects.filter(therapist=world.owner).count()
    assert events[0].detail == f"therapist={therapist} couples={couples} page=1"
    assert_clean_and_by(events, world.supervisor)


def test_the_therapist_overview_records_one_read_naming_the_supervisee(client, scene):
    world = scene.world
    client.force_login(world.supervisor)
    url = reverse("supervision:therapist", args=[world.owner.pk])
    events = reads_of(client, url, shows_text=False)
    assert [shape(e) for e in events] == [("read therapist overview", "", "", "")]
    assert events[0].detail == f"therapist={world.owner.pk} days=0"
    assert_clean_and_by(events, world.supervisor)


# --- the admin's clinical pages (people.admin.AuditedReadsAdmin) --------------------------------


def admin_url(model: type[Model], view: str, *args: object) -> str:
    opts = model._meta
    return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=args)


def test_an_admin_list_of_clinical_rows_records_one_read_with_its_row_count(client, scene):
    owner = scene.world.owner
    client.force_login(owner)
    events = reads_of(client, admin_url(Couple, "changelist"), shows_text=False)
    assert [shape(e) for e in events] == [("read couple list", "", "", "")]
    assert events[0].detail == f"admin rows={Couple.objects.visible_to(owner).count()}"
    assert_clean_and_by(events, owner)


ROWS: dict[type[Model], Callable[[Scene], Model]] = {
    PrivateNote: lambda s: s.note,
    CycleStep: lambda s: s.step,
    Couple: lambda s: s.couple,
    TherapySession: lambda s: s.session,
}


@pytest.mark.parametrize("model", list(ROWS), ids=[m.__name__ for m in ROWS])
def test_an_admin_row_opened_records_one_read_with_its_case_code(client, scene, model):
    row = ROWS[model](scene)
    client.force_login(scene.world.owner)
    mark = trail_mark()
    assert client.get(admin_url(model, "change", row.pk)).status_code == 200
    events = trail_since(mark)
    action = f"read {model._meta.verbose_name}"
    assert [shape(e) for e in events] == [(action, *about(row), scene.code)]
    assert events[0].detail == "admin"
    assert_clean_and_by(events, scene.world.owner)


def test_the_admin_records_nothing_for_a_row_it_does_not_show(client, scene):
    client.force_login(scene.world.practice_admin)
    mark = trail_mark()
    assert client.get(admin_url(PrivateNote, "change", scene.note.pk)).status_code == 302
    assert trail_since(mark) == []


def test_the_vocabulary_admin_is_not_a_clinical_read(client, scene):
    client.force_login(scene.world.owner)
    mark = trail_mark()
    assert client.get(admin_url(EmotionTerm, "changelist")).status_code == 200
    assert trail_since(mark) == []
