"""The safety screen each partner takes alone (sessions/safety.py, sessions/safety_views.py):
the practice's screen as a measure definition and its "positive" rule, the hand-over screen
from the couple page, the Safety concern flag it opens at once and what closes it, the couple
page's notice, and who may do what."""

from __future__ import annotations

import datetime
from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cycles.models import CoupleStatus
from flags import same_day
from ruptures.models import Flag, FlagKind
from sessions import safety
from sessions.models import MeasureDefinition, SafetyOutcome, SafetyReview, SafetyScreen
from sessions.models.measures import EnteredBy, MeasureKind
from sessions.templatetags.safety import SAFETY_CONCERN
from tests.factories import PASSWORD, World
from tests.sessions.safety_world import (
    SCREEN_NAME,
    answers,
    posted,
    practice_screen,
    question,
)

pytestmark = pytest.mark.django_db

SCREEN = "/partner-screen/"


@pytest.fixture
def world() -> World:
    return World.build()


@pytest.fixture
def screen(world: World) -> MeasureDefinition:
    return practice_screen(world.practice)


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def hand_over(client: Client, world: World, partner: str, **extra: str) -> Any:
    url = reverse("therapy_sessions:hand_over", args=[world.couple.case_code])
    return client.post(url, {"partner": partner, **extra})


def concerns(world: World) -> list[Flag]:
    return list(
        Flag.objects.filter(couple=world.couple, kind=FlagKind.SAFETY_CONCERN).order_by("pk")
    )


def record(world: World, screen: MeasureDefinition, partner: str = "A", **kw: Any) -> Any:
    entered_by = kw.pop("entered_by", EnteredBy.PARTNER)
    result = safety.record_screen(
        couple=world.couple,
        partner=partner,
        definition=screen,
        answers=answers(**kw),
        entered_by=entered_by,
        recorded_by=world.owner,
    )
    same_day.recheck([world.couple.pk])
    return result


# -- the rule ----------------------------------------------------------------------------------


def test_any_answer_at_its_items_threshold_is_positive(screen):
    assert not screen.screen_positive(answers())
    for key in ("hurt", "afraid", "controlled", "forced"):
        assert screen.screen_positive(answers(**{key: 1})), key


def test_a_total_at_or_above_the_cutoff_is_positive(world):
    items = [{"key": k, "text": k, "min": 0, "max": 3} for k in ("one", "two")]
    definition = MeasureDefinition.objects.create(
        practice=world.practice,
        code="frequency",
        name="Frequency screen",
        kind=MeasureKind.SAFETY_SCREEN,
        items=items,
        cutoff=Decimal("4"),
        lower_is_worse=False,
    )
    assert not definition.screen_positive({"one": 3, "two": 0})
    assert definition.screen_positive({"one": 2, "two": 2})
    assert definition.screen_positive({"one": 3, "two": 3})


def test_the_example_screen_says_it_is_an_invented_example():
    assert "Example safety screen" in safety.EXAMPLE_NAME
    assert "replace with the screen your practice is licensed or trained to use" in (
        safety.EXAMPLE_NAME
    )
    assert "not a validated or licensed instrument" in safety.EXAMPLE_SCREEN["citation"]


def test_a_safety_screen_is_never_a_sessions_questionnaire(world, screen):
    assert screen not in MeasureDefinition.objects.visible_to(world.owner)
    assert safety.safety_definitions(world.practice.pk) == [screen]
    page = signed_in(world.owner).get(reverse("therapy_sessions:measures", args=[world.session.pk]))
    assert SCREEN_NAME not in page.content.decode()
    assert question("hurt") not in page.content.decode()


# -- storing a screen --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "given",
    [
        {"hurt": 1},  # a question missing
        {**answers(), "hurt": 2},  # out of range
        {**answers(), "hurt": True},  # not a number
        {**answers(), "extra": 0},  # a question the screen doesn't have
    ],
)
def test_answers_that_dont_fit_the_screen_are_refused(world, screen, given):
    with pytest.raises(safety.ScreenError):
        safety.record_screen(
            couple=world.couple,
            partner="A",
            definition=screen,
            answers=given,
            entered_by=EnteredBy.PARTNER_REMOTE,
        )
    assert not SafetyScreen.objects.exists()


