"""Issue 18: a practice that chose "d/m/Y" reads 07/12/2026 on every page, never "7 Dec 2026"
or "7 Dec": the couple page, the session page, the supervisor's review and acknowledgement, the
sign-off queue, the nightly runs, retention and the audit trail, whose date filters are typed
the practice's way too (core.dates; the `practice_date` and `practice_datetime` filters).

Each test renders the real page as the person who uses it, and checks each date it shows twice:
in the practice's form, and not in the "j M Y" form (nor "j M") of that same day.
"""

from __future__ import annotations

import datetime
import html
import re
from typing import TYPE_CHECKING, Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cycles.models import Couple, CoupleStatus
from people.models import AccessEvent, Practice, Supervision
from ruptures.codes import RuptureStatus
from ruptures.models import Flag, FlagAcknowledgement, FlagKind, NightlyRun, RunStatus, Rupture
from sessions.models import Attendance, CancelledBy
from sessions.signing import sign
from tests.consultation import pdf_text
from tests.exports import exported, job_of, start_export
from tests.factories import World, make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from people.models import User

pytestmark = pytest.mark.django_db

UTC = datetime.UTC


# --- helpers --------------------------------------------------------------------------------


def in_day_month_year(practice: Practice) -> None:
    Practice.objects.filter(pk=practice.pk).update(date_format="d/m/Y")


def world_in_day_month_year() -> World:
    world = World.build()
    in_day_month_year(world.practice)
    return world


def page_of(user: User, url: str, params: dict[str, str] | None = None) -> str:
    """The page as `user` reads it, signed in afresh (so the session holds the practice's
    format), its entities unescaped."""
    client = Client()
    client.force_login(user)
    response = client.get(url, params or {})
    assert response.status_code == 200, response.status_code
    return html.unescape(response.content.decode())


def dmy(day: datetime.date) -> str:
    return f"{day:%d/%m/%Y}"


def day_of(moment: datetime.datetime) -> datetime.date:
    """A moment's day in the practice's zone (Europe/London, as the tests' server)."""
    return timezone.localtime(moment).date()


def assert_shown_the_practices_way(page: str, *days: datetime.date) -> None:
    for day in days:
        assert dmy(day) in page, dmy(day)
        # "7 Dec 2026" or the short "7 Dec": neither is this practice's.
        old = re.search(rf"(?<!\d){day.day} {day:%b}\b", page)
        assert old is None, page[max(0, old.start() - 80) : old.end() + 80]


def flag(couple: Couple, kind: str, opened_on: datetime.date, **fields: Any) -> Flag:
    return Flag.objects.create(
        couple=couple, kind=kind, opened_on=opened_on, detail="Coded detail only.", **fields
    )


# --- the couple page ----------------------------------------------------------------------------


def test_the_couple_page_shows_its_dates_the_practices_way():
    world = world_in_day_month_year()
    today = timezone.localdate()
    couple = world.couple
    later = make_session(couple, days_ago=4)
    resolved = make_rupture(later)
    Rupture.objects.filter(pk=resolved.pk).update(status=RuptureStatus.RESOLVED)
    open_flag = flag(couple, FlagKind.UNRESOLVED_RUPTURE, today - datetime.timedelta(days=3))
    closed = flag(
        couple,
        FlagKind.GONE_QUIET,
        today - datetime.timedelta(days=30),
        closed_on=today - datetime.timedelta(days=20),
    )
    follow_up = today + datetime.timedelta(days=5)
    FlagAcknowledgement.objects.create(
        flag=open_flag, by=world.supervisor, comment="Let's talk.", follow_up_on=follow_up
    )
    started, first_session = couple.started_on, day_of(world.session.starts_at)

    page = page_of(world.owner, reverse("cycles:detail", args=[couple.case_code]))

    assert f"started {dmy(started)}" in page
    assert f"session 1</a> ({dmy(first_session)})" in page  # the open rupture
    assert f"revision {world.cycle_map.revision}, {dmy(today)} by" in page
    assert f"since {dmy(open_flag.opened_on)}" in page
    assert f"({dmy(closed.opened_on)} – {dmy(closed.closed_on)})" in page
    assert f">{dmy(follow_up)}</time>" in page
    assert re.search(rf">{re.escape(dmy(today))}, \d\d:\d\d</time>", page)  # acknowledged at
    assert f"As of the end of {dmy(world.summary.on_date)}." in page
    assert_shown_the_practices_way(
        page,
        started,
        first_session,
        day_of(later.starts_at),
        today,
        open_flag.opened_on,
        closed.opened_on,
        closed.closed_on,
        follow_up,
    )


