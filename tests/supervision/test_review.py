"""The caseload review: a supervisor's supervisees' couples, this week's by default, filtered
and sorted, in a fixed number of queries; nobody else's, and nothing for anyone else."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.shortcuts import resolve_url
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cycles.models import Couple, CoupleStatus
from people.models import Supervision
from ruptures.models import FlagAcknowledgement, FlagKind
from supervision import review as supervision
from supervision.views import REVIEW_PAGE_SIZE
from tests.factories import World, make_couple, make_practice, make_rupture, make_session, make_user
from tests.supervision import make_flag, request_overhead, sign_in

if TYPE_CHECKING:
    from collections.abc import Iterator

    from people.models import User

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}

# After sign-in: the therapist filter's options, the paginator's count, the access event
# written (one for the page) and the page of rows (supervision.review.for_review), whatever
# the number of couples or flags. The practice's date comes from the request's active zone.
REVIEW_QUERIES = 4

NON_SUPERVISORS = ["owner", "colleague", "group_member", "practice_admin", "outsider", "superuser"]


@dataclass
class Scene:
    world: World
    today: datetime.date
    second: User  # another supervisee of world.supervisor
    dual: User  # a therapist who also supervises `second`
    superuser: User
    flagged: Couple  # world.couple: session 10 days ago, open rupture, flag opened 3 days ago
    recent: Couple  # owner's: a session 2 days ago, no flag
    quiet: Couple  # owner's: session 30 days ago, acknowledged flag opened 20 days ago
    dropped: Couple  # second's, dropped out: session 3 days ago, two flags (1 and 5 days)
    closed: Couple  # second's: no session, a flag opened 2 days ago and closed since
    colleagues: Couple  # colleague's (other_supervisor's supervisee): session yesterday
    duals: Couple  # dual's own couple: session yesterday

    def person(self, role: str) -> User:
        return self.superuser if role == "superuser" else getattr(self.world, role)


@pytest.fixture(scope="module")
def scene(django_db_setup, django_db_blocker) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        practice, supervisor = world.practice, world.supervisor
        today = supervision.practice_today(supervisor)
        second = make_user(practice, "Second Therapist", therapist=True)
        dual = make_user(practice, "Dual Role", therapist=True, supervisor=True)
        Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=second)
        Supervision.objects.create(practice=practice, supervisor=dual, therapist=second)

        flagged = world.couple
        make_flag(flagged, FlagKind.UNRESOLVED_RUPTURE, today - datetime.timedelta(days=3))
        recent = make_couple(world.owner)
        make_session(recent, days_ago=2)
        quiet = make_couple(world.owner)
        make_session(quiet, days_ago=30)
        old = make_flag(quiet, FlagKind.GONE_QUIET, today - datetime.timedelta(days=20))
        FlagAcknowledgement.objects.create(flag=old, by=supervisor, comment="Seen; discussed.")
        dropped = make_couple(second)
        Couple.objects.filter(pk=dropped.pk).update(status=CoupleStatus.DROPPED_OUT)
        make_session(dropped, days_ago=3)
        make_flag(dropped, FlagKind.SPLIT_ALLIANCE_WIDENING, today - datetime.timedelta(days=1))
        drop = make_flag(dropped, FlagKind.ALLIANCE_DROP, today - datetime.timedelta(days=5))
        FlagAcknowledgement.objects.create(flag=drop, by=supervisor, comment="Noted.")
        closed = make_couple(second)
        make_flag(
            closed,
            FlagKind.REPORT_MISMATCH,
            today - datetime.timedelta(days=2),
            closed_on=today - datetime.timedelta(days=1),
        )
        colleagues = make_couple(world.colleague)
        make_session(colleagues, days_ago=1)
        make_flag(colleagues, FlagKind.GONE_QUIET, today - datetime.timedelta(days=1))
        duals = make_couple(dual)
        make_session(duals, days_ago=1)
        yield Scene(
            world=world,
            today=today,
            second=second,
            dual=dual,
            superuser=make_user(None, "Root", is_superuser=True, is_staff=True),
            flagged=flagged,
            recent=recent,
            quiet=quiet,
            dropped=dropped,
            closed=closed,
            colleagues=colleagues,
            duals=duals,
        )
        transaction.set_rollback(True)


def review(client, user: User, **params: str):
    sign_in(client, user)
    response = client.get(reverse("supervision:review"), params)
    assert response.status_code == 200
    return response


def listed(response) -> list[str]:
    return [couple.case_code for couple in response.context["couples"]]


def codes(*couples: Couple) -> set[str]:
    return {couple.case_code for couple in couples}


# --- who ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", NON_SUPERVISORS)
def test_non_supervisors_get_404(client, scene, role):
    sign_in(client, scene.person(role))
    assert client.get(reverse("supervision:review")).status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("supervision:review"))
    assert response.status_code == 302
    assert resolve_url(django_settings.LOGIN_URL) in response["Location"]


def test_the_supervisor_sees_every_couple_of_their_supervisees_and_no_one_elses(client, scene):
    shown = set(listed(review(client, scene.world.supervisor, period="all")))
    assert shown == codes(scene.flagged, scene.recent, scene.quiet, scene.dropped, scene.closed)


def test_another_supervisor_sees_only_their_own_supervisees(client, scene):
    response = review(client, scene.world.other_supervisor, period="all")
    assert set(listed(response)) == codes(scene.colleagues)
    assert scene.flagged.case_code not in response.text


def test_a_supervisor_who_is_also_a_therapist_reviews_only_their_supervisees(client, scene):
    shown = set(listed(review(client, scene.dual, period="all")))
    assert shown == codes(scene.dropped, scene.closed)
    assert scene.duals.case_code not in shown


def test_a_supervision_across_practices_shows_nothing_of_the_other_practice(client, scene):
    outsiders = make_couple(scene.world.outsider)
    make_session(outsiders, days_ago=1)
    Supervision.objects.create(
        practice=scene.world.practice,
        supervisor=scene.world.supervisor,
        therapist=scene.world.outsider,
    )
    response = review(
        client, scene.world.supervisor, period="all", therapist=str(scene.world.outsider.pk)
    )
    assert outsiders.case_code not in set(listed(response))
    assert scene.world.outsider.pk not in {t.pk for t in response.context["therapists"]}


def test_a_supervisor_of_another_practice_sees_none_of_these_couples(client, scene):
    elsewhere = make_practice("Across Town")
    stranger = make_user(elsewhere, "Stranger Supervisor", supervisor=True)
    response = review(client, stranger, period="all")
    assert listed(response) == []
    assert scene.flagged.case_code not in response.text


# --- what a row shows ---------------------------------------------------------------------------


def test_a_row_shows_therapist_partners_pattern_stage_session_ruptures_and_flags(client, scene):
    response = review(client, scene.world.supervisor, period="all")
    rows = {couple.case_code: couple for couple in response.context["couples"]}
    row = rows[scene.flagged.case_code]
    assert row.therapist == scene.world.owner
    assert row.open_rupture_count == 1
    assert row.last_session_at is not None
    assert [f.kind for f in row.review_flags] == [FlagKind.UNRESOLVED_RUPTURE]
    assert row.review_flags[0].acknowledged is False
    assert row.flag_age == 3
    partner_a = scene.flagged.partners.get(label="A").display_name
    assert partner_a in response.text
    assert "Unresolved rupture" in response.text
    assert str(scene.world.owner) in response.text

    dropped = rows[scene.dropped.case_code]
    # Most recent first (supervision.review.REVIEW_FLAGS_SHOWN of them at most).
    assert [(f.kind, f.acknowledged) for f in dropped.review_flags] == [
        (FlagKind.SPLIT_ALLIANCE_WIDENING, False),
        (FlagKind.ALLIANCE_DROP, True),
    ]
    assert dropped.more_flag_count == 0
    assert dropped.flag_age == 5  # the oldest open flag's age
    assert rows[scene.closed.case_code].review_flags == []  # its flag has closed
    assert rows[scene.closed.case_code].flag_age is None
    assert rows[scene.quiet.case_code].review_flags[0].acknowledged is True


def test_each_open_flag_offers_its_acknowledgement_form_when_asked(client, scene):
    """A link to the flag's form (htmx swaps it in; without JavaScript, its page), not the
    form itself: tests/supervision/test_review_weight.py fetches and posts it."""
    response = review(client, scene.world.supervisor)
    flag = scene.flagged.flags.get()
    url = reverse("supervision:acknowledge", args=[flag.pk])
    assert f'href="{url}?next=/supervision/"' in response.text
    assert f'hx-get="{url}"' in response.text
    assert f'id="ack-state-{flag.pk}"' in response.text
    assert f'for="ack-{flag.pk}-comment"' not in response.text


# --- this week, filters, sorting ----------------------------------------------------------------


def test_this_week_is_the_default(client, scene):
    response = review(client, scene.world.supervisor)
    assert response.context["filters"].period == "week"
    # A session in the last 7 days (recent, dropped) or a flag opened in them, even one closed
    # since (flagged, closed); not the quiet couple (session and flag older).
    assert set(listed(response)) == codes(scene.flagged, scene.recent, scene.dropped, scene.closed)


def test_the_toggle_shows_all_couples(client, scene):
    response = review(client, scene.world.supervisor, period="all")
    assert scene.quiet.case_code in listed(response)
    assert "Show this week" in response.text
    assert "Show all couples" in review(client, scene.world.supervisor).text


def test_filter_by_therapist(client, scene):
    second = str(scene.second.pk)
    response = review(client, scene.world.supervisor, period="all", therapist=second)
    assert set(listed(response)) == codes(scene.dropped, scene.closed)


def test_a_therapist_one_does_not_supervise_is_no_filter_at_all(client, scene):
    colleague = str(scene.world.colleague.pk)
    response = review(client, scene.world.supervisor, period="all", therapist=colleague)
    assert response.context["filters"].therapist is None
    assert scene.colleagues.case_code not in listed(response)
    assert len(listed(response)) == 5


def test_filter_by_flag_kind(client, scene):
    response = review(client, scene.world.supervisor, period="all", kind=FlagKind.GONE_QUIET)
    assert listed(response) == [scene.quiet.case_code]
    # A closed flag of the kind doesn't count: the filter is on open flags.
    response = review(client, scene.world.supervisor, period="all", kind=FlagKind.REPORT_MISMATCH)
    assert listed(response) == []


def test_filter_by_couple_status(client, scene):
    response = review(client, scene.world.supervisor, period="all", status="dropped_out")
    assert listed(response) == [scene.dropped.case_code]


def test_filter_by_acknowledgement(client, scene):
    supervisor = scene.world.supervisor
    pending = review(client, supervisor, period="all", ack="pending")
    assert set(listed(pending)) == codes(scene.flagged, scene.dropped)
    done = review(client, supervisor, period="all", ack="done")
    assert listed(done) == [scene.quiet.case_code]


def test_unknown_filter_values_fall_back_to_the_defaults(client, scene):
    response = review(
        client,
        scene.world.supervisor,
        therapist="x",
        kind="nonsense",
        status="gone",
        period="ever",
        ack="maybe",
        sort="password",
    )
    filters = response.context["filters"]
    assert filters == supervision.ReviewFilters()


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("flag_age", ["flagged", "dropped", "quiet", "*", "*"]),
        ("-flag_age", ["quiet", "dropped", "flagged", "*", "*"]),
        ("last_session", ["quiet", "flagged", "dropped", "recent", "closed"]),
        ("-last_session", ["recent", "dropped", "flagged", "quiet", "closed"]),
        ("-ruptures", ["flagged", "*", "*", "*", "*"]),
        ("-flags", ["dropped", "*", "*", "*", "*"]),
    ],
)
def test_sorting(client, scene, sort, expected):
    order = listed(review(client, scene.world.supervisor, period="all", sort=sort))
    names = {getattr(scene, name).case_code: name for name in expected if name != "*"}
    assert [names.get(code, "*") for code in order] == expected


def test_sorting_by_therapist_and_case(client, scene):
    supervisor = scene.world.supervisor
    by_therapist = review(client, supervisor, period="all", sort="therapist").context["couples"]
    assert [c.therapist_id for c in by_therapist] == sorted(
        (c.therapist_id for c in by_therapist),
        key=lambda pk: 0 if pk == scene.world.owner.pk else 1,  # "Owner…" before "Second…"
    )
    by_case = listed(review(client, supervisor, period="all", sort="case"))
    assert by_case == sorted(by_case)
    assert listed(review(client, supervisor, period="all", sort="-case")) == sorted(
        by_case, reverse=True
    )


def test_sort_headers_link_to_the_flipped_order_and_say_which_is_current(client, scene):
    response = review(client, scene.world.supervisor, sort="case")
    links = response.context["sort_links"]
    assert links["case"] == {"query": "sort=-case", "state": "ascending"}
    assert links["therapist"] == {"query": "sort=therapist", "state": "none"}
    assert 'aria-sort="ascending"' in response.text


# --- htmx and paging ----------------------------------------------------------------------------


def test_htmx_filters_swap_only_the_table(client, scene):
    sign_in(client, scene.world.supervisor)
    response = client.get(reverse("supervision:review"), {"period": "all"}, headers=HTMX)
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="review-table">')
    assert "<html" not in response.text
    assert scene.quiet.case_code in response.text
    assert "HX-Request" in response["Vary"]


def test_an_htmx_history_restore_gets_the_whole_page(client, scene):
    sign_in(client, scene.world.supervisor)
    headers = HTMX | {"HX-History-Restore-Request": "true"}
    response = client.get(reverse("supervision:review"), headers=headers)
    assert "<html" in response.text


def test_the_filters_work_without_javascript(client, scene):
    response = review(client, scene.world.supervisor)
    text = response.text
    assert 'method="get"' in text
    assert f'action="{reverse("supervision:review")}"' in text
    assert 'href="?sort=case"' in text  # sort links keep real hrefs
    assert 'name="sort" value="therapist" form="review-filters"' in text


# --- queries ------------------------------------------------------------------------------------


def caseload_of(size: int) -> User:
    """A supervisor of two therapists sharing `size` couples, each with a session, an open
    rupture and two open flags, one of them acknowledged."""
    practice = make_practice()
    supervisor = make_user(practice, "Counted Supervisor", supervisor=True)
    therapists = [make_user(practice, f"Counted {n}", therapist=True) for n in (1, 2)]
    for therapist in therapists:
        Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    today = supervision.practice_today(supervisor)
    for n in range(size):
        couple = make_couple(therapists[n % 2])
        make_rupture(make_session(couple, days_ago=1))
        make_flag(couple, FlagKind.UNRESOLVED_RUPTURE, today)
        seen = make_flag(couple, FlagKind.GONE_QUIET, today - datetime.timedelta(days=4))
        FlagAcknowledgement.objects.create(flag=seen, by=supervisor, comment="Seen.")
    return supervisor


@pytest.mark.parametrize("size", [1, 30])
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_the_review_runs_a_fixed_number_of_queries(
    client, django_assert_num_queries, size, headers
):
    supervisor = caseload_of(size)
    sign_in(client, supervisor)
    url = reverse("supervision:review")
    client.get(url)
    overhead = request_overhead(client)
    with django_assert_num_queries(overhead + REVIEW_QUERIES):
        response = client.get(url, {"sort": "-flag_age"}, headers=headers)
    assert len(response.context["couples"]) == min(size, REVIEW_PAGE_SIZE)
    assert response.text.count("Not yet acknowledged") == min(size, REVIEW_PAGE_SIZE)
    assert response.text.count(">Acknowledged<") == min(size, REVIEW_PAGE_SIZE)


def test_the_review_is_paged(client):
    supervisor = caseload_of(REVIEW_PAGE_SIZE + 2)
    first = review(client, supervisor)
    assert first.context["page"].paginator.num_pages == 2
    assert "page=2" in first.text
    second = review(client, supervisor, page="2")
    assert len(second.context["couples"]) == 2
    assert not set(listed(first)) & set(listed(second))


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    params=st.dictionaries(
        st.sampled_from(["therapist", "kind", "status", "period", "ack", "sort", "page"]),
        st.text(max_size=20),
    ),
    htmx=st.booleans(),
)
def test_any_query_string_gives_the_page_never_an_error(scene, params, htmx):
    client = Client()
    sign_in(client, scene.world.supervisor)
    response = client.get(reverse("supervision:review"), params, headers=HTMX if htmx else {})
    assert response.status_code == 200
