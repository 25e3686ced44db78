"""Hours for licensure counted on crafted sessions and meetings (supervision.hours): what is
held counts, relational apart from individual, supervision by kind and confirmation, months in
the practice's time zone, the weekly ratio alert, the exports and who sees them."""

from __future__ import annotations

import csv
import datetime
import io
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from people.models import Supervision
from sessions.models import Attendance, CancelledBy, CosignState, LeftBy, SessionFormat
from supervision.hours import clinician_hours
from supervision.log import meeting_confirm
from supervision.models import (
    HoursRules,
    MeetingAttendance,
    MeetingFormat,
    ObservableData,
    SupervisionMeeting,
)
from tests.factories import make_couple, make_practice, make_session, make_user

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")


def at(year: int, month: int, day: int, hour: int = 10, minute: int = 0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=LA)


# The counting rules' form as the practice admin sends it, with the defaults.
RULES_FORM = {
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
}


@pytest.fixture
def scene() -> dict:
    practice = make_practice("Hours Practice")
    practice.time_zone = "America/Los_Angeles"
    practice.save()
    trainee = make_user(practice, "Tess Trainee", therapist=True)
    supervisor = make_user(practice, "Sam Supervisor", supervisor=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=trainee)
    couple = make_couple(trainee)
    other = make_couple(trainee)
    return {
        "practice": practice,
        "trainee": trainee,
        "supervisor": supervisor,
        "couple": couple,
        "other": other,
    }


def meeting(
    supervisor, people, starts_at, minutes, kind=MeetingFormat.INDIVIDUAL, observable=""
) -> SupervisionMeeting:
    made = SupervisionMeeting.objects.create(
        practice_id=supervisor.practice_id,
        supervisor=supervisor,
        starts_at=starts_at,
        duration_minutes=minutes,
        format=kind,
        observable_data=observable,
    )
    for person in people:
        MeetingAttendance.objects.create(meeting=made, supervisee=person)
    return made


def test_held_sessions_count_relational_apart_and_cancelled_no_show_withdrawn_not(scene):
    couple, trainee = scene["couple"], scene["trainee"]
    make_session(couple, starts_at=at(2026, 10, 5), duration_minutes=60)  # conjoint
    make_session(
        couple,
        starts_at=at(2026, 10, 6),
        duration_minutes=50,
        format=SessionFormat.INDIVIDUAL_A,
    )
    # A walk-out counts the minutes recorded for it.
    make_session(
        couple,
        starts_at=at(2026, 10, 7),
        duration_minutes=20,
        attendance=Attendance.ENDED_EARLY,
        left_early=LeftBy.PARTNER_A,
    )
    make_session(
        couple,
        starts_at=at(2026, 10, 8),
        duration_minutes=60,
        attendance=Attendance.CANCELLED,
        cancelled_by=CancelledBy.PARTNER_B,
    )
    make_session(couple, starts_at=at(2026, 10, 9), attendance=Attendance.NO_SHOW)
    withdrawn = make_session(couple, starts_at=at(2026, 10, 10), duration_minutes=90)
    withdrawn.withdraw(by=trainee, reason="Logged on the wrong couple.")

    found = clinician_hours(trainee, LA, HoursRules(practice=scene["practice"]))

    assert [p.start for p in found.months] == [datetime.date(2026, 10, 1)]
    october = found.months[0].in_hours()
    assert october["relational"] == Decimal("1.33")  # 60 + 20 minutes conjoint
    assert october["individual"] == Decimal("0.83")  # 50 minutes
    assert october["direct"] == Decimal("2.17")  # 130 minutes
    assert found.months[0].case_codes == {couple.case_code}


def test_another_therapists_sessions_count_for_them_not_for_this_clinician(scene):
    colleague = make_user(scene["practice"], "Colleague", therapist=True)
    make_session(make_couple(colleague), starts_at=at(2026, 10, 5), duration_minutes=60)
    found = clinician_hours(scene["trainee"], LA, HoursRules(practice=scene["practice"]))
    assert found.months == []
    assert found.total.direct == 0


