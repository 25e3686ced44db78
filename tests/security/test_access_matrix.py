"""The access matrix (checklist item 5): every URL of the project by every role, GET and POST,
htmx partials and exports included.

ROUTES is the one table: for each URL name, how to build its arguments from the scene and
what each role gets. Other people's objects are a 404; a refused POST changes nothing. A URL
added to the project without an entry here fails `test_every_url_pattern_has_an_entry`.

Outcomes are "200", "404", "405", or "302 <url name>" for a redirect (where it leads).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from exports.models import ExportJob, ExportKind, ExportStatus
from tests.factories import make_couple, make_rupture, make_session
from tests.security import HTMX, ROLES, Scene, build_scene, fingerprint, outcome, url_patterns

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.django_db

OK, NOT_FOUND, NOT_ALLOWED = "200", "404", "405"
LOGIN = "302 account_login"
ADMIN_LOGIN = "302 admin:login"
SIGNED_IN = ROLES[:-1]


def roles(default: str, *, anonymous: str = LOGIN, **overrides: str) -> dict[str, str]:
    """Every signed-in role gets `default` unless named; anonymous visitors go to login."""
    table = dict.fromkeys(SIGNED_IN, default) | {"anonymous": anonymous}
    unknown = set(overrides) - set(ROLES)
    assert not unknown, f"not roles: {unknown}"
    return table | overrides


Kwargs = Callable[[Scene], dict[str, Any]]


def no_kwargs(scene: Scene) -> dict[str, Any]:
    return {}


def couple(scene: Scene) -> dict[str, Any]:
    return {"case_code": scene.world.couple.case_code}


def session(scene: Scene) -> dict[str, Any]:
    return {"pk": scene.world.session.pk}


def rupture(scene: Scene) -> dict[str, Any]:
    return {"pk": scene.world.rupture.pk}


def export_job(scene: Scene) -> dict[str, Any]:
    """The supervisor's finished export, made once in the module's scene (rolled back)."""
    job, _ = ExportJob.objects.get_or_create(
        token="matrix-export-job",
        defaults={
            "requested_by": scene.world.supervisor,
            "kind": ExportKind.RUPTURES_CSV,
            "status": ExportStatus.DONE,
            "content": b"therapist\r\n",
            "filename": "rupture-codes.csv",
            "content_type": "text/csv; charset=utf-8",
            "expires_at": timezone.now() + datetime.timedelta(hours=1),
        },
    )
    return {"token": job.token}


def owner(scene: Scene) -> dict[str, Any]:
    return {"pk": scene.world.owner.pk}


def colleague(scene: Scene) -> dict[str, Any]:
    return {"pk": scene.world.colleague.pk}


MATRIX_INVITATION = uuid.UUID("00000000-0000-4000-8000-000000000022")


def invitation(scene: Scene) -> dict[str, Any]:
    """A link sent to the owner's couple's partner A (made once in the module's scene)."""
    from invitations.models import Invitation, InvitationStatus

    made, _ = Invitation.objects.get_or_create(
        request_token=MATRIX_INVITATION,
        defaults={
            "couple": scene.world.couple,
            "partner": "A",
            "purpose": "session",
            "session": scene.world.session,
            "status": InvitationStatus.SENT,
            "address_digest": "0" * 64,
            "created_by": scene.world.owner,
            "expires_at": timezone.now() + datetime.timedelta(hours=1),
        },
    )
    return {"case_code": scene.world.couple.case_code, "pk": made.pk}


MATRIX_MEETING = uuid.UUID("00000000-0000-4000-8000-000000000019")


def meeting(scene: Scene) -> dict[str, Any]:
    """The supervisor's meeting with the owner, three days ago (made once in the scene)."""
    from supervision.models import MeetingAttendance, SupervisionMeeting

    made, created = SupervisionMeeting.objects.get_or_create(
        request_token=MATRIX_MEETING,
        defaults={
            "practice": scene.world.practice,
            "supervisor": scene.world.supervisor,
            "starts_at": timezone.now() - datetime.timedelta(days=3),
            "duration_minutes": 60,
            "format": "individual",
        },
    )
    if created:
        MeetingAttendance.objects.create(meeting=made, supervisee=scene.world.owner)
    return {"pk": made.pk}


def meeting_data(scene: Scene) -> dict[str, Any]:
    """A meeting yesterday with the owner on the owner's couple (clear of `meeting`)."""
    return {
        "held_on": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
        "starts_at_time": "10:00",
        "duration_minutes": "50",
        "format": "individual",
        "supervisees": [str(scene.world.owner.pk)],
        "cases": [scene.world.couple.case_code],
    }


MATRIX_PLAN = uuid.UUID("00000000-0000-4000-8000-000000000021")


def plan_revision(scene: Scene) -> dict[str, Any]:
    """Revision 1 of the owner's plan, awaiting the supervisor's co-signature (made once)."""
    from plans.models import PlanCosignState, PlanRevision

    made, _ = PlanRevision.objects.get_or_create(
        request_token=MATRIX_PLAN,
        defaults={
            "couple": scene.world.couple,
            "revision": 1,
            "author": scene.world.owner,
            "plan_date": timezone.localdate(),
            "review_on": timezone.localdate() + datetime.timedelta(weeks=12),
            "cosign_state": PlanCosignState.AWAITING,
        },
    )
    return {"case_code": scene.world.couple.case_code, "revision": made.revision}


@dataclass(frozen=True)
class Route:
    kwargs: Kwargs
    get: dict[str, str]
    post: dict[str, str]
    data: Callable[[Scene], dict[str, Any]] = field(default=no_kwargs)
    htmx: tuple[str, ...] = ()  # the methods whose htmx request answers with a page region
    htmx_post: dict[str, str] | None = None  # when the htmx POST answers differently


# Pages any signed-in person reaches (their own account, their own lists).
ACCOUNT_GET = roles(OK)
# Read-only views: anything but GET is refused before anything else happens.
POST_REFUSED = roles(NOT_ALLOWED)
GET_REFUSED = roles(NOT_ALLOWED)
# An export started: its job's status page.
STARTED = "302 exports:status"
# The admin: staff only (the practice admin); everyone else is sent to its login.
ADMIN = roles(ADMIN_LOGIN, practice_admin=OK)

ROUTES: dict[str, Route] = {
    # Start page: each role to where it starts.
    "home": Route(
        no_kwargs,
        get=roles("302 cycles:caseload", practice_admin="302 people:practice"),
        post=roles(NOT_ALLOWED, anonymous=LOGIN),
    ),
    # Public: load balancers' health check answers without login.
    "health": Route(
        no_kwargs, get=roles(OK, anonymous=OK), post=roles(NOT_ALLOWED, anonymous=NOT_ALLOWED)
    ),
    # Sign-in pages (allauth). Signed in, the login page sends you home.
    "account_login": Route(
        no_kwargs, get=roles("302 home", anonymous=OK), post=roles("302 home", anonymous=OK)
    ),
    "account_logout": Route(no_kwargs, get=ACCOUNT_GET, post=roles(LOGIN)),
    # Public on purpose: where allauth sends a deactivated account's sign-in (static text).
    "account_inactive": Route(
        no_kwargs, get=roles(OK, anonymous=OK), post=roles(NOT_ALLOWED, anonymous=NOT_ALLOWED)
    ),
    "account_reauthenticate": Route(no_kwargs, get=ACCOUNT_GET, post=roles(OK)),
    "account_change_password": Route(no_kwargs, get=ACCOUNT_GET, post=roles(OK)),
    "mfa_index": Route(no_kwargs, get=ACCOUNT_GET, post=POST_REFUSED),
    # Only during a sign-in's second stage; a signed-in person is sent home.
    "mfa_authenticate": Route(no_kwargs, get=roles("302 home"), post=roles("302 home")),
    "mfa_reauthenticate": Route(no_kwargs, get=ACCOUNT_GET, post=roles(OK)),
    # Everyone here has an authenticator already: activation leads to deactivation's page.
    "mfa_activate_totp": Route(
        no_kwargs, get=roles("302 mfa_deactivate_totp"), post=roles("302 mfa_deactivate_totp")
    ),
    "mfa_deactivate_totp": Route(no_kwargs, get=ACCOUNT_GET, post=roles("302 mfa_index")),
    # No recovery codes generated yet: nothing to view or download.
    "mfa_view_recovery_codes": Route(no_kwargs, get=roles(NOT_FOUND), post=POST_REFUSED),
    "mfa_generate_recovery_codes": Route(
        no_kwargs, get=ACCOUNT_GET, post=roles("302 mfa_view_recovery_codes")
    ),
    "mfa_download_recovery_codes": Route(no_kwargs, get=roles(NOT_FOUND), post=roles(NOT_FOUND)),
    # The partner screen: with no lock in this browser session it only leads home.
    "partner_screen": Route(no_kwargs, get=roles("302 home"), post=roles("302 home")),
    "partner_screen_unlock": Route(no_kwargs, get=GET_REFUSED, post=roles("302 home")),
    # Remote answer links (invitations). The partner's page answers anyone: a made-up token
    # gets the dead-link page (test_link_security). The panel: the therapist, and the
    # supervisor reading statuses; addresses, sending and revoking: the therapist only.
    "invitations:answer": Route(
        lambda s: {"token": "matrix-no-such-link-0000000000000000000000"},
        get=roles(OK, anonymous=OK),
        post=roles(OK, anonymous=OK),
    ),
    "invitations:panel": Route(
        couple,
        get=roles(NOT_FOUND, owner=OK, supervisor=OK),
        post=POST_REFUSED,
        htmx=("get",),
    ),
    "invitations:contact": Route(
        couple,
        get=roles(NOT_FOUND, owner=OK),
        post=roles(NOT_FOUND, owner="302 invitations:panel"),
    ),
    "invitations:send": Route(
        couple, get=GET_REFUSED, post=roles(NOT_FOUND, owner="302 invitations:panel")
    ),
    "invitations:revoke": Route(
        invitation, get=GET_REFUSED, post=roles(NOT_FOUND, owner="302 invitations:panel")
    ),
    # Couples (cycles.urls). Reads: the therapist and their supervisor; writes: the therapist.
    # The search is a POST, so partners' names never reach a URL (cycles.views.caseload).
    "cycles:caseload": Route(no_kwargs, get=ACCOUNT_GET, post=ACCOUNT_GET, htmx=("get", "post")),
    "cycles:new": Route(
        no_kwargs,
        get=roles(OK, supervisor=NOT_FOUND, other_supervisor=NOT_FOUND, practice_admin=NOT_FOUND),
        post=roles(OK, supervisor=NOT_FOUND, other_supervisor=NOT_FOUND, practice_admin=NOT_FOUND),
    ),
    "cycles:detail": Route(
        couple, get=roles(NOT_FOUND, owner=OK, supervisor=OK), post=POST_REFUSED
    ),
    "cycles:edit": Route(couple, get=roles(NOT_FOUND, owner=OK), post=roles(NOT_FOUND, owner=OK)),
    # Closing and reopening: the therapist only. An empty close is refused on its form (200);
    # the scene's couple is open, so reopening it leads back to its page.
    "cycles:close": Route(couple, get=roles(NOT_FOUND, owner=OK), post=roles(NOT_FOUND, owner=OK)),
    "cycles:reopen": Route(
        couple,
        get=roles(NOT_FOUND, owner="302 cycles:detail"),
        post=roles(NOT_FOUND, owner="302 cycles:detail"),
    ),
    # Transfers: the practice admin (any case of the practice) and the therapist's own
    # supervisor; an empty transfer is refused on its form (200).
    "cycles:transfers": Route(
        no_kwargs,
        get=roles(NOT_FOUND, supervisor=OK, other_supervisor=OK, practice_admin=OK),
        post=POST_REFUSED,
    ),
    "cycles:transfer": Route(
        couple,
        get=roles(NOT_FOUND, supervisor=OK, practice_admin=OK),
        post=roles(NOT_FOUND, supervisor=OK, practice_admin=OK),
    ),
    # Co-therapy is set like a transfer: the practice admin or the therapist's supervisor (an
    # empty form is refused on the form, 200). Who reads what after: test_co_therapy_access.
    "cycles:co_therapist": Route(
        couple,
        get=roles(NOT_FOUND, supervisor=OK, practice_admin=OK),
        post=roles(NOT_FOUND, supervisor=OK, practice_admin=OK),
    ),
    # Keeping records: the practice admin sets the period and asks for a destruction (the
    # scene's couple is open: refused with a message on the retention page); the couple's
    # therapist or supervisor confirms one that waits (none here: 404).
    "cycles:retention": Route(
        no_kwargs, get=roles(NOT_FOUND, practice_admin=OK), post=roles(NOT_FOUND, practice_admin=OK)
    ),
    "cycles:destroy": Route(
        couple, get=GET_REFUSED, post=roles(NOT_FOUND, practice_admin="302 cycles:retention")
    ),
    "cycles:destroy_confirm": Route(couple, get=roles(NOT_FOUND), post=roles(NOT_FOUND)),
    "cycles:cycle_edit": Route(
        couple,
        get=roles(NOT_FOUND, owner=OK),
        post=roles(NOT_FOUND, owner=OK),
        data=lambda s: {
            "action": "add:A",
            "A-TOTAL_FORMS": "0",
            "A-INITIAL_FORMS": "0",
            "B-TOTAL_FORMS": "0",
            "B-INITIAL_FORMS": "0",
        },
        htmx=("get", "post"),
    ),
    "cycles:cycle_history": Route(
        couple, get=roles(NOT_FOUND, owner=OK, supervisor=OK), post=POST_REFUSED
    ),
    # Restoring an earlier revision: the therapist only; a revision not on record is refused
    # on the history page (200), so the matrix's post changes nothing.
    "cycles:cycle_restore": Route(
        couple,
        get=GET_REFUSED,
        post=roles(NOT_FOUND, owner=OK),
        data=lambda s: {"revision": "999", "base_revision": "1"},
    ),
    # Exports: the GET shows the button, the POST starts a job and leads to its page.
    "cycles:pdf": Route(
        couple, get=roles(NOT_FOUND, owner=OK), post=roles(NOT_FOUND, owner=STARTED)
    ),
    "cycles:share": Route(
        couple,
        get=GET_REFUSED,
        post=roles(NOT_FOUND, owner="302 cycles:detail"),
        data=lambda s: {"group": s.world.group.pk},
    ),
    # Without a group chosen the preview sends its therapist back to the couple page.
    "cycles:share_preview": Route(
        couple, get=roles(NOT_FOUND, owner="302 cycles:detail"), post=POST_REFUSED
    ),
    "cycles:withdraw_share": Route(
        lambda s: {"case_code": s.world.couple.case_code, "share_pk": s.share.pk},
        get=GET_REFUSED,
        post=roles(NOT_FOUND, owner="302 cycles:detail"),
    ),
    # The couple's treatment plan (plans.urls): reads as the couple page, writes the therapist's.
    "plans:detail": Route(couple, get=roles(NOT_FOUND, owner=OK, supervisor=OK), post=POST_REFUSED),
    # An empty post is refused on the form (200), so the matrix's post saves nothing.
    "plans:edit": Route(couple, get=roles(NOT_FOUND, owner=OK), post=roles(NOT_FOUND, owner=OK)),
    # With no plan on record there is no goal to mark: refused on the plan page (200).
    "plans:mark": Route(
        couple,
        get=GET_REFUSED,
        post=roles(NOT_FOUND, owner=OK),
        data=lambda s: {"position": "1", "status": "met", "base_revision": "1"},
    ),
    "plans:history": Route(
        couple, get=roles(NOT_FOUND, owner=OK, supervisor=OK), post=POST_REFUSED
    ),
    # A revision and its co-signature: read as the plan; only a supervisor of its author
    # co-signs (the author is sent back to the revision, nothing recorded).
    "plans:revision": Route(
        plan_revision, get=roles(NOT_FOUND, owner=OK, supervisor=OK), post=POST_REFUSED
    ),
    "plans:review": Route(
        plan_revision,
        get=GET_REFUSED,
        post=roles(
            NOT_FOUND,
            owner="302 plans:revision",
            supervisor="302 therapy_sessions:cosign_queue",
        ),
        data=lambda s: {"outcome": "cosign"},
    ),
    # The supervisor's screens: supervisors only, and only their supervisees' couples.
    "supervision:review": Route(
        no_kwargs,
        get=roles(NOT_FOUND, supervisor=OK, other_supervisor=OK),
        post=POST_REFUSED,
        htmx=("get",),
    ),
    # GET is the flag's form, asked for from the review (its page, or its region with htmx).
    "supervision:acknowledge": Route(
        lambda s: {"pk": s.flag.pk},
        get=roles(NOT_FOUND, supervisor=OK),
        post=roles(NOT_FOUND, supervisor="302 supervision:review"),
        data=lambda s: {"comment": "Seen; let's talk on Thursday."},
        htmx=("get", "post"),
        htmx_post=roles(NOT_FOUND, supervisor=OK),  # the acknowledged flag's region
    ),
    "supervision:therapist": Route(
        lambda s: {"pk": s.world.owner.pk},
        get=roles(NOT_FOUND, supervisor=OK),
        post=POST_REFUSED,
    ),
    "supervision:cosign_setting": Route(
        lambda s: {"pk": s.world.owner.pk},
        get=GET_REFUSED,
        post=roles(NOT_FOUND, supervisor="302 supervision:therapist"),
        data=lambda s: {"notes_need_cosign": "yes"},
    ),
    # The other supervisor's export has their own supervisees' rows only.
    "supervision:ruptures_csv": Route(
        no_kwargs,
        get=roles(NOT_FOUND, supervisor=OK, other_supervisor=OK),
        post=roles(NOT_FOUND, supervisor=STARTED, other_supervisor=STARTED),
    ),
    # The supervision log: a supervisor's own meetings (logged for their own supervisees only:
    # the other supervisor's POST naming the owner is refused beside the field, nothing saved),
    # a therapist's own entries; the practice admin reads none of it.
    "supervision:log": Route(no_kwargs, get=roles(OK, practice_admin=NOT_FOUND), post=POST_REFUSED),
    "supervision:log_new": Route(
        no_kwargs,
        get=roles(NOT_FOUND, supervisor=OK, other_supervisor=OK),
        post=roles(NOT_FOUND, supervisor="302 supervision:log", other_supervisor=OK),
        data=meeting_data,
    ),
    # Only a supervisee present at the meeting confirms it.
    "supervision:log_confirm": Route(
        meeting, get=GET_REFUSED, post=roles(NOT_FOUND, owner="302 supervision:log")
    ),
    # Hours: the clinician their own, their supervisor, the practice admin (counts, no codes).
    "supervision:hours_own": Route(
        no_kwargs,
        get=roles(OK, supervisor=NOT_FOUND, other_supervisor=NOT_FOUND, practice_admin=NOT_FOUND),
        post=POST_REFUSED,
    ),
    "supervision:hours": Route(
        owner, get=roles(NOT_FOUND, owner=OK, supervisor=OK, practice_admin=OK), post=POST_REFUSED
    ),
    "supervision:hours_csv": Route(
        owner, get=roles(NOT_FOUND, owner=OK, supervisor=OK, practice_admin=OK), post=POST_REFUSED
    ),
    "supervision:hours_pdf": Route(
        owner, get=roles(NOT_FOUND, owner=OK, supervisor=OK, practice_admin=OK), post=POST_REFUSED
    ),
    "supervision:hours_overview": Route(
        no_kwargs,
        get=roles(NOT_FOUND, supervisor=OK, other_supervisor=OK, practice_admin=OK),
        post=POST_REFUSED,
    ),
    "supervision:hours_rules": Route(
        no_kwargs,
        get=roles(NOT_FOUND, practice_admin=OK),
        post=roles(NOT_FOUND, practice_admin="302 supervision:hours_rules"),
        data=lambda s: {
            "version": "1",
            "direct_target_hours": "500",
            "relational_target_hours": "250",
            "supervision_target_hours": "100",
            "observable_target_hours": "50",
            "individual_max_supervisees": "2",
            "group_max_supervisees": "8",
            "weekly_base_units": "1",
            "client_hours_per_extra_unit": "5",
            "individual_unit_minutes": "60",
            "group_unit_minutes": "120",
        },
    ),
    # Consultation groups: members only, de-identified.
    "consultation:groups": Route(no_kwargs, get=ACCOUNT_GET, post=POST_REFUSED),
    "consultation:group": Route(
        lambda s: {"pk": s.world.group.pk},
        get=roles(NOT_FOUND, owner=OK, group_member=OK),
        post=POST_REFUSED,
    ),
    "consultation:case": Route(
        lambda s: {"pk": s.world.group.pk, "code": s.share.code},
        get=roles(NOT_FOUND, owner=OK, group_member=OK),
        post=POST_REFUSED,
    ),
    "consultation:case_pdf": Route(
        lambda s: {"pk": s.world.group.pk, "code": s.share.code},
        get=roles(NOT_FOUND, owner=OK, group_member=OK),
        post=POST_REFUSED,
    ),
    # The practice admin's audit trail: nobody else's, exported only after a recent check.
    "people:audit": Route(no_kwargs, get=roles(NOT_FOUND, practice_admin=OK), post=POST_REFUSED),
    "people:audit_csv": Route(
        no_kwargs,
        get=roles(NOT_FOUND, practice_admin="302 exports:audit"),
        post=roles(NOT_FOUND, practice_admin="307 exports:audit"),
    ),
    "exports:audit": Route(
        no_kwargs,
        get=roles(NOT_FOUND, practice_admin=OK),
        post=roles(NOT_FOUND, practice_admin=STARTED),
    ),
    # A therapist's own caseload's rupture codes: every therapist, their own couples only.
    "exports:caseload_ruptures": Route(
        no_kwargs,
        get=roles(NOT_FOUND, owner=OK, colleague=OK, outsider=OK, group_member=OK),
        post=roles(
            NOT_FOUND, owner=STARTED, colleague=STARTED, outsider=STARTED, group_member=STARTED
        ),
    ),
    # The whole record (right of access): the couple's own therapist only.
    "exports:whole_record": Route(
        couple,
        get=roles(NOT_FOUND, owner=OK),
        post=roles(NOT_FOUND, owner=STARTED),
        data=lambda s: {"copy": "joint"},
    ),
    # An export's page and file: the person who asked for it only.
    "exports:status": Route(
        export_job, get=roles(NOT_FOUND, supervisor=OK), post=POST_REFUSED, htmx=("get",)
    ),
    "exports:download": Route(export_job, get=roles(NOT_FOUND, supervisor=OK), post=POST_REFUSED),
    # The people of one's own practice and their roles: no clinical content.
    "people:practice": Route(no_kwargs, get=ACCOUNT_GET, post=roles(NOT_ALLOWED, anonymous=LOGIN)),
    # People leaving and account recovery (people.offboarding): the practice admin, for people
    # of their own practice (the colleague here; the outsider is tests/people/test_offboarding).
    "people:person": Route(colleague, get=roles(NOT_FOUND, practice_admin=OK), post=POST_REFUSED),
    # Whether the owner's signed notes wait for their supervisor's co-signature.
    "people:cosigning": Route(
        owner,
        get=GET_REFUSED,
        post=roles(NOT_FOUND, practice_admin="302 people:person"),
        data=lambda s: {"supervisor": s.world.supervisor.pk, "notes_need_cosign": "yes"},
    ),
    "people:deactivate": Route(
        colleague,
        get=roles(NOT_FOUND, practice_admin=OK),
        post=roles(NOT_FOUND, practice_admin="302 people:person"),
    ),
    # The colleague is active: reactivating says so and changes nothing.
    "people:reactivate": Route(
        colleague,
        get=roles(NOT_FOUND, practice_admin=OK),
        post=roles(NOT_FOUND, practice_admin="302 people:person"),
    ),
    "people:send_reset_link": Route(
        colleague,
        get=roles(NOT_FOUND, practice_admin=OK),
        post=roles(NOT_FOUND, practice_admin="302 people:person"),
    ),
    "people:reset_authenticator": Route(
        colleague,
        get=roles(NOT_FOUND, practice_admin=OK),
        post=roles(NOT_FOUND, practice_admin="302 people:person"),
    ),
    # Public: the page a reset link opens; a made-up link says so to anyone, changing nothing.
    "people:password_reset": Route(
        lambda s: {"uidb64": "MQ", "token": "made-up-token"},
        get=roles(OK, anonymous=OK),
        post=roles(OK, anonymous=OK),
    ),
    # Sessions.
    "therapy_sessions:new": Route(
        couple, get=roles(NOT_FOUND, owner=OK), post=roles(NOT_FOUND, owner=OK)
    ),
    "therapy_sessions:detail": Route(
        session, get=roles(NOT_FOUND, owner=OK, supervisor=OK), post=POST_REFUSED
    ),
    "therapy_sessions:edit": Route(
        session, get=roles(NOT_FOUND, owner=OK), post=roles(NOT_FOUND, owner=OK)
    ),
    "therapy_sessions:withdraw": Route(
        session,
        get=GET_REFUSED,
        post=roles(NOT_FOUND, owner="302 cycles:detail"),
        data=lambda s: {"reason": "Logged by mistake."},
    ),
    # Signing: the therapist signs; a supervisor of theirs co-signs or sends back; each
    # clinician's own sign-off queue.
    "therapy_sessions:sign": Route(
        session, get=GET_REFUSED, post=roles(NOT_FOUND, owner="302 therapy_sessions:detail")
    ),
    "therapy_sessions:review": Route(
        session,
        get=GET_REFUSED,
        post=roles(
            NOT_FOUND,
            owner="302 therapy_sessions:detail",
            supervisor="302 therapy_sessions:detail",
        ),
        data=lambda s: {"outcome": "cosign"},
    ),
    "therapy_sessions:cosign_queue": Route(
        no_kwargs, get=roles(OK, practice_admin=NOT_FOUND), post=POST_REFUSED
    ),
    "therapy_sessions:measures": Route(
        session,
        get=roles(NOT_FOUND, owner=OK),
        post=roles(NOT_FOUND, owner="302 therapy_sessions:detail"),
    ),
    "therapy_sessions:partner_screen_start": Route(
        lambda s: {"pk": s.world.session.pk, "partner": "A"},
        get=GET_REFUSED,
        post=roles(NOT_FOUND, owner="302 partner_screen"),
    ),
    # The safety screen (sessions.safety_views): only the therapist hands the device over (the
    # scene's practice has no safety screen, so back to the couple page, which says so); the
    # therapist or supervisor records an assessment.
    "therapy_sessions:hand_over": Route(
        couple,
        get=GET_REFUSED,
        post=roles(NOT_FOUND, owner="302 cycles:detail"),
        data=lambda s: {"partner": "A"},
    ),
    "therapy_sessions:safety_review": Route(
        couple,
        get=GET_REFUSED,
        post=roles(NOT_FOUND, owner="302 cycles:detail", supervisor="302 cycles:detail"),
        data=lambda s: {"partner": "A", "outcome": "conjoint_can_continue"},
    ),
    # Ruptures, in place on the session page.
    "ruptures:add": Route(
        lambda s: {"session_pk": s.world.session.pk},
        get=GET_REFUSED,
        post=roles(NOT_FOUND, owner=OK),
        htmx=("post",),
    ),
    "ruptures:repair": Route(
        lambda s: {"session_pk": s.later.pk, "pk": s.world.rupture.pk},
        get=GET_REFUSED,
        post=roles(NOT_FOUND, owner=OK),
        htmx=("post",),
    ),
    "ruptures:repair_form": Route(
        lambda s: {"session_pk": s.later.pk, "pk": s.world.rupture.pk},
        get=roles(NOT_FOUND, owner=OK),
        post=POST_REFUSED,
        htmx=("get",),
    ),
    "ruptures:repair_undo": Route(
        lambda s: {"session_pk": s.mender.pk, "pk": s.repaired.pk},
        get=GET_REFUSED,
        post=roles(NOT_FOUND, owner=OK),
        htmx=("post",),
    ),
    "ruptures:edit": Route(
        rupture, get=roles(NOT_FOUND, owner=OK), post=roles(NOT_FOUND, owner=OK)
    ),
    "ruptures:withdraw": Route(
        rupture,
        get=GET_REFUSED,
        post=roles(NOT_FOUND, owner="302 therapy_sessions:detail"),
        data=lambda s: {"reason": "Logged by mistake."},
    ),
    # The nightly runs: the practice admin's, no clinical content.
    "ruptures:runs": Route(
        no_kwargs, get=roles(NOT_FOUND, practice_admin=OK), post=POST_REFUSED, htmx=("get",)
    ),
    "ruptures:recheck_today": Route(
        no_kwargs, get=GET_REFUSED, post=roles(NOT_FOUND, practice_admin="302 ruptures:runs")
    ),
    "ruptures:run_start": Route(
        no_kwargs, get=GET_REFUSED, post=roles(NOT_FOUND, practice_admin="302 ruptures:runs")
    ),
    # The admin, representative pages (the rest: ADMIN_COVERED_ELSEWHERE). The practice admin
    # sees no couple: its change page answers "doesn't exist" with a redirect to the index.
    "admin:index": Route(
        no_kwargs,
        get=roles(ADMIN_LOGIN, practice_admin=OK, anonymous=ADMIN_LOGIN),
        post=roles(ADMIN_LOGIN, practice_admin=OK, anonymous=ADMIN_LOGIN),
    ),
    "admin:cycles_couple_changelist": Route(no_kwargs, get=ADMIN, post=ADMIN),
    "admin:cycles_couple_change": Route(
        lambda s: {"object_id": s.world.couple.pk},
        get=roles(ADMIN_LOGIN, practice_admin="302 admin:index"),
        post=roles(ADMIN_LOGIN, practice_admin="302 admin:index"),
    ),
    "admin:people_user_changelist": Route(no_kwargs, get=ADMIN, post=ADMIN),
    "admin:people_signalthresholds_changelist": Route(no_kwargs, get=ADMIN, post=ADMIN),
    "admin:therapy_sessions_measuredefinition_changelist": Route(no_kwargs, get=ADMIN, post=ADMIN),
    "admin:people_user_change": Route(
        lambda s: {"object_id": s.world.owner.pk}, get=ADMIN, post=ADMIN
    ),
}

COVERED = "admin (covered by tests/people/test_admin_scoping.py)"
ADMIN_COVERED_ELSEWHERE: dict[str, str] = dict.fromkeys(
    [
        "admin:login",
        "admin:logout",
        "admin:password_change",
        "admin:password_change_done",
        "admin:autocomplete",
        "admin:jsi18n",
        "admin:view_on_site",
        "admin:auth_group_changelist",
        "admin:auth_group_add",
        "admin:auth_group_history",
        "admin:auth_group_delete",
        "admin:auth_group_change",
        "admin:<unnamed admin/auth/group/<path:object_id>/>",
        "admin:account_emailaddress_changelist",
        "admin:account_emailaddress_add",
        "admin:account_emailaddress_history",
        "admin:account_emailaddress_delete",
        "admin:account_emailaddress_change",
        "admin:<unnamed admin/account/emailaddress/<path:object_id>/>",
        "admin:mfa_authenticator_changelist",
        "admin:mfa_authenticator_add",
        "admin:mfa_authenticator_history",
        "admin:mfa_authenticator_delete",
        "admin:mfa_authenticator_change",
        "admin:<unnamed admin/mfa/authenticator/<path:object_id>/>",
        "admin:people_practice_changelist",
        "admin:people_practice_add",
        "admin:people_practice_history",
        "admin:people_practice_delete",
        "admin:people_practice_change",
        "admin:<unnamed admin/people/practice/<path:object_id>/>",
        "admin:auth_user_password_change",
        "admin:people_user_add",
        "admin:people_user_history",
        "admin:people_user_delete",
        "admin:<unnamed admin/people/user/<path:object_id>/>",
        "admin:people_supervision_changelist",
        "admin:people_supervision_add",
        "admin:people_supervision_history",
        "admin:people_supervision_delete",
        "admin:people_supervision_change",
        "admin:<unnamed admin/people/supervision/<path:object_id>/>",
        "admin:people_consultationgroup_changelist",
        "admin:people_consultationgroup_add",
        "admin:people_consultationgroup_history",
        "admin:people_consultationgroup_delete",
        "admin:people_consultationgroup_change",
        "admin:<unnamed admin/people/consultationgroup/<path:object_id>/>",
        "admin:cycles_couple_add",
        "admin:cycles_couple_history",
        "admin:cycles_couple_delete",
        "admin:<unnamed admin/cycles/couple/<path:object_id>/>",
        "admin:cycles_partner_changelist",
        "admin:cycles_partner_add",
        "admin:cycles_partner_history",
        "admin:cycles_partner_delete",
        "admin:cycles_partner_change",
        "admin:<unnamed admin/cycles/partner/<path:object_id>/>",
        "admin:cycles_emotionterm_changelist",
        "admin:cycles_emotionterm_add",
        "admin:cycles_emotionterm_history",
        "admin:cycles_emotionterm_delete",
        "admin:cycles_emotionterm_change",
        "admin:<unnamed admin/cycles/emotionterm/<path:object_id>/>",
        "admin:cycles_cyclemap_changelist",
        "admin:cycles_cyclemap_add",
        "admin:cycles_cyclemap_history",
        "admin:cycles_cyclemap_delete",
        "admin:cycles_cyclemap_change",
        "admin:<unnamed admin/cycles/cyclemap/<path:object_id>/>",
        "admin:cycles_cyclestep_changelist",
        "admin:cycles_cyclestep_add",
        "admin:cycles_cyclestep_history",
        "admin:cycles_cyclestep_delete",
        "admin:cycles_cyclestep_change",
        "admin:<unnamed admin/cycles/cyclestep/<path:object_id>/>",
        "admin:cycles_caseshare_changelist",
        "admin:cycles_caseshare_add",
        "admin:cycles_caseshare_history",
        "admin:cycles_caseshare_delete",
        "admin:cycles_caseshare_change",
        "admin:<unnamed admin/cycles/caseshare/<path:object_id>/>",
        "admin:therapy_sessions_therapysession_changelist",
        "admin:therapy_sessions_therapysession_add",
        "admin:therapy_sessions_therapysession_history",
        "admin:therapy_sessions_therapysession_delete",
        "admin:therapy_sessions_therapysession_change",
        "admin:<unnamed admin/therapy_sessions/therapysession/<path:object_id>/>",
        "admin:therapy_sessions_privatenote_changelist",
        "admin:therapy_sessions_privatenote_add",
        "admin:therapy_sessions_privatenote_history",
        "admin:therapy_sessions_privatenote_delete",
        "admin:therapy_sessions_privatenote_change",
        "admin:<unnamed admin/therapy_sessions/privatenote/<path:object_id>/>",
        "admin:ruptures_rupture_changelist",
        "admin:ruptures_rupture_add",
        "admin:ruptures_rupture_history",
        "admin:ruptures_rupture_delete",
        "admin:ruptures_rupture_change",
        "admin:<unnamed admin/ruptures/rupture/<path:object_id>/>",
        "admin:ruptures_rupturesummary_changelist",
        "admin:ruptures_rupturesummary_add",
        "admin:ruptures_rupturesummary_history",
        "admin:ruptures_rupturesummary_delete",
        "admin:ruptures_rupturesummary_change",
        "admin:<unnamed admin/ruptures/rupturesummary/<path:object_id>/>",
        "admin:app_list",
        "admin:<unnamed admin/(?P<url>.*)$>",
    ],
    COVERED,
) | dict.fromkeys(
    [
        "admin:people_signalthresholds_add",
        "admin:people_signalthresholds_change",
        "admin:people_signalthresholds_delete",
        "admin:people_signalthresholds_history",
        "admin:<unnamed admin/people/signalthresholds/<path:object_id>/>",
        "admin:therapy_sessions_measuredefinition_add",
        "admin:therapy_sessions_measuredefinition_change",
        "admin:therapy_sessions_measuredefinition_delete",
        "admin:therapy_sessions_measuredefinition_history",
        "admin:<unnamed admin/therapy_sessions/measuredefinition/<path:object_id>/>",
    ],
    "admin (settings, not clinical: the changelist is in ROUTES; not yet in "
    "tests/people/test_admin_scoping.py)",
)


@pytest.fixture(scope="module")
def scene(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        yield build_scene()
        transaction.set_rollback(True)


def request(scene: Scene, role: str, method: str, name: str, *, htmx: bool = False) -> str:
    """One request in a savepoint rolled back afterwards, so each starts from the scene.

    A refused POST must leave the clinical tables as they were.
    """
    route = ROUTES[name]
    url = reverse(name, kwargs=route.kwargs(scene))
    headers = HTMX if htmx else {}
    with transaction.atomic():
        before = fingerprint() if method == "post" else ""
        client = scene.client(role)
        if method == "get":
            response = client.get(url, headers=headers)
        else:
            response = client.post(url, route.data(scene), headers=headers)
        result = outcome(response)
        if method == "post" and result in (NOT_FOUND, NOT_ALLOWED, LOGIN, ADMIN_LOGIN):
            assert fingerprint() == before, f"refused POST {name} as {role} changed the record"
        transaction.set_rollback(True)
    return result


def test_every_url_pattern_has_an_entry() -> None:
    project = {name for name, _ in url_patterns()}
    table = set(ROUTES) | set(ADMIN_COVERED_ELSEWHERE)
    missing = sorted(project - table)
    assert not missing, (
        f"add these URL names to ROUTES in {__file__} (arguments and each role's outcome): "
        f"{missing}"
    )
    assert not sorted(table - project), "ROUTES names URLs the project no longer has"
    assert not set(ROUTES) & set(ADMIN_COVERED_ELSEWHERE)


def test_every_entry_names_every_role() -> None:
    for name, route in ROUTES.items():
        assert set(route.get) == set(ROLES), name
        assert set(route.post) == set(ROLES), name


@pytest.mark.parametrize("name", sorted(ROUTES))
def test_each_role_gets_what_the_matrix_says(scene: Scene, name: str) -> None:
    route = ROUTES[name]
    expected = {("get", role): route.get[role] for role in ROLES} | {
        ("post", role): route.post[role] for role in ROLES
    }
    got = {(method, role): request(scene, role, method, name) for method, role in expected}
    wrong = {key: (got[key], want) for key, want in expected.items() if got[key] != want}
    assert not wrong, f"{name}: (got, expected) by (method, role): {wrong}"


@pytest.mark.parametrize(
    ("name", "method"),
    sorted((name, method) for name, route in ROUTES.items() for method in route.htmx),
)
def test_htmx_partials_are_guarded_like_their_pages(scene: Scene, name: str, method: str) -> None:
    route = ROUTES[name]
    expected = route.get if method == "get" else (route.htmx_post or route.post)
    got = {role: request(scene, role, method, name, htmx=True) for role in ROLES}
    wrong = {role: (got[role], want) for role, want in expected.items() if got[role] != want}
    assert not wrong, f"htmx {method.upper()} {name}: (got, expected) by role: {wrong}"


def test_the_owner_gets_404_for_another_practices_records(scene: Scene) -> None:
    """The other way round too: the outsider's couple is nobody's here but the outsider's."""
    with transaction.atomic():
        theirs = make_couple(scene.world.outsider)
        their_session = make_session(theirs, days_ago=2)
        their_rupture = make_rupture(their_session)
        urls = [
            reverse("cycles:detail", args=[theirs.case_code]),
            reverse("cycles:edit", args=[theirs.case_code]),
            reverse("cycles:pdf", args=[theirs.case_code]),
            reverse("therapy_sessions:detail", args=[their_session.pk]),
            reverse("therapy_sessions:measures", args=[their_session.pk]),
            reverse("ruptures:edit", args=[their_rupture.pk]),
        ]
        for role in ("owner", "supervisor", "practice_admin"):
            client = scene.client(role)
            for url in urls:
                assert client.get(url).status_code == 404, (role, url)
        assert scene.client("outsider").get(urls[0]).status_code == 200
        transaction.set_rollback(True)