def test_a_closed_couple_says_when_it_closed_the_practices_way():
    world = world_in_day_month_year()
    closed_on = timezone.localdate() - datetime.timedelta(days=2)
    Couple.objects.filter(pk=world.couple.pk).update(
        status=CoupleStatus.COMPLETED, closed_on=closed_on
    )

    page = page_of(world.owner, reverse("cycles:detail", args=[world.couple.case_code]))

    assert f"Closed on {dmy(closed_on)}: completed." in page
    assert_shown_the_practices_way(page, closed_on, world.couple.started_on)


def test_the_couple_pdf_prints_its_dates_the_practices_way_and_who_cancelled():
    world = world_in_day_month_year()
    cancelled = make_session(
        world.couple,
        days_ago=4,
        attendance=Attendance.CANCELLED,
        cancelled_by=CancelledBy.PARTNER_A,
    )
    client = Client()
    client.force_login(world.owner)

    response = exported(client, reverse("cycles:pdf", args=[world.couple.case_code]))

    text = " ".join(pdf_text(response.content).split())
    today = timezone.localdate()
    assert f"printed {dmy(today)}" in text
    assert f"(revision {world.cycle_map.revision}, {dmy(today)})" in text
    assert "Cancelled by Partner A" in text
    assert_shown_the_practices_way(
        text, today, day_of(world.session.starts_at), day_of(cancelled.starts_at)
    )

    measures = page_of(world.owner, reverse("therapy_sessions:measures", args=[cancelled.pk]))
    assert "Cancelled by Partner A." in measures


# --- the session page and its repair form -------------------------------------------------------


def test_the_session_page_shows_earlier_open_ruptures_and_signing_the_practices_way():
    world = world_in_day_month_year()
    first_session = day_of(world.session.starts_at)
    later = make_session(world.couple, days_ago=4)

    page = page_of(world.owner, reverse("therapy_sessions:detail", args=[later.pk]))
    assert f"from session 1 ({dmy(first_session)})" in page
    assert_shown_the_practices_way(page, first_session, day_of(later.starts_at))

    form = page_of(world.owner, reverse("ruptures:repair_form", args=[later.pk, world.rupture.pk]))
    assert f"from session 1 ({dmy(first_session)})" in form
    assert_shown_the_practices_way(form, first_session)

    sign(world.session, by=world.owner)
    world.session.refresh_from_db()
    signed = timezone.localtime(world.session.signed_at)
    page = page_of(world.owner, reverse("therapy_sessions:detail", args=[world.session.pk]))
    assert f"Signed by {world.owner} on {dmy(signed.date())}, {signed:%H:%M}" in page
    assert_shown_the_practices_way(page, first_session, signed.date())


# --- supervision: the review, the acknowledgement page, the sign-off queue ----------------------


def test_the_supervisors_review_shows_the_last_session_and_flags_the_practices_way():
    world = world_in_day_month_year()
    opened = timezone.localdate() - datetime.timedelta(days=3)
    flag(world.couple, FlagKind.UNRESOLVED_RUPTURE, opened)
    last_session = day_of(world.session.starts_at)

    page = page_of(world.supervisor, reverse("supervision:review"), {"period": "all"})

    assert f">{dmy(last_session)}</time>" in page
    assert f">{dmy(opened)}</time>" in page  # "since" the flag opened
    assert_shown_the_practices_way(page, last_session, opened)