def test_months_are_the_practices_late_evening_stays_in_its_month(scene):
    # 23:30 on 31 October in Los Angeles is already 1 November in London and in UTC.
    make_session(scene["couple"], starts_at=at(2026, 10, 31, 23, 30), duration_minutes=60)
    make_session(scene["couple"], starts_at=at(2026, 11, 1, 0, 30), duration_minutes=30)
    client = Client()
    client.force_login(scene["trainee"])
    response = client.get(reverse("supervision:hours_own"))
    assert response.status_code == 200
    months = [(p.start, p.direct) for p, _, _ in response.context["months"]]
    assert months == [(datetime.date(2026, 10, 1), 60), (datetime.date(2026, 11, 1), 30)]
    assert "October 2026" in response.text
    assert "November 2026" in response.text


def test_supervision_counts_by_kind_observable_and_confirmation(scene):
    trainee, supervisor = scene["trainee"], scene["supervisor"]
    peer = make_user(scene["practice"], "Pat Peer", therapist=True)
    Supervision.objects.create(practice=scene["practice"], supervisor=supervisor, therapist=peer)
    one = meeting(supervisor, [trainee], at(2026, 11, 2), 60, observable=ObservableData.RECORDING)
    meeting(supervisor, [trainee, peer], at(2026, 11, 9), 120, kind=MeetingFormat.GROUP)
    attendance = MeetingAttendance.objects.get(meeting=one, supervisee=trainee)
    assert meeting_confirm(attendance=attendance, by=trainee)

    found = clinician_hours(trainee, LA, HoursRules(practice=scene["practice"]))
    total = found.total.in_hours()
    assert total["supervision_individual"] == Decimal("1.00")
    assert total["supervision_group"] == Decimal("2.00")
    assert total["supervision_observable"] == Decimal("1.00")
    assert total["supervision_confirmed"] == Decimal("1.00")
    assert total["supervision_unconfirmed"] == Decimal("2.00")
    assert found.supervisors == ["Sam Supervisor"]
    # The peer's meeting counts for the peer, never twice for the trainee.
    assert clinician_hours(peer, LA, found.rules).total.supervision_group == 120


def test_a_week_whose_client_hours_outrun_supervision_raises_the_ratio_alert(scene):
    couple, trainee, supervisor = scene["couple"], scene["trainee"], scene["supervisor"]
    # Week of Monday 2 November: 6 hours of clients, 1 hour individual supervision.
    # Due: 1 + 6 // 5 = 2 units; logged: 1. An alert.
    for day in range(2, 8):
        make_session(couple, starts_at=at(2026, 11, day), duration_minutes=60)
    meeting(supervisor, [trainee], at(2026, 11, 4, 15), 60)
    # Week of Monday 9 November: 2 hours of clients, 1 hour supervision: 1 due, 1 logged.
    for day in (9, 10):
        make_session(couple, starts_at=at(2026, 11, day), duration_minutes=60)
    meeting(supervisor, [trainee], at(2026, 11, 11, 15), 60)
    # Week of Monday 16 November: 1 hour of clients, no supervision: an alert.
    make_session(couple, starts_at=at(2026, 11, 17), duration_minutes=60)

    rules = HoursRules(practice=scene["practice"])
    alerts = clinician_hours(trainee, LA, rules).alerts
    assert [(w.start, w.units, w.due) for w in alerts] == [
        (datetime.date(2026, 11, 16), Decimal("0.00"), 1),
        (datetime.date(2026, 11, 2), Decimal("1.00"), 2),
    ]
    # The practice's own rule: one extra unit per ten hours clears the first week.
    rules.client_hours_per_extra_unit = 10
    alerts = clinician_hours(trainee, LA, rules).alerts
    assert [w.start for w in alerts] == [datetime.date(2026, 11, 16)]


def test_hours_page_shows_targets_from_the_practice_rules(scene):
    HoursRules.objects.create(practice=scene["practice"], direct_target_hours=300)
    make_session(scene["couple"], starts_at=at(2026, 10, 5), duration_minutes=90)
    client = Client()
    client.force_login(scene["trainee"])
    text = client.get(reverse("supervision:hours_own")).text
    assert "1.50 of 300 h" in text


