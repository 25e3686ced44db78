"""Every other page a person can reach is usable on a phone too (issue 18): the pages of signing
in and of one's account, the partner's own pages (a private link, the hand-over screen), and
every form and list a therapist, a supervisor and a practice admin open beside the main pages
that tests/browser/test_narrow_screens.py measures.

The data is what a working practice has: long names, several rows, links sent to the partners,
a plan with goals and two revisions, a meeting in the supervision log, closed cases, one past
retention waiting to be destroyed and one destroyed. Each test writes the widths it measured to
test-results/narrow-screens-*.txt.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.utils import timezone
from playwright.sync_api import expect

from cycles.models import Couple, CoupleStatus, CyclePosition
from cycles.services import PartnerDetails, destruction_confirm, destruction_request
from flags.runs import run_now
from invitations.links import address_digest, hash_token, link_lifetime
from invitations.models import Invitation, InvitationStatus, Purpose
from invitations.services import contact_set
from people.models import ConsultationGroup, GroupMembership, Supervision
from people.offboarding import reset_path_parts
from people.totp import enrol
from plans.services import GoalDraft, plan_save
from ruptures.codes import ConfrontationMarker, RuptureType
from ruptures.models import Flag
from sessions.models import Attendance, LeftBy
from sessions.signing import sign
from supervision.log import meeting_log
from supervision.models import MeetingFormat, ObservableData
from tests.browser.conftest import login
from tests.browser.test_narrow_screens import (
    LOADED,
    LONG_NAME,
    REPORT,
    Visit,
    measure,
    measure_here,
    report,
    visit_all,
)
from tests.conftest import TEST_TOTP_SECRET
from tests.factories import (
    PASSWORD,
    make_couple,
    make_cycle_map,
    make_practice,
    make_rupture,
    make_session,
    make_user,
)
from tests.sessions.safety_world import practice_screen, question

if TYPE_CHECKING:
    from playwright.sync_api import Page
    from pytest_django.live_server_helper import LiveServer

    from people.models import Practice, User
    from sessions.models import TherapySession
    from tests.browser.conftest import PageProblems

pytestmark = pytest.mark.browser

THERAPIST = "Bartholomew Featherstonehaugh-Cholmondeley"
SUPERVISOR = "Wilhelmina Ashcombe-Vandersteen"
# A pasted link: one word, longer than a phone is wide.
HANDOUT = "https://www.example.org/resources/emotionally-focused-therapy/de-escalation-handout.pdf"
ADDRESS = "maximiliana.featherstonehaugh-cholmondeley@longmailprovider.example.invalid"
YEAR = 365


def report_to(name: str) -> Path:
    return REPORT.with_name(f"narrow-screens-{name}.txt")


def days_ago(days: int) -> datetime.date:
    return timezone.localdate() - datetime.timedelta(days=days)


def password_step(page: Page, user: User) -> None:
    """The first step of signing in: what leads to the authenticator's page."""
    page.goto("/accounts/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(PASSWORD)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()


def sent_link(couple: Couple, session: TherapySession, partner: str, status: str) -> str:
    """A link to a partner as the send task leaves it (invitations.sending.send); its token."""
    token = f"narrow-screens-{partner}-{status}-{couple.pk}"
    now = timezone.now()
    Invitation.objects.create(
        couple=couple,
        partner=partner,
        purpose=Purpose.SESSION,
        session=session,
        status=status,
        token_hash=hash_token(token),
        address_digest=address_digest(ADDRESS),
        created_by=couple.therapist,
        expires_at=now + link_lifetime(),
        sent_at=now,
    )
    return token


def test_signing_in_and_the_account_pages_fit_a_phone_and_a_screen(
    page: Page, live_server: LiveServer
) -> None:
    practice = make_practice("Harbour Couples Practice")
    supervisor = make_user(practice, SUPERVISOR, supervisor=True)
    therapist = make_user(practice, THERAPIST, therapist=True)
    newcomer = make_user(practice, "Nia Newcomer-Okonkwo-Delacroix", therapist=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    couple = make_couple(therapist, partner_a=PartnerDetails(LONG_NAME, CyclePosition.PURSUER))
    session = make_session(couple, days_ago=1)
    contact_set(couple=couple, partner="A", email=ADDRESS)
    token = sent_link(couple, session, "A", InvitationStatus.SENT)
    uid, reset_token = reset_path_parts(newcomer)

    # Nobody signed in: the sign-in page (also where a digest's link lands a supervisor first),
    # a password-reset link from the practice admin, and a partner's private link.
    lines = measure(
        page,
        "(anonymous)",
        {
            "sign-in": "/accounts/login/",
            "sign-in from a digest link": Visit(
                f"/couples/{couple.case_code}/", lands="/accounts/login/"
            ),
            "password-reset link": f"/practice/reset/{uid}/{reset_token}/",
            "dead password-reset link": f"/practice/reset/{uid}/not-a-token/",
            "account inactive": "/accounts/inactive/",
            "partner's private link": f"/a/{token}/",
        },
    )
    # The partner answers: the thank-you page, then the same link, used, opened again.
    for question_text, choice in (
        ("How connected did you feel with the therapist in the session?", "7"),
        ("How much did you and the therapist agree on what you are working toward?", "7"),
        ("How much did you agree with how you worked together in the session?", "7"),
        ("Overall, how well did the session fit you?", "7"),
        ("Was there tension or disagreement in the session?", "No"),
    ):
        group = page.get_by_role("group", name=question_text)
        group.get_by_label(choice, exact=True).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Thank you")
    lines += measure_here(page, "(anonymous)", "partner's link: thank you")
    lines += measure(page, "(anonymous)", {"partner's link, used": f"/a/{token}/"})
    expect(page.get_by_role("heading", level=1)).to_have_text("This link no longer works")
    # Half signed in: the authenticator's code, and a first authenticator's enrolment.
    enrol(supervisor, TEST_TOTP_SECRET)
    password_step(page, supervisor)
    lines += measure(page, "supervisor", {"authenticator code": "/accounts/2fa/authenticate/"})
    page.context.clear_cookies()
    password_step(page, newcomer)
    lines += measure(page, "newcomer", {"authenticator set-up": "/accounts/2fa/totp/activate/"})
    page.context.clear_cookies()
    # Signed in: one's own account.
    RecoveryCodes.activate(supervisor)
    lines += visit_all(
        page,
        supervisor,
        live_server,
        {
            "re-authentication": "/accounts/reauthenticate/",
            "re-authentication (code)": "/accounts/2fa/reauthenticate/",
            "password change": "/accounts/password/change/",
            "recovery codes": "/accounts/2fa/recovery-codes/",
            "new recovery codes": "/accounts/2fa/recovery-codes/generate/",
            "remove authenticator": "/accounts/2fa/totp/deactivate/",
            "sign-out": "/accounts/logout/",
        },
    )
    report(lines, report_to("account"))


@dataclass
class PracticeWorld:
    """What the measured pages are about (practice_world)."""

    practice: Practice
    therapist: User
    colleague: User
    supervisor: User
    admin: User
    couple: Couple
    walk_out: TherapySession
    today: TherapySession
    closed: Couple
    past_retention: Couple
    group: ConsultationGroup
    flag: Flag
    former: User


def practice_world() -> PracticeWorld:
    """One practice as it is after months of work."""
    practice = make_practice("Harbour Couples Practice of the Northern Peninsula")
    therapist = make_user(practice, THERAPIST, therapist=True)
    colleague = make_user(practice, "Constance Okonkwo-Abernathy", therapist=True)
    supervisor = make_user(practice, SUPERVISOR, supervisor=True)
    admin = make_user(practice, "Pat Admin-Lindqvist", practice_admin=True, is_staff=True)
    former = make_user(practice, "Fenella Former-Thistlethwaite", therapist=True, is_active=False)
    practice_screen(practice)
    for person in (therapist, colleague):
        Supervision.objects.create(
            practice=practice, supervisor=supervisor, therapist=person, notes_need_cosign=True
        )
    couple = make_couple(
        therapist,
        partner_a=PartnerDetails(LONG_NAME, CyclePosition.PURSUER),
        partner_b=PartnerDetails("Theodoric Marsh-Wolstenholme", CyclePosition.WITHDRAWER),
    )
    for n in range(4):
        make_couple(therapist, partner_a=PartnerDetails(f"Avery Longworth-Pemberton {n}"))
        make_couple(colleague, partner_a=PartnerDetails(f"Rowan Ellesmere-Hartley {n}"))
    make_cycle_map(couple)
    make_cycle_map(couple)
    walk_out = make_session(
        couple, days_ago=10, attendance=Attendance.ENDED_EARLY, left_early=LeftBy.PARTNER_A
    )
    make_rupture(
        walk_out,
        rupture_type=RuptureType.CONFRONTATION,
        confrontation_markers=ConfrontationMarker.REJECTS_INTERVENTION,
        therapist_contribution=4,
        significance=5,
        reflection="I pushed the enactment before she felt safe enough to stay in it.",
    )
    make_rupture(walk_out, significance=2)
    today = make_session(
        couple,
        days_ago=1,
        progress_note="Named the cycle; she withdrew, he pushed at me. " * 8 + HANDOUT,
    )
    for status in (InvitationStatus.ANSWERED, InvitationStatus.SENT, InvitationStatus.REVOKED):
        for partner in ("A", "B"):
            sent_link(couple, today, partner, status)
    contact_set(couple=couple, partner="A", email=ADDRESS, after_each=True)
    contact_set(couple=couple, partner="B", email="theodoric.marsh@example.invalid")
    goals = [
        GoalDraft(
            stage=stage,
            interventions=f"Slow the pursuit down: reflect {LONG_NAME}'s protest, then the "
            "fear beneath it; invite Theodoric to say what happens inside as he goes quiet. "
            + HANDOUT,
            evidence=evidence,
            review_on=days_ago(-56),
        )
        for stage, evidence in ((1, "de_escalation"), (2, "withdrawer_reengagement"))
    ]
    for revision, wording in enumerate(("First plan.", "Added the re-engagement goal."), 1):
        plan_save(
            couple=couple,
            author=therapist,
            base_revision=revision - 1,
            plan_date=days_ago(40 - revision),
            review_on=days_ago(-80),
            goals=goals[:revision],
            change_note=wording,
        )
    sign(today, by=therapist)  # and it waits for the supervisor's co-signature
    run_now(practice, days_ago(1))
    flag = Flag.objects.filter(couple=couple, closed_on__isnull=True).order_by("pk").first()
    assert flag is not None, "the walk-out opens flags"
    closed = make_couple(therapist, partner_a=PartnerDetails("Ottoline Brackenbury-Smythe"))
    Couple.objects.filter(pk=closed.pk).update(
        status=CoupleStatus.COMPLETED, closed_on=days_ago(20)
    )
    # Three records past retention: one to ask about, one asked about, one destroyed.
    old = [make_couple(therapist, started_on=days_ago(9 * YEAR)) for _ in range(3)]
    Couple.objects.filter(pk__in=[c.pk for c in old]).update(
        status=CoupleStatus.COMPLETED, closed_on=days_ago(8 * YEAR)
    )
    past_retention, destroyed = (Couple.objects.get(pk=c.pk) for c in old[1:])
    destruction_request(couple=past_retention, by=admin)
    destruction_confirm(request=destruction_request(couple=destroyed, by=admin), by=therapist)
    meeting_log(
        supervisor=supervisor,
        starts_at=timezone.now() - datetime.timedelta(days=2),
        duration_minutes=90,
        format=MeetingFormat.GROUP,
        observable_data=ObservableData.RECORDING,
        supervisees=[therapist, colleague],
        cases=[couple],
        notes="Went over the walk-out and the repair plan; the enactment came too soon. " * 3
        + HANDOUT,
        request_token=None,
    )
    group = ConsultationGroup.objects.create(practice=practice, name="Thursday consultation")
    GroupMembership.objects.create(group=group, user=therapist)
    return PracticeWorld(
        practice=practice,
        therapist=therapist,
        colleague=colleague,
        supervisor=supervisor,
        admin=admin,
        couple=couple,
        walk_out=walk_out,
        today=today,
        closed=closed,
        past_retention=past_retention,
        group=group,
        flag=flag,
        former=former,
    )


def test_every_other_page_fits_a_phone_and_a_screen(
    page: Page, live_server: LiveServer, page_problems: PageProblems
) -> None:
    page_problems.allow(r"404 \(Not Found\) \(at \S+/couples/NO-SUCH-CASE/")  # on purpose
    world = practice_world()
    therapist, couple = world.therapist, world.couple
    code = couple.case_code
    rupture = world.walk_out.ruptures.order_by("pk").first()
    assert rupture is not None
    login(page, live_server, therapist)
    lines = measure(
        page,
        therapist.get_username(),
        {
            "couple with links sent": Visit(f"/couples/{code}/", ready="#remote table"),
            "new couple": "/couples/new/",
            "close the case": f"/couples/{code}/close/",
            "reopen the case": f"/couples/{world.closed.case_code}/reopen/",
            "confirm destruction": f"/couples/{world.past_retention.case_code}/destroy/confirm/",
            "share preview": f"/couples/{code}/share/preview/?group={world.group.pk}",
            "cycle-map history, compared": f"/couples/{code}/cycle/history/?from=1&to=2",
            "plan": f"/couples/{code}/plan/",
            "plan: edit": f"/couples/{code}/plan/edit/",
            "plan: history": f"/couples/{code}/plan/history/?from=1&to=2",
            "plan: revision": f"/couples/{code}/plan/revisions/2/",
            "session: edit": f"/sessions/{world.today.pk}/edit/",
            "rupture: edit": f"/ruptures/{rupture.pk}/edit/",
            "rupture: repair form": f"/sessions/{world.today.pk}/repairs/{rupture.pk}/form/",
            "remote links": f"/couples/{code}/remote/",
            "remote: addresses": f"/couples/{code}/remote/addresses/",
            "export: whole record": f"/exports/record/{code}/",
            "supervision log": "/supervision/log/",
            "my hours": "/supervision/hours/",
            "page not found": Visit("/couples/NO-SUCH-CASE/", status=404),
        },
    )
    lines += hand_over_screens(page, world)
    lines += measure(
        page,
        therapist.get_username(),
        {
            "couple, closed": Visit(f"/couples/{world.closed.case_code}/", ready=LOADED),
            "couple, safety concern": Visit(f"/couples/{code}/", ready=LOADED),
        },
    )
    expect(page.locator(".safety-notice")).to_be_visible()  # the concern the partner answered
    page.context.clear_cookies()
    supervisor, admin = world.supervisor, world.admin
    lines += visit_all(
        page,
        supervisor,
        live_server,
        {
            "supervisor review, full": "/supervision/",
            "therapist page, full": f"/supervision/therapists/{therapist.pk}/",
            "flag: acknowledge": f"/supervision/flags/{world.flag.pk}/acknowledge/",
            "export: rupture codes": "/supervision/ruptures.csv",
            "supervision log (sup.)": "/supervision/log/",
            "log a meeting": "/supervision/log/new/",
            "hours of a supervisee": f"/supervision/hours/{therapist.pk}/",
            "hours overview (sup.)": "/supervision/hours/supervisees/",
            "session to co-sign": f"/sessions/{world.today.pk}/",
            "plan to co-sign": f"/couples/{code}/plan/revisions/2/",
            "sign-off queue, full": "/sessions/awaiting-cosignature/",
            "transfers (sup.)": "/couples/transfers/",
            "transfer (sup.)": f"/couples/{code}/transfer/",
            "co-therapist (sup.)": f"/couples/{code}/co-therapist/",
        },
    )
    person = f"/practice/people/{therapist.pk}"
    lines += visit_all(
        page,
        admin,
        live_server,
        {
            "practice settings, full": "/practice/",
            "django admin": "/admin/",
            "django admin: couples": "/admin/cycles/couple/",
            "django admin: people": "/admin/people/user/",
            "django admin: a person": f"/admin/people/user/{therapist.pk}/change/",
            "audit page, full": "/practice/audit/",
            "keeping records": "/couples/retention/",
            "transfers": "/couples/transfers/",
            "transfer a case": f"/couples/{code}/transfer/",
            "co-therapist": f"/couples/{code}/co-therapist/",
            "person": f"{person}/",
            "deactivate": f"{person}/deactivate/",
            "send a reset link": f"{person}/reset-link/",
            "reset the authenticator": f"{person}/reset-authenticator/",
            "reactivate": f"/practice/people/{world.former.pk}/reactivate/",
            "hours overview": "/supervision/hours/supervisees/",
            "hours of a therapist": f"/supervision/hours/{therapist.pk}/",
            "hours rules": "/supervision/hours/rules/",
        },
    )
    report(lines, report_to("clinic"))


def hand_over_screens(page: Page, world: PracticeWorld) -> list[str]:
    """The screens a partner sees on the therapist's device, the therapist signed in: their
    questions (and the same sent with none answered), the thank-you page with the therapist's
    unlock form (and a wrong password typed in it), and the safety screen taken alone, a
    concern answered so that the couple page shows its notice."""
    who = world.therapist.get_username()
    unlock = page.get_by_label("Therapist: your password to continue")
    back = page.get_by_role("button", name="Return to the record")

    page.goto(f"/sessions/{world.today.pk}/measures/")
    with page.expect_navigation():
        page.get_by_role("button", name=f"Hand to {LONG_NAME}").click()
    lines = measure(page, who, {"hand-over: questions": "/partner-screen/"})
    with page.expect_navigation():
        page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("button", name="Skip these questions")).to_be_visible()
    lines += measure_here(page, who, "hand-over: none answered")
    with page.expect_navigation():
        page.get_by_role("button", name="Skip these questions").click()
    lines += measure(page, who, {"hand-over: thank you": "/partner-screen/"})
    unlock.fill("not the password")
    with page.expect_navigation():
        back.click()
    expect(page.get_by_text("That is not the therapist's password.")).to_be_visible()
    lines += measure_here(page, who, "hand-over: wrong password")
    unlock.fill(PASSWORD)
    with page.expect_navigation():
        back.click()
    expect(page.get_by_text("Welcome back.")).to_be_visible()

    page.goto(f"/couples/{world.couple.case_code}/")
    with page.expect_navigation():
        page.get_by_role("button", name="Screen partner A").click()
    lines += measure(page, who, {"hand-over: safety screen": "/partner-screen/"})
    for key in ("hurt", "afraid", "controlled", "forced"):
        choice = "Yes" if key == "afraid" else "No"
        page.get_by_role("group", name=question(key)).get_by_label(choice, exact=True).check()
    with page.expect_navigation():
        page.get_by_role("button", name="Done").click()
    unlock.fill(PASSWORD)
    with page.expect_navigation():
        back.click()
    expect(page.get_by_text("Welcome back.")).to_be_visible()
    return lines