def test_the_acknowledge_page_shows_when_the_flag_opened_and_closed_the_practices_way():
    world = world_in_day_month_year()
    today = timezone.localdate()
    opened, closed_on = today - datetime.timedelta(days=9), today - datetime.timedelta(days=1)
    closed = flag(world.couple, FlagKind.GONE_QUIET, opened, closed_on=closed_on)

    page = page_of(world.supervisor, reverse("supervision:acknowledge", args=[closed.pk]))

    assert f'Open since <time datetime="{opened.isoformat()}">{dmy(opened)}</time>' in page
    assert f'closed <time datetime="{closed_on.isoformat()}">{dmy(closed_on)}</time>' in page
    assert_shown_the_practices_way(page, opened, closed_on)


def test_the_sign_off_queue_shows_held_and_signed_days_the_practices_way():
    world = world_in_day_month_year()
    Supervision.objects.filter(therapist=world.owner).update(notes_need_cosign=True)
    sign(world.session, by=world.owner)
    world.session.refresh_from_db()
    held, signed = day_of(world.session.starts_at), day_of(world.session.signed_at)
    unsigned = make_session(world.couple, days_ago=3)

    supervisor_queue = page_of(world.supervisor, reverse("therapy_sessions:cosign_queue"))
    assert f"<td>{dmy(held)}</td><td>{dmy(signed)}</td>" in supervisor_queue
    assert_shown_the_practices_way(supervisor_queue, held, signed)

    therapist_queue = page_of(world.owner, reverse("therapy_sessions:cosign_queue"))
    assert f"session 2</a> ({dmy(day_of(unsigned.starts_at))})" in therapist_queue
    assert_shown_the_practices_way(therapist_queue, day_of(unsigned.starts_at))


# --- the practice admin: nightly runs, retention, the audit trail -------------------------------


def test_the_nightly_runs_page_shows_its_days_and_times_the_practices_way():
    world = world_in_day_month_year()
    before = datetime.date(2026, 2, 8)
    NightlyRun.objects.create(
        practice=world.practice,
        for_date=before,
        status=RunStatus.FINISHED,
        started_at=datetime.datetime(2026, 2, 9, 2, 0, 5, tzinfo=UTC),
        finished_at=datetime.datetime(2026, 2, 9, 2, 3, 30, tzinfo=UTC),
    )

    # 10 February 2026 in London: the day just ended, the 9th, has not run.
    with time_machine.travel(datetime.datetime(2026, 2, 10, 4, 0, tzinfo=UTC), tick=False):
        page = page_of(world.practice_admin, reverse("ruptures:runs"))

    assert "Run now for 09/02/2026" in page
    assert "<td>08/02/2026</td>" in page
    assert 'aria-label="Couples done for 08/02/2026"' in page
    assert "<td>09/02/2026, 02:00:05</td>" in page
    assert "<td>09/02/2026, 02:03:30</td>" in page
    assert_shown_the_practices_way(page, before, datetime.date(2026, 2, 9))


def test_the_retention_page_shows_a_closed_records_dates_the_practices_way():
    world = world_in_day_month_year()
    today = timezone.localdate()
    started, closed_on = (
        today - datetime.timedelta(days=9 * 365),
        today - datetime.timedelta(days=8 * 365),
    )
    couple = make_couple(world.owner, started_on=started)
    Couple.objects.filter(pk=couple.pk).update(status=CoupleStatus.COMPLETED, closed_on=closed_on)

    page = page_of(world.practice_admin, reverse("cycles:retention"))

    assert (
        f'<td data-label="Case">{couple.case_code}</td>'
        f'<td data-label="Started">{dmy(started)}</td>'
        f'<td data-label="Closed">{dmy(closed_on)}</td>'
    ) in page
    assert_shown_the_practices_way(page, started, closed_on)