def test_a_questionnaire_or_another_practices_screen_is_refused(world, screen):
    csi4 = MeasureDefinition.objects.get(practice=None, code="csi4")
    elsewhere = practice_screen(world.outsider.practice)
    for definition in (csi4, elsewhere):
        with pytest.raises(safety.ScreenError):
            safety.record_screen(
                couple=world.couple,
                partner="A",
                definition=definition,
                answers=answers(),
                entered_by=EnteredBy.PARTNER,
            )
    assert not SafetyScreen.objects.exists()


def test_a_screen_sent_twice_with_its_token_is_stored_once(world, screen):
    import uuid

    token = uuid.uuid4()
    first, second = (
        safety.record_screen(
            couple=world.couple,
            partner="B",
            definition=screen,
            answers=answers(afraid=1),
            entered_by=EnteredBy.PARTNER_REMOTE,
            request_token=token,
        )
        for _ in range(2)
    )
    assert first.pk == second.pk
    assert SafetyScreen.objects.count() == 1
    assert first.positive
    assert first.entered_by == "partner_remote"
    assert first.total == 1


# -- the hand-over screen ----------------------------------------------------------------------


def test_a_positive_answer_on_the_hand_over_screen_opens_the_concern_at_once(
    world, screen, django_capture_on_commit_callbacks
):
    owner = signed_in(world.owner)
    assert hand_over(owner, world, "A").url == reverse("partner_screen")
    page = owner.get(SCREEN).content.decode()
    for key in ("hurt", "afraid", "controlled", "forced"):
        assert question(key) in page
    assert safety.PARTNER_INTRO.replace("'", "&#x27;") in page
    assert "No" in page
    assert "Yes" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = owner.post(SCREEN, posted(afraid=1))
    assert response.url == SCREEN
    stored = SafetyScreen.objects.get()
    assert (stored.partner, stored.positive, stored.entered_by) == ("A", True, "partner")
    assert stored.recorded_by == world.owner
    assert stored.answers == answers(afraid=1)
    [flag] = concerns(world)
    assert (flag.key, flag.closed_on) == ("partner:A", None)
    assert flag.opened_on == timezone.localdate()
    assert safety.GUIDANCE in flag.detail
    assert "Partner A" in flag.detail
    done = owner.get(SCREEN).content.decode()
    assert "Please hand the device back to your therapist." in done
    back = owner.post(reverse("partner_screen_unlock"), {"password": PASSWORD})
    # Back to the caseload, not the couple page: the result isn't on screen in the room.
    assert back.url == reverse("cycles:caseload")


def test_the_hand_over_screen_shows_only_that_partners_questions(world, screen):
    owner = signed_in(world.owner)
    hand_over(owner, world, "B")
    page = owner.get(SCREEN).content.decode()
    names = world.couple.partners.values_list("display_name", flat=True)
    for name in names:
        assert name not in page
    assert world.couple.case_code not in page
    assert "How connected did you feel" not in page  # no session measure
    assert 'href="/couples/' not in page  # no navigation


def test_a_partly_answered_screen_is_refused_and_nothing_is_stored(world, screen):
    owner = signed_in(world.owner)
    hand_over(owner, world, "A")
    response = owner.post(SCREEN, {"hurt": "1"})
    assert response.status_code == 200
    assert "Answer every question, or none." in response.content.decode()
    assert not SafetyScreen.objects.exists()


def test_the_partner_may_skip_the_screen(world, screen):
    owner = signed_in(world.owner)
    hand_over(owner, world, "A")
    first = owner.post(SCREEN, {})
    assert "You haven't answered any question yet" in first.content.decode()
    assert owner.post(SCREEN, {"skip": "1"}).url == SCREEN
    assert not SafetyScreen.objects.exists()
    assert "Please hand the device back" in owner.get(SCREEN).content.decode()


def test_a_negative_screen_opens_nothing(world, screen, django_capture_on_commit_callbacks):
    owner = signed_in(world.owner)
    hand_over(owner, world, "A")
    with django_capture_on_commit_callbacks(execute=True):
        owner.post(SCREEN, posted())
    assert not SafetyScreen.objects.get().positive
    assert concerns(world) == []


