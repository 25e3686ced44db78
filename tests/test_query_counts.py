"""Every page and partial of the therapist's workflow runs a fixed number of queries.

Each is measured with one row and with thirty (sessions each with a rupture, couples, cycle
steps, map revisions) and must run the same number both times: a count that grows with the
rows is an N+1. The client is signed in and has made one request before counting, so the
session and user lookups are the same two queries in every count.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from cycles.models import Couple, CycleMap, EmotionKind, StepKind
from cycles.services import StepDraft, cycle_map_save
from cycles.views import CASELOAD_PAGE_SIZE, TIMELINE_SHOWN
from people.models import Supervision
from ruptures.codes import RuptureStatus
from ruptures.services import rupture_repair
from sessions.views import EARLIER_OPEN_SHOWN
from tests.factories import (
    make_couple,
    make_emotion,
    make_practice,
    make_rupture,
    make_session,
    make_user,
    version_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from django.test import Client

    from people.models import User
    from ruptures.models import Rupture
    from sessions.models import TherapySession

pytestmark = pytest.mark.django_db

SIZES = [1, 30]
HTMX = {"HX-Request": "true"}

# What every signed-in request costs before the view runs: the session and the user, the
# authenticator check (people.middleware.RequireMFAMiddleware) and the last-activity save
# (SessionLimitsMiddleware: savepoint, update, release inside the test's transaction). Each
# count below is this plus the view's own queries.
PER_REQUEST = 2
# A write also tells the database who is acting, before and after (people.audit_db).
PER_WRITE = PER_REQUEST + 2


@dataclass
class Scene:
    """One therapist's practice at a given size: `size` couples, sessions, revisions, steps."""

    size: int
    owner: User
    supervisor: User
    couple: Couple
    sessions: list[TherapySession]  # of `couple`, oldest first, each with one rupture
    ruptures: list[Rupture]
    latest_map: CycleMap

    @property
    def first(self) -> TherapySession:
        return self.sessions[0]

    @property
    def last(self) -> TherapySession:
        return self.sessions[-1]


KINDS = [
    (StepKind.TRIGGER, "", "a request for help", ""),
    (StepKind.PERCEPTION, "", "I'm failing", ""),
    (StepKind.SECONDARY_EMOTION, "anger", "", ""),
    (StepKind.PRIMARY_EMOTION, "fear", "of losing her", ""),
    (StepKind.ATTACHMENT_NEED, "", "to matter", ""),
    (StepKind.ACTION, "", "pushes for an answer", "pursuing"),
]


def chain_rows(length: int) -> list[tuple[str, str, str, str]]:
    """A chain of `length` steps from trigger on; the shortest that closes the loop is two."""
    if length <= 2:
        return [KINDS[0], KINDS[-1]][:length]
    return [KINDS[n % len(KINDS)] for n in range(length)]