@pytest.fixture
def audit_admin() -> tuple[User, Client]:
    """A practice admin in d/m/Y whose trail has one event on 20 and one on 25 Nov 2026."""
    practice = make_practice()
    in_day_month_year(practice)
    admin = make_user(practice, "Pat Admin", practice_admin=True, is_staff=True)
    for day, action in ((20, "read on the 20th"), (25, "read on the 25th")):
        AccessEvent.objects.create(
            practice=practice,
            user=admin,
            action=action,
            at=datetime.datetime(2026, 11, day, 12, 30, 15, tzinfo=UTC),
        )
    client = Client()
    client.force_login(admin)
    return admin, client


def field_group(page: str, name: str) -> str:
    """The field group of `name`: its label, its input and its message."""
    start = page.index(f'for="id_{name}"')
    group_start = page.rindex('<div class="field', 0, start)
    end = page.find('<div class="field', start)
    return page[group_start : end if end != -1 else page.index("</form>", start)]


def test_the_audit_search_takes_dates_typed_the_practices_way_and_shows_them_so(audit_admin):
    _admin, client = audit_admin
    url = reverse("people:audit")

    response = client.get(url, {"date_from": "20/11/2026", "date_to": "20/11/2026"})

    assert response.status_code == 200
    assert [event.action for event in response.context["accesses"]] == ["read on the 20th"]
    page = html.unescape(response.content.decode())
    assert "<td>20/11/2026, 12:30:15</td>" in page  # London is on GMT in November
    assert 'placeholder="DD/MM/YYYY"' in field_group(page, "date_from")
    assert 'value="20/11/2026"' in field_group(page, "date_to")
    assert_shown_the_practices_way(page, datetime.date(2026, 11, 20))


def test_the_audit_search_still_takes_iso_dates_from_links(audit_admin):
    _admin, client = audit_admin
    response = client.get(
        reverse("people:audit"), {"date_from": "2026-11-25", "date_to": "2026-11-25"}
    )
    assert response.status_code == 200
    assert [event.action for event in response.context["accesses"]] == ["read on the 25th"]


def test_a_date_the_practice_cant_mean_is_a_message_beside_the_field_with_the_text_kept(
    audit_admin,
):
    _admin, client = audit_admin
    response = client.get(reverse("people:audit"), {"date_from": "31/02/2026"})

    assert response.status_code == 200
    group = field_group(html.unescape(response.content.decode()), "date_from")
    assert "Enter a valid date as DD/MM/YYYY, e.g. 07/12/2026 (or as 2026-12-07)." in group
    assert 'value="31/02/2026"' in group
    assert 'aria-invalid="true"' in group
    assert response.context["accesses"] == []
    assert "Enter a valid date" not in field_group(response.content.decode(), "date_to")


def test_the_audit_export_starts_from_the_search_typed_the_practices_way(audit_admin):
    _admin, client = audit_admin
    search = {"date_from": "20/11/2026", "date_to": "20/11/2026"}
    audit_page = client.get(reverse("people:audit"), search).content.decode()
    export_url = html.unescape(
        re.search(r'href="(/[^"]*)">Export these events', audit_page).group(1)
    )

    form = html.unescape(client.get(export_url).content.decode())
    assert 'value="20/11/2026"' in field_group(form, "date_from")
    assert 'value="20/11/2026"' in field_group(form, "date_to")

    csv = exported(client, reverse("exports:audit"), search).content.decode()
    assert "read on the 20th" in csv
    assert "read on the 25th" not in csv


def test_a_bad_export_date_is_a_message_beside_its_field_and_nothing_is_exported(audit_admin):
    _admin, client = audit_admin
    response = start_export(
        client, reverse("exports:audit"), {"date_from": "20/11/2026", "date_to": "2026-13-40"}
    )
    assert response.status_code == 200
    group = field_group(html.unescape(response.content.decode()), "date_to")
    assert "Enter a valid date as DD/MM/YYYY" in group
    assert 'value="2026-13-40"' in group
    assert 'value="20/11/2026"' in field_group(response.content.decode(), "date_from")
    with pytest.raises(AssertionError):
        job_of(response)