def _csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_csv_and_pdf_name_codes_never_partners_or_notes(scene):
    couple, trainee, supervisor = scene["couple"], scene["trainee"], scene["supervisor"]
    partner = couple.partners.first().display_name
    make_session(
        couple, starts_at=at(2026, 10, 5), duration_minutes=60, progress_note="CANARY-NOTE"
    )
    made = meeting(supervisor, [trainee], at(2026, 10, 6), 60)
    made.notes = "CANARY-MEETING"
    made.save()
    made.cases.add(couple)
    client = Client()
    client.force_login(trainee)
    response = client.get(reverse("supervision:hours_csv", args=[trainee.pk]))
    assert response.status_code == 200
    rows = _csv_rows(response)
    assert rows[0][:3] == ["Clinician", "Supervisors", "Month"]
    assert rows[1][:3] == ["Tess Trainee", "Sam Supervisor", "2026-10"]
    assert rows[1][rows[0].index("Relational (conjoint) hours")] == "1.00"
    assert rows[1][-1] == couple.case_code
    assert rows[-1][2] == "Total"
    body = "\n".join(",".join(r) for r in rows)
    for canary in (partner, "CANARY-NOTE", "CANARY-MEETING"):
        assert canary not in body

    pdf = client.get(reverse("supervision:hours_pdf", args=[trainee.pk]))
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")


def test_pdf_text_names_no_partner(scene):
    """The PDF's HTML (what WeasyPrint prints) carries codes and hours, never partners."""
    from django.template.loader import render_to_string

    from supervision.log_views import _hours_context

    couple = scene["couple"]
    make_session(couple, starts_at=at(2026, 10, 5), duration_minutes=60)
    html = render_to_string(
        "supervision/hours_pdf.html", _hours_context(scene["trainee"], "full") | {"pdf_css": ""}
    )
    assert couple.case_code in html
    for partner in couple.partners.all():
        assert partner.display_name not in html


def test_practice_admin_sees_hours_without_case_codes_and_no_flags(scene):
    admin = make_user(scene["practice"], "Ada Admin", practice_admin=True)
    make_session(scene["couple"], starts_at=at(2026, 10, 5), duration_minutes=60)
    client = Client()
    client.force_login(admin)
    page = client.get(reverse("supervision:hours", args=[scene["trainee"].pk]))
    assert page.status_code == 200
    assert "1.00" in page.text
    assert scene["couple"].case_code not in page.text
    rows = _csv_rows(client.get(reverse("supervision:hours_csv", args=[scene["trainee"].pk])))
    assert "Case codes" not in rows[0]
    overview = client.get(reverse("supervision:hours_overview"))
    assert "Open flags" not in overview.text
    assert "Tess Trainee" in overview.text
    # Signing status as counts: the one session held is not signed yet.
    (row,) = [r for r in overview.context["rows"] if r.clinician == scene["trainee"]]
    assert (row.direct, row.unsigned, row.awaiting, row.sent_back) == (Decimal("1.00"), 1, 0, 0)
    assert row.open_flags is None
    assert scene["couple"].case_code not in overview.text


def test_supervisor_overview_shows_hours_beside_open_flags_and_unsigned_notes(scene):
    from ruptures.models import Flag, FlagKind

    couple = scene["couple"]
    make_session(couple, starts_at=at(2026, 10, 5), duration_minutes=60)
    signed = make_session(couple, starts_at=at(2026, 10, 6), duration_minutes=60)
    type(signed).objects.filter(pk=signed.pk).update(signed_at=timezone.now())
    # A cancelled session has no record to sign: not counted as unsigned.
    make_session(
        couple,
        starts_at=at(2026, 10, 7),
        attendance=Attendance.CANCELLED,
        cancelled_by=CancelledBy.PARTNER_A,
    )
    Flag.objects.create(
        couple=couple, kind=FlagKind.GONE_QUIET, opened_on=datetime.date(2026, 11, 1), detail="x"
    )
    # A case the trainee co-leads with another therapist: its open flag is theirs to discuss.
    lead = make_user(scene["practice"], "Lee Lead", therapist=True)
    co_led = make_couple(lead)
    type(co_led).objects.filter(pk=co_led.pk).update(co_therapist=scene["trainee"])
    Flag.objects.create(
        couple=co_led, kind=FlagKind.GONE_QUIET, opened_on=datetime.date(2026, 11, 1), detail="x"
    )
    client = Client()
    client.force_login(scene["supervisor"])
    response = client.get(reverse("supervision:hours_overview"))
    row = response.context["rows"][0]
    assert (row.clinician, row.direct, row.open_flags, row.unsigned) == (
        scene["trainee"],
        Decimal("2.00"),
        2,
        1,
    )
    assert (row.awaiting, row.sent_back) == (0, 0)
    # The supervisor sends the signed record back: it waits for the trainee's amendment.
    type(signed).objects.filter(pk=signed.pk).update(cosign_state=CosignState.CHANGES_REQUESTED)
    row = client.get(reverse("supervision:hours_overview")).context["rows"][0]
    assert (row.unsigned, row.awaiting, row.sent_back) == (1, 0, 1)


