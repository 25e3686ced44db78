"""One incident, one acknowledgement: the flags one walk-out opens (unresolved rupture,
confrontation then absence, high therapist contribution) are shown together on the review and
the couple page, and one comment and follow-up acknowledge each of them; a double submit
acknowledges once; nobody but the therapist's supervisor can; the review's queries don't grow
with incidents."""

from __future__ import annotations

import datetime
import re
from typing import TYPE_CHECKING

import pytest
from django.urls import reverse
from django.utils.html import escape

from people.models import AccessEvent, Supervision
from ruptures.models import Flag, FlagAcknowledgement, FlagKind
from supervision import review as supervision
from tests.factories import World, make_couple, make_practice, make_rupture, make_session, make_user
from tests.supervision import make_flag, request_overhead, sign_in

if TYPE_CHECKING:
    from cycles.models import Couple
    from people.models import User
    from ruptures.models import Rupture

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
COMMENT = "Let's look at the walk-out together on Thursday; your apology plan sounds right."
WALK_OUT_KINDS = [
    FlagKind.UNRESOLVED_RUPTURE,
    FlagKind.CONFRONTATION_THEN_ABSENCE,
    FlagKind.HIGH_THERAPIST_CONTRIBUTION,
]


def walk_out_flags(couple: Couple, rupture: Rupture, ordinal: int, opened_on) -> list[Flag]:
    """The three flags the nightly run opens for one walk-out, naming the one rupture."""
    evidence = {"ruptures": [rupture.pk], "sessions": [ordinal]}
    made = []
    for kind in WALK_OUT_KINDS:
        flag = make_flag(couple, kind, opened_on, key=f"rupture:{rupture.pk}")
        Flag.objects.filter(pk=flag.pk).update(evidence=evidence, detail=f"{kind} detail.")
        flag.refresh_from_db()
        made.append(flag)
    return made


@pytest.fixture
def world() -> World:
    return World.build()


@pytest.fixture
def today(world: World) -> datetime.date:
    return supervision.practice_today(world.supervisor)


@pytest.fixture
def incident(world: World, today) -> list[Flag]:
    return walk_out_flags(world.couple, world.rupture, 1, today - datetime.timedelta(days=1))


@pytest.fixture
def other_incident(world: World, today) -> list[Flag]:
    """A second walk-out of the same couple, three sessions later: an incident of its own."""
    later = make_session(world.couple, days_ago=3)
    return walk_out_flags(world.couple, make_rupture(later), 2, today)


def post(client, user: User, flag: Flag, headers=None, **data: str):
    sign_in(client, user)
    url = reverse("supervision:acknowledge", args=[flag.pk])
    return client.post(url, data, headers=headers or {})


def acknowledged(flags: list[Flag]) -> list[tuple[int, str]]:
    rows = FlagAcknowledgement.objects.filter(flag__in=flags).order_by("flag_id")
    return list(rows.values_list("flag_id", "comment"))


# --- acknowledging ------------------------------------------------------------------------------


def test_one_acknowledgement_of_an_incident_acknowledges_each_of_its_flags(
    client, world, incident, other_incident, today
):
    follow_up = today + datetime.timedelta(days=4)
    response = post(
        client, world.supervisor, incident[0], comment=COMMENT, follow_up_on=follow_up.isoformat()
    )
    assert response.status_code == 302
    saved = list(FlagAcknowledgement.objects.order_by("flag_id"))
    assert [a.flag_id for a in saved] == sorted(f.pk for f in incident)
    assert {(a.by, a.comment, a.follow_up_on, a.at) for a in saved} == {
        (world.supervisor, COMMENT, follow_up, saved[0].at)
    }
    assert acknowledged(other_incident) == []  # the other walk-out is another incident
    # The trail names each flag and its kind, never the comment.
    events = AccessEvent.objects.filter(action="acknowledge flag").order_by("object_id")
    assert [(e.object_id, e.detail) for e in events] == [
        (str(f.pk), f"kind={f.kind}") for f in sorted(incident, key=lambda f: f.pk)
    ]
    assert all("walk-out" not in e.detail for e in events)