def test_with_no_safety_screen_the_therapist_is_told_how_to_add_one(world):
    owner = signed_in(world.owner)
    response = hand_over(owner, world, "A")
    assert response.url == world.couple.get_absolute_url()
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Your practice has no safety screen yet: a practice admin adds one in the admin, as a "
        "measure definition of kind “safety screen”."
    ]
    page = owner.get(world.couple.get_absolute_url()).content.decode()
    assert "Your practice has no safety screen yet" in page


def test_a_closed_case_is_not_screened(world, screen):
    world.couple.status = CoupleStatus.COMPLETED
    world.couple.save()
    owner = signed_in(world.owner)
    assert hand_over(owner, world, "A").url == world.couple.get_absolute_url()
    assert "partner_screen" not in owner.session


@pytest.mark.parametrize("role", ["supervisor", "colleague", "group_member", "outsider"])
def test_only_the_therapist_hands_the_device_over(world, screen, role):
    client = signed_in(getattr(world, role))
    assert hand_over(client, world, "A").status_code == 404
    assert "partner_screen" not in client.session


def test_an_unknown_partner_is_a_404(world, screen):
    assert hand_over(signed_in(world.owner), world, "C").status_code == 404


# -- the flag: what closes it ------------------------------------------------------------------


def test_a_later_negative_screen_in_person_closes_it_and_the_history_stays(world, screen):
    record(world, screen, hurt=1)
    assert concerns(world)[0].is_open
    record(world, screen)  # in person, on the hand-over screen: all "No"
    [flag] = concerns(world)
    assert flag.closed_on == timezone.localdate()


def test_a_negative_answer_from_a_remote_link_does_not_close_it(world, screen):
    record(world, screen, hurt=1)
    record(world, screen, entered_by=EnteredBy.PARTNER_REMOTE)
    [flag] = concerns(world)
    assert flag.is_open


def test_the_other_partners_negative_screen_does_not_close_it(world, screen):
    record(world, screen, "A", forced=1)
    record(world, screen, "B")
    [flag] = concerns(world)
    assert flag.is_open
    assert flag.key == "partner:A"


def test_each_partner_has_their_own_concern(world, screen):
    record(world, screen, "A", hurt=1)
    record(world, screen, "B", afraid=1, entered_by=EnteredBy.PARTNER_REMOTE)
    assert [(f.key, f.is_open) for f in concerns(world)] == [
        ("partner:A", True),
        ("partner:B", True),
    ]
    assert "answered remotely" in concerns(world)[1].detail


def test_an_assessment_closes_it_and_a_new_positive_screen_opens_a_new_one(
    world, screen, django_capture_on_commit_callbacks
):
    record(world, screen, hurt=1)
    supervisor = signed_in(world.supervisor)
    url = reverse("therapy_sessions:safety_review", args=[world.couple.case_code])
    with django_capture_on_commit_callbacks(execute=True):
        response = supervisor.post(url, {"partner": "A", "outcome": SafetyOutcome.INDIVIDUAL_WORK})
    assert response.url == world.couple.get_absolute_url()
    review = SafetyReview.objects.get()
    assert (review.partner, review.reviewed_by) == ("A", world.supervisor)
    assert not concerns(world)[0].is_open
    record(world, screen, controlled=1)
    assert [f.is_open for f in concerns(world)] == [False, True]


def test_an_assessment_needs_an_outcome_and_a_reader_of_the_case(world, screen):
    record(world, screen, hurt=1)
    url = reverse("therapy_sessions:safety_review", args=[world.couple.case_code])
    response = signed_in(world.owner).post(url, {"partner": "A"})
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "Choose what the assessment found before recording it."
    ]
    for role in ("colleague", "group_member", "outsider", "practice_admin"):
        client = signed_in(getattr(world, role))
        assert client.post(url, {"partner": "A", "outcome": "referred"}).status_code == 404
    assert not SafetyReview.objects.exists()
    assert concerns(world)[0].is_open


def test_the_nightly_run_opens_it_too(world, screen):
    from flags.runs import run_now

    safety.record_screen(
        couple=world.couple,
        partner="B",
        definition=screen,
        answers=answers(hurt=1),
        entered_by=EnteredBy.PARTNER_REMOTE,
    )
    assert concerns(world) == []  # no recheck ran
    run_now(world.practice, timezone.localdate())
    [flag] = concerns(world)
    assert flag.key == "partner:B"