def test_hours_rules_bad_input_kept_and_nothing_saved(scene):
    admin = make_user(scene["practice"], "Ada Admin", practice_admin=True)
    client = Client()
    client.force_login(admin)
    url = reverse("supervision:hours_rules")
    data = RULES_FORM | {
        "direct_target_hours": "400",
        "relational_target_hours": "200",
        "individual_max_supervisees": "3",
        "group_max_supervisees": "2",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert "A group may not be smaller" in response.text
    assert 'value="400"' in response.text
    assert not HoursRules.objects.filter(direct_target_hours=400).exists()
    response = client.post(url, data | {"group_max_supervisees": "6"})
    assert response.status_code == 302
    assert HoursRules.objects.get(practice=scene["practice"]).direct_target_hours == 400
    # The same form sent again is stale: refused, typed input kept.
    response = client.post(url, data | {"group_max_supervisees": "6", "direct_target_hours": "900"})
    assert response.status_code == 200
    assert "Someone saved this record" in response.text
    assert HoursRules.objects.get(practice=scene["practice"]).direct_target_hours == 400


def test_parts_of_a_target_stay_within_it_and_a_zero_target_leaves_the_page(scene):
    admin = make_user(scene["practice"], "Ada Admin", practice_admin=True)
    client = Client()
    client.force_login(admin)
    url = reverse("supervision:hours_rules")
    data = RULES_FORM | {"relational_target_hours": "600", "observable_target_hours": "150"}
    response = client.post(url, data)
    assert response.status_code == 200
    form = response.context["form"]
    assert "part of the direct client-contact target" in " ".join(
        form.errors["relational_target_hours"]
    )
    assert "part of the supervision target" in " ".join(form.errors["observable_target_hours"])
    assert not HoursRules.objects.filter(relational_target_hours=600).exists()
    assert not HoursRules.objects.filter(observable_target_hours=150).exists()

    trainee = Client()
    trainee.force_login(scene["trainee"])
    page = trainee.get(reverse("supervision:hours_own")).text
    assert "With observable data" in page
    assert "of 50 h" in page
    response = client.post(
        url, data | {"relational_target_hours": "0", "observable_target_hours": "0"}
    )
    assert response.status_code == 302
    page = trainee.get(reverse("supervision:hours_own")).text
    assert "With observable data" not in page
    assert "Relational</dt>" not in page
    assert "Direct client contact</dt>" in page


def test_the_pdf_names_every_case_code_whole_in_its_month_and_in_the_total(scene):
    import io

    import pypdf

    couple, other = scene["couple"], scene["other"]
    make_session(couple, starts_at=at(2026, 10, 5), duration_minutes=60)
    make_session(other, starts_at=at(2026, 11, 5), duration_minutes=60)
    client = Client()
    client.force_login(scene["trainee"])
    response = client.get(reverse("supervision:hours_pdf", args=[scene["trainee"].pk]))
    assert response["Content-Type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    text = "\n".join(page.extract_text() or "" for page in reader.pages)
    # Each code once for its month and once in the total row, never broken at its hyphen.
    assert text.count(couple.case_code) == 2, text
    assert text.count(other.case_code) == 2, text


def test_the_migration_keeps_a_practices_observable_target_within_its_supervision_target(scene):
    """Supervision migration 0003 adds the observable-data target at 50: a practice that had
    set a supervision target below that gets its supervision target instead."""
    import importlib

    from django.apps import apps

    step = importlib.import_module("supervision.migrations.0003_observable_target")
    low = HoursRules.objects.create(
        practice=scene["practice"], supervision_target_hours=30, direct_target_hours=0
    )
    usual = HoursRules.objects.create(practice=make_practice("Usual"), supervision_target_hours=100)
    step.within_the_supervision_target(apps, None)
    low.refresh_from_db()
    usual.refresh_from_db()
    assert (low.observable_target_hours, usual.observable_target_hours) == (30, 50)
    # Relational within direct contact too, or the rules could no longer be saved.
    assert (low.relational_target_hours, usual.relational_target_hours) == (0, 250)