def test_the_form_addressed_to_any_flag_of_the_incident_acknowledges_them_all(
    client, world, incident
):
    post(client, world.supervisor, incident[-1], comment=COMMENT)
    assert [flag for flag, _ in acknowledged(incident)] == sorted(f.pk for f in incident)


def test_a_double_submit_acknowledges_the_incident_once(client, world, incident):
    sign_in(client, world.supervisor)
    url = reverse("supervision:acknowledge", args=[incident[0].pk])
    form = client.get(url).text
    token = re.search(r'name="request_token" value="([^"]+)"', form).group(1)
    data = {"comment": COMMENT, "request_token": token}
    assert client.post(url, data).status_code == 302
    assert client.post(url, data, headers=HTMX).status_code == 200
    assert client.post(url, data).status_code == 302
    assert len(acknowledged(incident)) == 3


def test_an_htmx_acknowledgement_says_the_incident_is_acknowledged(client, world, incident):
    lead = min(incident, key=lambda f: f.pk)
    response = post(client, world.supervisor, lead, headers=HTMX, comment=COMMENT)
    assert response.status_code == 200
    text = response.text
    assert "Acknowledged the 3 flags of this incident together" in text
    assert f'<span id="ack-state-{lead.pk}" class="badge ok" hx-swap-oob="true">Acknowledged' in (
        text
    )
    assert escape(COMMENT) in text


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_bad_input_keeps_the_input_and_acknowledges_none_of_the_flags(
    client, world, incident, headers
):
    response = post(
        client, world.supervisor, incident[0], headers=headers, comment="", follow_up_on="soon"
    )
    assert response.status_code == 200
    assert "Write a comment for the therapist." in response.text
    assert "Enter a valid date as 7 Dec 2026, e.g. 7 Dec 2026 (or as 2026-12-07)." in response.text
    assert 'value="soon"' in response.text
    assert not FlagAcknowledgement.objects.exists()


@pytest.mark.parametrize(
    "role", ["owner", "colleague", "other_supervisor", "group_member", "practice_admin", "outsider"]
)
def test_nobody_but_the_therapists_supervisor_can_acknowledge_the_incident(
    client, world, incident, role
):
    assert post(client, getattr(world, role), incident[0], comment=COMMENT).status_code == 404
    sign_in(client, getattr(world, role))
    url = reverse("supervision:acknowledge", args=[incident[0].pk])
    assert client.get(url).status_code == 404
    assert not FlagAcknowledgement.objects.exists()


def test_the_form_page_lists_every_flag_of_the_incident(client, world, incident):
    sign_in(client, world.supervisor)
    page = client.get(reverse("supervision:acknowledge", args=[incident[1].pk])).text
    assert "Acknowledge the incident in session 1" in page
    for flag in incident:
        assert flag.get_kind_display() in page
        assert f"{flag.kind} detail." in page
    assert "One comment for the 3 flags of this incident" in page
    assert page.count('name="comment"') == 1


# --- what the couple page shows -----------------------------------------------------------------


def couple_page(client, user: User, couple: Couple) -> str:
    sign_in(client, user)
    response = client.get(reverse("cycles:detail", args=[couple.case_code]))
    assert response.status_code == 200
    return response.text


def test_the_couple_page_lists_each_incident_with_one_acknowledge_form(
    client, world, incident, other_incident
):
    page = couple_page(client, world.supervisor, world.couple)
    assert "One incident in session 1" in page
    assert "One incident in session 2" in page
    assert page.count('name="comment"') == 2  # one form per incident, not one per flag
    for flag in incident + other_incident:
        assert f"{flag.kind} detail." in page
    assert page.count("Acknowledge the incident") >= 2


def test_the_therapist_reads_the_incidents_acknowledgement_once(client, world, incident):
    post(client, world.supervisor, incident[0], comment=COMMENT)
    page = couple_page(client, world.owner, world.couple)
    assert page.count(escape(COMMENT)) == 1
    assert ">Acknowledged<" in page
    assert 'name="comment"' not in page  # the therapist gets no form