def test_a_screen_after_the_runs_date_is_not_seen_by_it(world, screen):
    from flags.runs import run_now

    record(world, screen, hurt=1)
    Flag.objects.all().delete()
    run_now(world.practice, timezone.localdate() - datetime.timedelta(days=2))
    assert concerns(world) == []


def test_the_flag_kind_is_the_one_the_couple_page_reads():
    assert FlagKind.SAFETY_CONCERN == SAFETY_CONCERN


# -- the couple page ---------------------------------------------------------------------------


def test_the_couple_page_shows_a_calm_notice_and_the_screen_actions(world, screen):
    record(world, screen, "B", afraid=1)
    page = signed_in(world.owner).get(world.couple.get_absolute_url()).content.decode()
    assert "Safety concern: partner B" in page
    assert safety.GUIDANCE in page
    assert "Screen partner A" in page
    assert "Screen partner B" in page
    assert "Record the assessment" in page
    assert SCREEN_NAME in page  # the screens table
    assert "<strong>Positive</strong>" in page


def test_the_supervisor_sees_the_notice_but_no_hand_over(world, screen):
    record(world, screen, "A", hurt=1)
    client = signed_in(world.supervisor)
    page = client.get(world.couple.get_absolute_url()).content.decode()
    assert "Safety concern: partner A" in page
    assert "Screen partner A" not in page
    review = client.get(reverse("supervision:review") + "?period=all").content.decode()
    assert "Safety concern" in review


def test_the_partner_screen_query_count_is_pinned(world, screen, django_assert_num_queries):
    owner = signed_in(world.owner)
    hand_over(owner, world, "A")
    # The browser session and the user (per request), the couple, the screen: nothing that
    # grows with the record.
    with django_assert_num_queries(4):
        assert owner.get(SCREEN).status_code == 200


# -- the practice's own screens, in the admin --------------------------------------------------


def admin_form(world: World, **fields: Any) -> dict[str, Any]:
    import json

    items = [{"key": "q1", "text": "Question one", "min": 0, "max": 1}]
    return {
        "code": "our-screen",
        "name": "Our screen",
        "citation": "",
        "kind": MeasureKind.SAFETY_SCREEN,
        "items": json.dumps(items),
        "cutoff": "",
        "reliable_change": "",
        "active": "on",
    } | fields


def test_a_practice_admin_adds_a_safety_screen_with_a_rule(world):
    import json

    client = signed_in(world.practice_admin)
    url = reverse("admin:therapy_sessions_measuredefinition_add")
    refused = client.post(url, admin_form(world))
    assert refused.status_code == 200
    assert "A safety screen needs a rule" in refused.content.decode()
    higher = client.post(url, admin_form(world, cutoff="1", lower_is_worse="on"))
    assert "On a safety screen higher answers are worse" in higher.content.decode()
    items = [{"key": "q1", "text": "Question one", "min": 0, "max": 1, "positive_at": 1}]
    saved = client.post(url, admin_form(world, items=json.dumps(items)))
    assert saved.status_code == 302, saved.content.decode()[:2000]
    [added] = safety.safety_definitions(world.practice.pk)
    assert added.practice == world.practice
    assert added.screen_positive({"q1": 1})
    assert not added.screen_positive({"q1": 0})


def test_a_closed_case_opens_no_concern_and_closing_closes_it(world, screen):
    record(world, screen, hurt=1)
    world.couple.status = CoupleStatus.COMPLETED
    world.couple.save()
    same_day.recheck([world.couple.pk])
    [flag] = concerns(world)
    assert flag.closed_on == timezone.localdate()
    record(world, screen, "B", afraid=1)
    assert len(concerns(world)) == 1  # nothing new on a closed case


def test_destroying_the_record_removes_its_screens_and_assessments(world, screen):
    from cycles.services import _delete_record

    record(world, screen, hurt=1)
    safety.record_review(
        couple=world.couple, partner="A", outcome="referred", reviewed_by=world.supervisor
    )
    _delete_record(world.couple)
    assert not SafetyScreen.objects.exists()
    assert not SafetyReview.objects.exists()
    assert MeasureDefinition.objects.filter(pk=screen.pk).exists()  # the practice's screen stays
