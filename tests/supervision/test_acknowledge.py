"""A supervisor acknowledges a flag on a supervisee's couple; the therapist reads it on the
couple page; a flag that reopens later is new. Nobody else can acknowledge, and bad input
saves nothing."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING

import pytest
from django.db import connection
from django.template.loader import render_to_string
from django.test import RequestFactory, TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.html import escape
from hypothesis import given, settings
from hypothesis import strategies as st

from flags.runs import day_just_ended, start_run
from people.models import AccessEvent, Supervision
from ruptures.codes import RuptureStatus
from ruptures.models import Flag, FlagAcknowledgement, FlagKind, Rupture
from supervision import review as supervision
from supervision.forms import AcknowledgeForm
from tests.factories import World, make_couple, make_user
from tests.supervision import make_flag, sign_in

if TYPE_CHECKING:
    from people.models import User

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
COMMENT = "Let's look at the grounding exercise together on Thursday."


@pytest.fixture
def world() -> World:
    return World.build()


@pytest.fixture
def flag(world: World) -> Flag:
    today = supervision.practice_today(world.supervisor)
    return make_flag(world.couple, FlagKind.UNRESOLVED_RUPTURE, today - datetime.timedelta(days=2))


def acknowledge(
    client, user: User, target: Flag, headers: dict[str, str] | None = None, **data: str
):
    sign_in(client, user)
    url = reverse("supervision:acknowledge", args=[target.pk])
    return client.post(url, data, headers=headers or {})


def a_later_day() -> datetime.date:
    return datetime.date.today() + datetime.timedelta(days=2)


# --- saving -------------------------------------------------------------------------------------


def test_the_supervisor_acknowledges_a_flag_with_a_comment_and_a_follow_up(client, world, flag):
    follow_up = a_later_day()
    next_url = reverse("supervision:review") + "?period=all"
    response = acknowledge(
        client,
        world.supervisor,
        flag,
        comment=COMMENT,
        follow_up_on=follow_up.isoformat(),
        next=next_url,
    )
    assert response.status_code == 302
    assert response["Location"] == next_url
    saved = FlagAcknowledgement.objects.get(flag=flag)
    assert (saved.by, saved.comment, saved.follow_up_on) == (world.supervisor, COMMENT, follow_up)


def test_the_acknowledgement_is_recorded_without_its_comment(client, world, flag):
    acknowledge(client, world.supervisor, flag, comment=COMMENT)
    event = AccessEvent.objects.get(action="acknowledge flag")
    assert event.user == world.supervisor
    assert (event.object_type, event.object_id) == ("flag", str(flag.pk))
    assert event.case_code == world.couple.case_code
    assert event.detail == f"kind={FlagKind.UNRESOLVED_RUPTURE}"
    assert "grounding" not in event.detail


def test_an_htmx_acknowledgement_returns_the_form_region_and_marks_the_flag(client, world, flag):
    response = acknowledge(client, world.supervisor, flag, headers=HTMX, comment=COMMENT)
    assert response.status_code == 200
    text = response.text
    assert text.lstrip().startswith(f'<div id="ack-{flag.pk}"')
    assert "<html" not in text
    assert escape(COMMENT) in text
    assert (
        f'<span id="ack-state-{flag.pk}" class="badge ok" hx-swap-oob="true">Acknowledged' in text
    )
    assert "flagAcknowledged" in response["HX-Trigger"]
    assert FlagAcknowledgement.objects.filter(flag=flag).count() == 1


def test_only_the_comment_and_date_are_taken_from_the_post(client, world, flag):
    other = make_flag(world.couple, FlagKind.GONE_QUIET, flag.opened_on)
    acknowledge(
        client,
        world.supervisor,
        flag,
        comment=COMMENT,
        by=str(world.owner.pk),
        flag=str(other.pk),
        at="2001-01-01T00:00:00Z",
    )
    saved = FlagAcknowledgement.objects.get()
    assert (saved.flag, saved.by) == (flag, world.supervisor)
    assert saved.at.year != 2001


def test_a_next_address_elsewhere_returns_to_the_review(client, world, flag):
    response = acknowledge(
        client, world.supervisor, flag, comment=COMMENT, next="https://evil.example/"
    )
    assert response["Location"] == reverse("supervision:review")


def test_a_closed_flag_stays_in_history_with_its_acknowledgements(client, world, flag):
    acknowledge(client, world.supervisor, flag, comment=COMMENT)
    Flag.objects.filter(pk=flag.pk).update(closed_on=flag.opened_on + datetime.timedelta(days=1))
    assert FlagAcknowledgement.objects.filter(flag=flag).count() == 1


# --- bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"comment": "", "follow_up_on": "2099-01-31"}, "Write a comment for the therapist."),
        ({"comment": "   ", "follow_up_on": ""}, "Write a comment for the therapist."),
        ({"comment": "x" * 2001, "follow_up_on": ""}, "at most 2000 characters"),
        ({"comment": COMMENT, "follow_up_on": "2001-01-01"}, "Choose today or a later date."),
        ({"comment": COMMENT, "follow_up_on": "31/31/2031"}, "Enter a valid date as 7 Dec 2026"),
        ({"comment": "before\x00after", "follow_up_on": ""}, "Null characters are not allowed."),
    ],
)
@pytest.mark.parametrize("headers", [{}, HTMX], ids=["plain", "htmx"])
def test_bad_input_shows_a_message_keeps_the_input_and_saves_nothing(
    client, world, flag, data, message, headers
):
    response = acknowledge(client, world.supervisor, flag, headers=headers, **data)
    assert response.status_code == 200
    text = response.text
    assert message in text
    assert 'aria-invalid="true"' in text
    if data["comment"].strip() and "\x00" not in data["comment"]:
        assert escape(data["comment"][:40]) in text
    if data["follow_up_on"]:
        assert f'value="{data["follow_up_on"]}"' in text
    assert ("<html" in text) is not bool(headers)
    assert not FlagAcknowledgement.objects.exists()
    assert not AccessEvent.objects.filter(action="acknowledge flag").exists()


def test_a_follow_up_today_is_accepted(client, world, flag):
    today = supervision.practice_today(world.supervisor)
    acknowledge(client, world.supervisor, flag, comment=COMMENT, follow_up_on=today.isoformat())
    assert FlagAcknowledgement.objects.get().follow_up_on == today


# --- who ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "role", ["owner", "colleague", "other_supervisor", "group_member", "practice_admin", "outsider"]
)
def test_nobody_but_a_supervisor_of_the_couples_therapist_can_acknowledge(
    client, world, flag, role
):
    response = acknowledge(client, getattr(world, role), flag, comment=COMMENT)
    assert response.status_code == 404
    assert not FlagAcknowledgement.objects.exists()


def test_a_therapist_who_also_supervises_cannot_acknowledge_their_own_couples_flag(client, world):
    dual = make_user(world.practice, "Dual Role", therapist=True, supervisor=True)
    Supervision.objects.create(practice=world.practice, supervisor=dual, therapist=world.colleague)
    own = make_flag(make_couple(dual), FlagKind.GONE_QUIET, datetime.date.today())
    assert acknowledge(client, dual, own, comment=COMMENT).status_code == 404
    assert not FlagAcknowledgement.objects.exists()


def test_get_is_the_form_asked_for_from_the_review(client, world, flag):
    """The review links each flag here (tests/supervision/test_review_weight.py): the page
    without JavaScript, the form's region with htmx; its read is recorded, nothing saved."""
    sign_in(client, world.supervisor)
    url = reverse("supervision:acknowledge", args=[flag.pk])
    page = client.get(url, {"next": "/supervision/?period=all"})
    assert page.status_code == 200
    assert "<html" in page.text
    assert f'action="{url}"' in page.text
    assert 'name="next" value="/supervision/?period=all"' in page.text
    region = client.get(url, headers=HTMX)
    assert region.text.lstrip().startswith(f'<div id="ack-{flag.pk}"')
    assert "<html" not in region.text
    assert 'name="request_token"' in region.text
    assert "HX-Request" in region["Vary"]
    assert [e.action for e in AccessEvent.objects.filter(object_id=str(flag.pk))] == [
        "read flag",
        "read flag",
    ]
    assert not FlagAcknowledgement.objects.exists()


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "review"])
def test_the_form_returns_only_to_a_page_of_this_site(client, world, flag, target):
    sign_in(client, world.supervisor)
    url = reverse("supervision:acknowledge", args=[flag.pk])
    page = client.get(url, {"next": target})
    assert f'name="next" value="{reverse("supervision:review")}"' in page.text


