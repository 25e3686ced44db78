"""The supervision log and the hours for licensure: the screens (docs/domain.md, "Supervision
log and hours").

- `log`: a supervisor's meetings and a supervisee's own entries, each confirmable once;
- `log_new`: a supervisor logs a meeting, its agenda drawn from their supervisees' open
  flags, unacknowledged incidents and records awaiting co-signature;
- `hours_own`, `hours`, `hours_csv`, `hours_pdf`: a clinician's hours (theirs, their
  supervisor's view, or the practice admin's counts without case codes);
- `hours_overview`: a supervisor's supervisees' hours beside their open flags and unsigned
  notes (the practice admin: every therapist's hours and signing counts, no flags);
- `hours_rules`: the practice admin sets the counting rules.

Anything not yours is a 404. Nothing clinical reaches a URL or the audit trail's detail.
"""

from __future__ import annotations

from typing import Any

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.db import transaction
from django.forms.models import model_to_dict
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.concurrency import StaleEdit, claim_version, replayed
from core.csv import streamed_lines
from cycles.models import Couple
from cycles.pdf import render_pdf
from people.access import signed_in
from people.audit import record
from people.models import User
from supervision import hours as counting
from supervision import log
from supervision.log_forms import HoursRulesForm, MeetingForm, clash_message
from supervision.models import HoursRules, MeetingAttendance, SupervisionMeeting

# --- the log ------------------------------------------------------------------------------


@require_GET
def log_page(request: HttpRequest) -> HttpResponse:
    """The meetings a supervisor led and the entries a supervisee attended, latest first.

    Queries: the supervisor's meetings with their attendances and cases (3), the supervisee's
    entries with their meetings and cases (2), and the read's event."""
    user = signed_in(request)
    if not log.may_read_log(user):
        raise Http404("No supervision log.")
    led = list(log.led_for_log(user)[: log.LOG_SHOWN]) if user.is_supervisor else []
    attended = list(log.attended_for_log(user)[: log.LOG_SHOWN]) if user.is_therapist else []
    record(request, "read supervision log", detail=f"led={len(led)} attended={len(attended)}")
    context = {"led": led, "attended": attended}
    return render(request, "supervision/log.html", context)


def _meeting_form(
    user: User, people: list[User], couples: list[Couple], data: Any = None
) -> MeetingForm:
    return MeetingForm(
        data,
        supervisor=user,
        people=people,
        couples=couples,
        rules=HoursRules.for_practice(user.practice_id),  # type: ignore[arg-type]
        tz=timezone.get_current_timezone(),  # type: ignore[arg-type]
    )