def map_rows(size: int) -> dict[str, list[tuple[str, str, str, str]]]:
    """The latest map: `size` steps split between the partners, at least a closed loop."""
    steps = max(size, 4)
    return {"A": chain_rows(steps - steps // 2), "B": chain_rows(steps // 2)}


def build(size: int) -> Scene:
    """1. People; 2. `size` couples for the caseload; 3. the main couple's `size` sessions,
    each with a rupture, every other one repaired in the next session; 4. `size` revisions
    of its map, the latest with `size` steps split between the partners (four at least, so
    that both moves lead to the other's trigger)."""
    practice = make_practice()
    owner = make_user(practice, "Counted Therapist", therapist=True)
    supervisor = make_user(practice, "Counted Supervisor", supervisor=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=owner)
    couple = make_couple(owner)
    for _ in range(size - 1):
        make_rupture(make_session(make_couple(owner), days_ago=5))

    now = timezone.now()
    sessions = [
        make_session(
            couple,
            starts_at=now - datetime.timedelta(days=2 * (size - n) + 2),
            private_note=f"process note {n}",
            progress_note=f"progress {n}",
        )
        for n in range(size)
    ]
    ruptures = [make_rupture(s, reflection=f"reflection {n}") for n, s in enumerate(sessions)]
    for n in range(0, size - 1, 2):
        status = RuptureStatus.RESOLVED if n % 4 == 0 else RuptureStatus.PARTLY_RESOLVED
        rupture_repair(rupture=ruptures[n], repaired_in=sessions[n + 1], status=status)

    terms = {
        "anger": make_emotion("anger", EmotionKind.SECONDARY),
        "fear": make_emotion("fear", EmotionKind.PRIMARY),
    }

    def drafts(rows: list[tuple[str, str, str, str]]) -> list[StepDraft]:
        return [StepDraft(k, text, terms.get(term), move) for k, term, text, move in rows]

    for revision in range(1, size):
        cycle_map_save(
            couple=couple,
            author=owner,
            base_revision=revision - 1,
            chains={"A": drafts(chain_rows(1)), "B": []},
        )
    latest = cycle_map_save(
        couple=couple,
        author=owner,
        base_revision=size - 1,
        chains={label: drafts(rows) for label, rows in map_rows(size).items()},
    )
    return Scene(size, owner, supervisor, couple, sessions, ruptures, latest)


@pytest.fixture(scope="module")
def scenes(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[int, Scene]]:
    with django_db_blocker.unblock(), transaction.atomic():
        yield {size: build(size) for size in SIZES}
        transaction.set_rollback(True)


@pytest.fixture(params=SIZES, ids=[f"{size}-rows" for size in SIZES])
def scene(request: pytest.FixtureRequest, scenes: dict[int, Scene]) -> Scene:
    return scenes[request.param]


def signed_in(client: Client, user: User) -> Client:
    """Signed in, with the first request made, so every count starts from the same state."""
    client.force_login(user)
    assert client.get(reverse("cycles:caseload")).status_code == 200
    return client


def editor_post(scene: Scene, action: str, base: int | None = None) -> dict[str, str]:
    """The editor's draft as the page would post it: the latest revision's steps."""
    data = {
        "base_revision": str(scene.latest_map.revision if base is None else base),
        "change_note": "counted",
        "action": action,
    }
    for label, rows in map_rows(scene.size).items():
        data[f"{label}-TOTAL_FORMS"] = data[f"{label}-INITIAL_FORMS"] = str(len(rows))
        for n, (kind, term, text, move) in enumerate(rows):
            data |= {
                f"{label}-{n}-kind": kind,
                f"{label}-{n}-term": term,
                f"{label}-{n}-text": text,
                f"{label}-{n}-move": move,
            }
    return data


def session_post(days_ago: float, **overrides: str) -> dict[str, str]:
    when = timezone.localtime() - datetime.timedelta(days=days_ago)
    data = {
        "date": when.date().isoformat(),
        "start_time": "09:00",
        "end_time": "09:50",
        "format": "conjoint",
        "attendance": "attended",
        "progress_note": "counted",
        "private_note": "counted note",
    }
    return data | overrides


def rupture_post(prefix: str = "new", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "rupture_type": "withdrawal",
        "withdrawal_markers": ["DENIAL"],
        "who_moved": "partner_a",
        "toward": "therapist",
        "significance": "3",
        "resolution_stage": "1",
        "status": "unresolved",
        "reflection": "counted reflection",
        "note": "counted",
    } | overrides
    return {f"{prefix}-{name}": value for name, value in data.items()}


def couple_post(scene: Scene) -> dict[str, str]:
    return {
        "partner_a_name": "Counted A",
        "partner_a_position": "pursuer",
        "partner_b_name": "Counted B",
        "partner_b_position": "withdrawer",
        "cycle_pattern": "pursue_withdraw",
        "eft_step": "3",
        "started_on": "2026-01-05",
        "status": "active",
    }


def count(
    django_assert_num_queries: Callable[..., Any],
    expected: int,
    request: Callable[[], Any],
    status: int = 200,
) -> Any:
    with django_assert_num_queries(expected):
        response = request()
    assert response.status_code == status
    return response


# Reads -------------------------------------------------------------------------------------


def test_caseload(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("cycles:caseload")
    # + the one read it records for the page (never one per row).
    response = count(django_assert_num_queries, PER_REQUEST + 3, lambda: client.get(url))
    assert len(response.context["page"].object_list) == min(scene.size, CASELOAD_PAGE_SIZE)
    count(django_assert_num_queries, PER_REQUEST + 3, lambda: client.get(url, headers=HTMX))


def test_caseload_of_the_supervisor(client, scene, django_assert_num_queries):
    signed_in(client, scene.supervisor)
    response = count(
        django_assert_num_queries, PER_REQUEST + 3, lambda: client.get(reverse("cycles:caseload"))
    )
    assert len(response.context["page"].object_list) == min(scene.size, CASELOAD_PAGE_SIZE)


def test_couple_page(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = scene.couple.get_absolute_url()
    # 17 until the timeline became a page of the latest sessions (cycles.views.timeline_page):
    # the open ruptures, then read off every session, are now one query of their own.
    # + 1 for the treatment plan's card (plans.templatetags.plans.plan_summary).
    # + 3 for the safety card (sessions.templatetags.safety): screens, reviews, the practice's
    # safety screens to offer.
    response = count(django_assert_num_queries, PER_REQUEST + 22, lambda: client.get(url))
    assert len(response.context["sessions"]) == min(scene.size, TIMELINE_SHOWN)
    assert len(response.context["diagram"].boxes) == max(scene.size, 4)


def test_couple_page_of_the_supervisor(client, scene, django_assert_num_queries):
    signed_in(client, scene.supervisor)
    url = scene.couple.get_absolute_url()
    # + 1 since the open ruptures are a query of their own, as for the owner above.
    # + the plan card; + 2 for the safety card's screens and reviews (no hand-over to offer).
    count(django_assert_num_queries, PER_REQUEST + 20, lambda: client.get(url))


def test_earlier_sessions_of_the_couple_page(client, scene, django_assert_num_queries):
    """ "Show earlier sessions": the sessions, their ruptures and repairs, and the read."""
    signed_in(client, scene.owner)
    url = scene.couple.get_absolute_url()
    response = count(
        django_assert_num_queries,
        PER_REQUEST + 5,
        lambda: client.get(url, {"sessions": "1"}, headers=HTMX),
    )
    assert len(response.context["sessions"]) == min(scene.size, TIMELINE_SHOWN)


def test_new_couple_form(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    count(django_assert_num_queries, PER_REQUEST, lambda: client.get(reverse("cycles:new")))


def test_couple_edit_form(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("cycles:edit", args=[scene.couple.case_code])
    # + the read of the couple it records.
    count(django_assert_num_queries, PER_REQUEST + 3, lambda: client.get(url))


def test_cycle_map_editor(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("cycles:cycle_edit", args=[scene.couple.case_code])
    # + the read of the map it records.
    response = count(django_assert_num_queries, PER_REQUEST + 6, lambda: client.get(url))
    assert sum(len(chain.forms) for chain in response.context["chains"]) == max(scene.size, 4)


def test_cycle_map_history_with_comparison(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("cycles:cycle_history", args=[scene.couple.case_code])
    params = {"from": "1", "to": str(scene.size)}
    # + the one read it records, however many revisions.
    response = count(django_assert_num_queries, PER_REQUEST + 6, lambda: client.get(url, params))
    assert len(response.context["revisions"]) == scene.size
    assert response.context["comparison"] is not None


def test_session_form(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("therapy_sessions:new", args=[scene.couple.case_code])
    count(django_assert_num_queries, PER_REQUEST + 1, lambda: client.get(url))


def test_session_page(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("therapy_sessions:detail", args=[scene.last.pk])
    # + the two reads it records: the session, and the private note shown to its author; + the
    # sign-off panel's history and amendments (sessions/templatetags/signoff.py).
    response = count(django_assert_num_queries, PER_REQUEST + 11, lambda: client.get(url))
    still_open = [
        r.pk
        for r in scene.ruptures[:-1]
        if r.status != RuptureStatus.RESOLVED and r.repaired_in_id != scene.last.pk
    ]
    # The most recent first, a page of them (each line loads its repair form when asked).
    assert [r.pk for r in response.context["earlier_open"]] == still_open[::-1][:EARLIER_OPEN_SHOWN]
    assert len(response.context["repaired_here"]) == (1 if scene.size > 1 else 0)


def test_session_page_of_the_supervisor(client, scene, django_assert_num_queries):
    signed_in(client, scene.supervisor)
    url = reverse("therapy_sessions:detail", args=[scene.last.pk])
    # + the read it records (the supervisor is never shown the private note); + the sign-off
    # panel's history and amendments.
    count(django_assert_num_queries, PER_REQUEST + 10, lambda: client.get(url))


def test_session_edit_form(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("therapy_sessions:edit", args=[scene.last.pk])
    # + the two reads it records, as the session page does: the session, and the private note
    # decrypted into the form.
    count(django_assert_num_queries, PER_REQUEST + 4, lambda: client.get(url))


def test_rupture_edit_form(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("ruptures:edit", args=[scene.ruptures[-1].pk])
    # + the reads of the rupture and of its private reflection it records.
    count(django_assert_num_queries, PER_REQUEST + 4, lambda: client.get(url))


# Partials and writes ------------------------------------------------------------------------


def test_cycle_map_editor_action(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("cycles:cycle_edit", args=[scene.couple.case_code])
    data = editor_post(scene, "down:A:0")
    count(django_assert_num_queries, PER_WRITE + 5, lambda: client.post(url, data, headers=HTMX))


def test_cycle_map_editor_save(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("cycles:cycle_edit", args=[scene.couple.case_code])
    data = editor_post(scene, "save")
    count(django_assert_num_queries, PER_WRITE + 14, lambda: client.post(url, data), status=302)


def test_cycle_map_editor_refusing_a_stale_save(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("cycles:cycle_edit", args=[scene.couple.case_code])
    data = editor_post(scene, "save", base=scene.latest_map.revision - 1)
    response = count(
        django_assert_num_queries, PER_WRITE + 11, lambda: client.post(url, data, headers=HTMX)
    )
    assert "Not saved" in response.text


def test_opening_a_couples_record(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("cycles:new")
    data = couple_post(scene) | {"request_token": str(uuid.uuid4())}
    # + the therapist's row locked and the form's token looked up (core/concurrency.py).
    count(django_assert_num_queries, PER_WRITE + 7, lambda: client.post(url, data), status=302)


def test_couple_correction(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("cycles:edit", args=[scene.couple.case_code])
    data = couple_post(scene) | version_of(scene.couple)
    # + the first session's date, which the start date can't come after; + the version claimed.
    count(django_assert_num_queries, PER_WRITE + 9, lambda: client.post(url, data), status=302)


def test_logging_a_session_late(client, scene, django_assert_num_queries):
    """Dated before every other session: all of them move up one number."""
    signed_in(client, scene.owner)
    url = reverse("therapy_sessions:new", args=[scene.couple.case_code])
    data = session_post(days_ago=2 * scene.size + 10) | {"request_token": str(uuid.uuid4())}
    # The renumbering is two updates however many sessions move (sessions.services.renumber);
    # the form's one read of the couple's sessions around that time refuses an overlap; the
    # couple's row locked and the form's token looked up twice: before the form is checked
    # (a resent form is not refused as overlapping itself) and under the lock; + the latest
    # session that records a step (sessions.services.case_step_follow; none does here); + the
    # partners who asked for a link after each session (invitations; none here).
    count(django_assert_num_queries, PER_WRITE + 17, lambda: client.post(url, data), status=302)


def test_correcting_a_session(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("therapy_sessions:edit", args=[scene.last.pk])
    data = session_post(days_ago=2) | version_of(scene.last)
    # + the form's one read of the couple's other sessions around that time (overlaps); + the
    # version claimed; + the latest session that records a step (none does here).
    count(django_assert_num_queries, PER_WRITE + 12, lambda: client.post(url, data), status=302)


def test_withdrawing_the_first_session(client, scene, django_assert_num_queries):
    """Every later session (one more is logged, so even one row has one) moves down one."""
    make_session(scene.couple, days_ago=0.01)
    signed_in(client, scene.owner)
    url = reverse("therapy_sessions:withdraw", args=[scene.first.pk])
    data = {"reason": "counted"}
    # + the latest session that records a step (case_step_follow; none does here).
    count(django_assert_num_queries, PER_WRITE + 9, lambda: client.post(url, data), status=302)


# The rupture form leaves Rupture's check constraints to the database (its clean() states the
# same rules beside the fields), so no query per constraint is spent validating.


def test_recording_a_rupture_with_htmx(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("ruptures:add", args=[scene.last.pk])
    data = rupture_post(request_token=str(uuid.uuid4()))
    # + the session's row locked and the form's token looked up (core/concurrency.py).
    count(django_assert_num_queries, PER_WRITE + 14, lambda: client.post(url, data, headers=HTMX))


def test_recording_a_rupture_without_javascript(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("ruptures:add", args=[scene.last.pk])
    data = rupture_post(request_token=str(uuid.uuid4()))
    count(django_assert_num_queries, PER_WRITE + 8, lambda: client.post(url, data), status=302)


def test_refusing_a_bad_rupture(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("ruptures:add", args=[scene.last.pk])
    data = rupture_post(toward="partner_a")
    count(django_assert_num_queries, PER_WRITE + 7, lambda: client.post(url, data, headers=HTMX))


def test_correcting_a_rupture(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    rupture = scene.ruptures[-1]
    url = reverse("ruptures:edit", args=[rupture.pk])
    data = rupture_post(f"r{rupture.pk}", significance="4") | version_of(rupture, f"r{rupture.pk}")
    # + the version claimed.
    count(django_assert_num_queries, PER_WRITE + 8, lambda: client.post(url, data), status=302)


def test_withdrawing_a_rupture(client, scene, django_assert_num_queries):
    signed_in(client, scene.owner)
    url = reverse("ruptures:withdraw", args=[scene.ruptures[-1].pk])
    data = {"reason": "counted"}
    # + whether it was already withdrawn (a second click is told so, not given a 404).
    count(django_assert_num_queries, PER_WRITE + 5, lambda: client.post(url, data), status=302)


def test_repair_form_on_demand(client, scene, django_assert_num_queries):
    """ "Repaired here…" loads one rupture's form: the session, the rupture, and the read."""
    later = make_session(scene.couple, days_ago=0.01)
    signed_in(client, scene.owner)
    url = reverse("ruptures:repair_form", args=[later.pk, scene.ruptures[-1].pk])
    response = count(
        django_assert_num_queries, PER_REQUEST + 3, lambda: client.get(url, headers=HTMX)
    )
    assert response.context["form"].prefix == f"repair{scene.ruptures[-1].pk}"


def test_repairing_with_htmx(client, scene, django_assert_num_queries):
    later = make_session(scene.couple, days_ago=0.01)
    rupture = scene.ruptures[-1]
    signed_in(client, scene.owner)
    url = reverse("ruptures:repair", args=[later.pk, rupture.pk])
    prefix = f"repair{rupture.pk}"
    data = {f"{prefix}-status": "resolved", f"{prefix}-resolution_stage": "2"}
    # The repaired rupture's mark names its repairing session: joined, not one query per mark.
    # The repair locks the rupture's row and logs its state before (RuptureRepair).
    response = count(
        django_assert_num_queries, PER_WRITE + 13, lambda: client.post(url, data, headers=HTMX)
    )
    assert [r.pk for r in response.context["repaired_here"]] == [rupture.pk]