@pytest.mark.parametrize(
    "role", ["owner", "colleague", "other_supervisor", "group_member", "practice_admin", "outsider"]
)
def test_nobody_else_gets_the_form(client, world, flag, role):
    sign_in(client, getattr(world, role))
    url = reverse("supervision:acknowledge", args=[flag.pk])
    assert client.get(url).status_code == 404
    assert client.get(url, headers=HTMX).status_code == 404


def test_the_couple_page_helpers_know_who_may_acknowledge(world):
    assert supervision.can_acknowledge(world.supervisor, world.couple)
    assert not supervision.can_acknowledge(world.owner, world.couple)
    assert not supervision.can_acknowledge(world.other_supervisor, world.couple)
    assert not supervision.can_acknowledge(world.practice_admin, world.couple)


# --- what the therapist sees --------------------------------------------------------------------


def rendered_acknowledgements(flags: list[Flag], **context) -> str:
    """supervision/_acknowledgements.html as the couple page includes it, for each flag."""
    request = RequestFactory().get("/couples/C-TEST/")
    return "".join(
        render_to_string(
            "supervision/_acknowledgements.html", {"flag": flag, **context}, request=request
        )
        for flag in flags
    )


def test_the_therapist_reads_who_acknowledged_when_with_the_comment_and_follow_up(world, flag):
    follow_up = a_later_day()
    FlagAcknowledgement.objects.create(
        flag=flag, by=world.supervisor, comment="Line one\nline two", follow_up_on=follow_up
    )
    flags = list(
        Flag.objects.filter(couple=world.couple).prefetch_related(
            supervision.acknowledgements_prefetch()
        )
    )
    with CaptureQueriesContext(connection) as queries:
        html = rendered_acknowledgements(flags, can_acknowledge=False)
    assert len(queries) == 0  # prefetched: no query per flag
    assert escape(str(world.supervisor)) in html
    assert "Line one<br>line two" in html
    assert follow_up.strftime("%-d %b %Y") in html
    assert f'datetime="{follow_up.isoformat()}"' in html
    assert ">Acknowledged<" in html
    assert "<form" not in html  # the therapist gets no form