def test_a_flag_that_joins_an_acknowledged_incident_shows_as_not_yet_acknowledged(
    client, world, incident, today
):
    """The unresolved flag closes (partly resolved) and opens again as a new row: the
    incident's earlier acknowledgement stays, and the new flag is counted as not yet seen."""
    post(client, world.supervisor, incident[0], comment=COMMENT)
    unresolved = incident[0]
    Flag.objects.filter(pk=unresolved.pk).update(closed_on=today)
    again = make_flag(world.couple, unresolved.kind, today, key=unresolved.key)
    Flag.objects.filter(pk=again.pk).update(evidence=unresolved.evidence)

    page = couple_page(client, world.supervisor, world.couple)
    assert "1 flag not yet acknowledged" in page
    assert page.count(escape(COMMENT)) == 2  # the incident's, and the closed flag's history

    review = client.get(reverse("supervision:review"), {"period": "all"})
    assert "1 flag not yet acknowledged" in review.text
    # Acknowledging again covers the incident's open flags, the new one included.
    post(client, world.supervisor, again, comment="Seen again.")
    assert FlagAcknowledgement.objects.filter(comment="Seen again.").count() == 3


# --- the review ---------------------------------------------------------------------------------


def review_page(client, user: User) -> str:
    sign_in(client, user)
    response = client.get(reverse("supervision:review"), {"period": "all"})
    assert response.status_code == 200
    return response.text


def test_the_review_lists_the_incident_on_one_line_with_one_link(client, world, incident):
    page = review_page(client, world.supervisor)
    lead = min(f.pk for f in incident)
    url = reverse("supervision:acknowledge", args=[lead])
    assert page.count(f'hx-get="{url}"') == 1
    assert f'id="ack-state-{lead}"' in page
    for flag in incident:
        assert reverse("supervision:acknowledge", args=[flag.pk]) + '"' not in page.replace(
            url + '"', ""
        )
    assert (
        'Unresolved rupture</span>, <span class="flag-kind">Confrontation then absence</span> '
        'and <span class="flag-kind">High therapist contribution</span>'
    ) in page
    assert "(one incident, session 1)" in page


def test_another_supervisor_sees_none_of_the_incident(client, world, incident):
    page = review_page(client, world.other_supervisor)
    assert world.couple.case_code not in page
    for flag in incident:
        assert reverse("supervision:acknowledge", args=[flag.pk]) not in page


def incident_caseload(couples: int) -> User:
    """A supervisor whose supervisee has `couples` couples, each with a walk-out's incident
    and a flag of its own, seen this week."""
    practice = make_practice()
    supervisor = make_user(practice, "Incident Supervisor", supervisor=True)
    therapist = make_user(practice, "Incident Therapist", therapist=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    today = supervision.practice_today(supervisor)
    for _ in range(couples):
        couple = make_couple(therapist)
        rupture = make_rupture(make_session(couple, days_ago=1))
        walk_out_flags(couple, rupture, 1, today)
        make_flag(couple, FlagKind.GONE_QUIET, today - datetime.timedelta(days=2))
    return supervisor


# After sign-in, as tests/supervision/test_review.py's REVIEW_QUERIES: the therapist filter's
# options, the paginator's count, the access event and the page of rows; grouping the flags
# into incidents reads what the row query packed and costs none.
REVIEW_QUERIES = 4


@pytest.mark.parametrize("couples", [1, 12])
def test_the_reviews_queries_are_pinned_for_a_caseload_with_incidents(
    client, django_assert_num_queries, couples
):
    supervisor = incident_caseload(couples)
    sign_in(client, supervisor)
    client.get(reverse("supervision:review"))
    overhead = request_overhead(client)
    with django_assert_num_queries(overhead + REVIEW_QUERIES):
        response = client.get(reverse("supervision:review"), {"period": "all"})
    rows = response.context["couples"]
    assert len(rows) == couples
    for row in rows:
        assert [len(i.flags) for i in row.review_incidents] == [3]  # three most recent flags
        assert row.more_flag_count == 1


def test_the_acknowledge_form_costs_two_queries_for_an_incident(
    client, world, incident, django_assert_num_queries
):
    """The flag and its couple's open flags in one query, and the read's access event."""
    sign_in(client, world.supervisor)
    url = reverse("supervision:acknowledge", args=[incident[0].pk])
    client.get(url, headers=HTMX)
    overhead = request_overhead(client)
    with django_assert_num_queries(overhead + 2):
        response = client.get(url, headers=HTMX)
    assert "One comment for the 3 flags of this incident" in response.text