@require_http_methods(["GET", "POST"])
def log_new(request: HttpRequest) -> HttpResponse:
    """A supervisor logs a meeting. The agenda beside the form lists, per supervisee, the
    cases with open flags (unacknowledged incidents first) or records awaiting co-signature:
    ticking a case there links it to the meeting."""
    user = signed_in(request)
    if not user.is_supervisor or user.practice_id is None:
        raise Http404("Only supervisors log supervision meetings.")
    if request.method == "POST":
        earlier = replayed(SupervisionMeeting.objects.led_by(user), request.POST)
        if earlier is not None:
            return redirect("supervision:log")
    # Read once, for the form's choices and the agenda beside it.
    people = list(log.supervisees_of(user))
    couples = list(log.cases_of(log.supervisees_of(user)))
    if request.method == "POST":
        form = _meeting_form(user, people, couples, request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                meeting, created = log.meeting_log(
                    supervisor=user,
                    starts_at=data["starts_at"],
                    duration_minutes=data["duration_minutes"],
                    format=data["format"],
                    observable_data=data["observable_data"] or "",
                    supervisees=data["supervisees"],
                    cases=data["cases"],
                    notes=data["notes"],
                    request_token=form.token(),
                )
            except log.MeetingClash as clash:
                tz = timezone.get_current_timezone()
                message = clash_message(clash.meeting, tz, user, data["supervisees"])  # type: ignore[arg-type]
                form.add_error("starts_at_time", message)
            else:
                if created:
                    detail = f"supervisees={len(data['supervisees'])} cases={len(data['cases'])}"
                    record(request, "log supervision meeting", meeting, detail=detail)
                    messages.success(
                        request, "Meeting logged. Each supervisee present can now confirm it."
                    )
                return redirect("supervision:log")
    else:
        form = _meeting_form(user, people, couples)
    agenda = log.agenda(people, couples)
    record(request, "read supervision agenda", detail=f"supervisees={len(agenda)}")
    return render(request, "supervision/log_new.html", {"form": form, "agenda": agenda})


@require_POST
def log_confirm(request: HttpRequest, pk: int) -> HttpResponse:
    """A supervisee confirms their entry of a meeting (once; a second time says so)."""
    user = signed_in(request)
    attendance = get_object_or_404(
        MeetingAttendance.objects.of_supervisee(user).select_related("meeting"), meeting_id=pk
    )
    if log.meeting_confirm(attendance=attendance, by=user):
        record(request, "confirm supervision meeting", attendance.meeting)
        messages.success(request, "Confirmed: the meeting's hours count as confirmed.")
    else:
        messages.info(request, "You had already confirmed this meeting.")
    return redirect("supervision:log")


# --- hours --------------------------------------------------------------------------------


def _clinician(request: HttpRequest, pk: int) -> tuple[User, User, str]:
    """(viewer, clinician, access level), or a 404 when the viewer may not see their hours."""
    viewer = signed_in(request)
    if viewer.practice_id is None:
        raise Http404("No practice, no hours.")
    clinician = User.objects.filter(pk=pk, practice_id=viewer.practice_id).first()
    level = counting.hours_access(viewer, clinician) if clinician is not None else None
    if clinician is None or level is None:
        raise Http404("No such clinician's hours for you.")
    return viewer, clinician, level


def _hours_context(clinician: User, level: str) -> dict[str, Any]:
    rules = HoursRules.for_practice(clinician.practice_id)  # type: ignore[arg-type]
    found = counting.clinician_hours(clinician, timezone.get_current_timezone(), rules)  # type: ignore[arg-type]
    return {
        "clinician": clinician,
        "found": found,
        "rules": rules,
        "with_cases": level == counting.FULL,
        "categories": counting.CATEGORIES,
        "months": [(p, p.in_hours(), sorted(p.case_codes)) for p in found.months],
        "total": found.total.in_hours(),
        "total_codes": sorted(found.total.case_codes),
    }


@require_GET
def hours_own(request: HttpRequest) -> HttpResponse:
    """The signed-in clinician's own hours."""
    user = signed_in(request)
    return _hours_page(request, user.pk)


@require_GET
def hours_page(request: HttpRequest, pk: int) -> HttpResponse:
    return _hours_page(request, pk)


def _hours_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A clinician's hours by month and in total, their progress to the practice's targets,
    and the weeks whose supervision fell short of the ratio rule."""
    viewer, clinician, level = _clinician(request, pk)
    context = _hours_context(clinician, level)
    record(
        request, "read hours", detail=f"clinician={clinician.pk} months={len(context['months'])}"
    )
    context["own"] = viewer.pk == clinician.pk
    return render(request, "supervision/hours.html", context)


def _filename(clinician: User, ext: str) -> str:
    return f"hours-{clinician.pk}-{timezone.localdate().isoformat()}.{ext}"


@require_GET
@reauthentication_required
def hours_csv(request: HttpRequest, pk: int) -> StreamingHttpResponse:
    """The hours as a CSV a board accepts: clinician, supervisors, one row a month and a total,
    hours by category, case codes only (none for the practice admin). No names of clients,
    no notes."""
    _viewer, clinician, level = _clinician(request, pk)
    context = _hours_context(clinician, level)
    labels = [label for _, label in counting.CATEGORIES]
    header = ["Clinician", "Supervisors", "Month", *labels]
    if context["with_cases"]:
        header.append("Case codes")
    supervisors = "; ".join(context["found"].supervisors)

    def row(month: str, values: dict[str, Any], codes: list[str]) -> list[object]:
        cells: list[object] = [str(clinician), supervisors, month]
        cells += [values[name] for name, _ in counting.CATEGORIES]
        if context["with_cases"]:
            cells.append(" ".join(codes))
        return cells

    rows = [row(p.start.strftime("%Y-%m"), values, codes) for p, values, codes in context["months"]]
    rows.append(row("Total", context["total"], context["total_codes"]))
    record(request, "export csv", detail=f"hours.csv clinician={clinician.pk} rows={len(rows)}")
    response = StreamingHttpResponse(
        streamed_lines(header, rows), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename(clinician, "csv")}"'
    return response


@require_GET
@reauthentication_required
def hours_pdf(request: HttpRequest, pk: int) -> HttpResponse:
    """The same hours as a PDF for the board, with the practice's targets."""
    _viewer, clinician, level = _clinician(request, pk)
    context = _hours_context(clinician, level) | {"today": timezone.localdate()}
    record(request, "export pdf", detail=f"hours.pdf clinician={clinician.pk}")
    return render_pdf(request, "supervision/hours_pdf.html", context, _filename(clinician, "pdf"))


@require_GET
def hours_overview(request: HttpRequest) -> HttpResponse:
    """Per supervisee: hours beside open flags and unsigned notes (the practice admin: every
    therapist's hours and signing counts). One query for the rows."""
    user = signed_in(request)
    if not (user.is_supervisor or user.is_practice_admin) or user.practice_id is None:
        raise Http404("Only supervisors and the practice admin see others' hours.")
    people, with_flags = counting.overview_people(user)
    rows = counting.overview_rows(people, with_flags=with_flags)
    record(request, "read hours overview", detail=f"clinicians={len(rows)}")
    context = {"rows": rows, "with_flags": with_flags}
    return render(request, "supervision/hours_overview.html", context)


@require_http_methods(["GET", "POST"])
def hours_rules(request: HttpRequest) -> HttpResponse:
    """The practice admin sets how hours are counted; a stale form is refused, its input kept."""
    user = signed_in(request)
    if not user.is_practice_admin or user.practice_id is None:
        raise Http404("Only the practice admin sets the hours rules.")
    if request.method == "GET":
        rules = HoursRules.for_practice(user.practice_id)
        form = HoursRulesForm(instance=rules, initial={"version": rules.version})
        return render(request, "supervision/hours_rules.html", {"form": form})
    with transaction.atomic():
        # get_or_create finds the row a request made at the same moment (its own savepoint).
        rules, _ = HoursRules.objects.get_or_create(practice_id=user.practice_id)
        form = HoursRulesForm(request.POST, instance=rules)
        if form.is_valid():
            try:
                version = claim_version(HoursRules, pk=rules.pk, read_version=form.read_version())
            except StaleEdit as stale:
                fields = list(HoursRulesForm.Meta.fields)
                form.refuse_stale(stale.current, model_to_dict(stale.current, fields=fields))
            else:
                form.instance.version = version
                form.save()
                record(request, "change hours rules", rules)
                messages.success(request, "Hours rules saved.")
                return redirect("supervision:hours_rules")
    return render(request, "supervision/hours_rules.html", {"form": form})