def test_the_supervisor_gets_the_form_on_the_couple_page(world, flag):
    html = rendered_acknowledgements([flag], can_acknowledge=True)
    assert reverse("supervision:acknowledge", args=[flag.pk]) in html
    assert "Not yet acknowledged" in html


def test_the_couple_page_shows_the_acknowledgement_to_the_therapist(client, world, flag):
    FlagAcknowledgement.objects.create(flag=flag, by=world.supervisor, comment=COMMENT)
    sign_in(client, world.owner)
    response = client.get(reverse("cycles:detail", args=[world.couple.case_code]))
    assert response.status_code == 200
    assert escape(COMMENT) in response.text
    assert escape(str(world.supervisor)) in response.text


# --- a flag that reopens ------------------------------------------------------------------------


def run_nightly(world: World, for_date: datetime.date) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        start_run(practice=world.practice, for_date=for_date)


def test_a_flag_that_reopens_after_acknowledgement_shows_as_new(client, world):
    """Through the nightly job: the unresolved rupture's flag opens, is acknowledged, closes
    when the rupture is resolved, and opens again (a new row) when it is marked unresolved."""
    yesterday = day_just_ended(world.practice)
    rupture = world.rupture
    run_nightly(world, yesterday - datetime.timedelta(days=2))
    first = Flag.objects.get(couple=world.couple, kind=FlagKind.UNRESOLVED_RUPTURE)
    acknowledge(client, world.supervisor, first, comment=COMMENT)

    Rupture.objects.filter(pk=rupture.pk).update(status=RuptureStatus.RESOLVED)
    run_nightly(world, yesterday - datetime.timedelta(days=1))
    first.refresh_from_db()
    assert first.closed_on is not None

    Rupture.objects.filter(pk=rupture.pk).update(status=RuptureStatus.UNRESOLVED)
    run_nightly(world, yesterday)
    again = Flag.objects.open().get(couple=world.couple, kind=FlagKind.UNRESOLVED_RUPTURE)
    assert again.pk != first.pk

    response = client.get(reverse("supervision:review"), {"ack": "pending"})
    rows = {couple.case_code: couple for couple in response.context["couples"]}
    flags = rows[world.couple.case_code].review_flags
    assert [(f.pk, f.acknowledged) for f in flags if f.kind == FlagKind.UNRESOLVED_RUPTURE] == [
        (again.pk, False)
    ]
    # The old flag keeps its acknowledgement in the history.
    assert FlagAcknowledgement.objects.get().flag_id == first.pk


# --- fuzzing ------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    comment=st.text(max_size=2100),
    follow_up_on=st.one_of(st.text(max_size=12), st.dates().map(datetime.date.isoformat)),
)
def test_any_input_is_valid_or_explained_never_an_error(comment, follow_up_on):
    form = AcknowledgeForm(
        {"comment": comment, "follow_up_on": follow_up_on}, today=datetime.date(2026, 11, 1)
    )
    if not form.is_valid():
        assert form.errors
