"""An export's status page (polled while it is built), its download, and the audit export's
date-range form. The other two exports start from their own pages' URLs
(`supervision:ruptures_csv`, `cycles:pdf`); all three through exports.jobs.start.

A job is only ever its requester's: anyone else, and everyone after the download expired,
gets a 404 (ExportJob.objects.visible_to).
"""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.http import is_htmx
from cycles.models import Couple
from exports import caseload, jobs, record
from exports.models import ExportJob, ExportKind
from people import audit
from people.access import practice_admin, signed_in
from people.forms import AuditExportFilters

AUDIT_FILTERS = ("person", "case_code", "date_from", "date_to")


def _job(request: HttpRequest, token: str) -> ExportJob:
    jobs.purge_expired()
    return get_object_or_404(ExportJob.objects.visible_to(request.user), token=token)


@require_GET
def status(request: HttpRequest, token: str) -> HttpResponse:
    """The job's state; while it is built the region polls itself every second, marked as
    background polling so it keeps no session alive (people.middleware)."""
    job = _job(request, token)
    context = {"job": job, "downloadable": job.downloadable()}
    template = "exports/status.html#status" if is_htmx(request) else "exports/status.html"
    return render(request, template, context)


@require_GET
def download(request: HttpRequest, token: str) -> HttpResponse:
    job = _job(request, token)
    if not job.downloadable():
        raise Http404("This download has expired or is not ready.")
    response = HttpResponse(bytes(job.content or b""), content_type=job.content_type)
    response["Content-Disposition"] = f'attachment; filename="{job.filename}"'
    return response


@require_http_methods(["GET", "POST"])
@reauthentication_required
def audit_start(request: HttpRequest) -> HttpResponse:
    """The audit trail's export: the search's filters and a date range (the last 30 days
    unless changed, people.forms.AuditExportFilters), checked, recorded, then built in the
    background. The export is recorded as it was when it streamed: before any row."""
    admin = practice_admin(request)
    if request.method == "GET":
        form = AuditExportFilters(initial=AuditExportFilters.initial_from(request.GET), admin=admin)
        return render(request, "exports/audit.html", {"form": form})
    form = AuditExportFilters(request.POST, admin=admin)
    if not form.is_valid():
        return render(request, "exports/audit.html", {"form": form})
    filters = form.cleaned_data
    described = [
        f"{name}={filters[name] if name != 'person' else filters[name].pk}"
        for name in AUDIT_FILTERS
        if filters.get(name)
    ]
    case_code = (filters.get("case_code") or "").strip()
    audit.record(
        request,
        "export audit",
        case_code=case_code[:12],
        detail=" ".join(["audit.csv", *described]),
    )
    person = filters.get("person")
    job = jobs.start(
        user=admin,
        kind=ExportKind.AUDIT_CSV,
        filename=f"audit-{timezone.localdate().isoformat()}.csv",
        content_type="text/csv; charset=utf-8",
        params={
            "person": person.pk if person else None,
            "case_code": case_code,
            "date_from": filters["date_from"].isoformat(),
            "date_to": filters["date_to"].isoformat(),
            # The practice's days, as the search page reads them (people.audit_views._zone).
            "zone": timezone.get_current_timezone_name(),
        },
    )
    return redirect("exports:status", token=job.token)


@require_http_methods(["GET", "POST"])
@reauthentication_required
def caseload_ruptures_start(request: HttpRequest) -> HttpResponse:
    """A therapist's own caseload's rupture codes, as a CSV built in the background: the
    supervisor's export (supervision.views.ruptures_csv) with the same rules, over the
    therapist's own couples only (exports.caseload). A GET shows the button, a POST asks for
    a recent check, is recorded with its row count, and leads to the job's status page."""
    user = signed_in(request)
    if not caseload.may_export(user):
        raise Http404
    if request.method == "GET":
        context = {
            "title": "Rupture codes of my caseload (CSV)",
            "description": "Every current rupture of the couples you treat, coded values "
            "only: no names, notes or reflections.",
            "action": reverse("exports:caseload_ruptures"),
        }
        return render(request, "exports/start.html", context)
    count = caseload.own_ruptures(user).count()
    audit.record(request, "export csv", detail=f"caseload-rupture-codes.csv rows={count}")
    job = jobs.start(
        user=user,
        kind=ExportKind.RUPTURES_CSV,
        filename=f"caseload-rupture-codes-{timezone.localdate().isoformat()}.csv",
        content_type="text/csv; charset=utf-8",
        params={"scope": caseload.OWN_CASELOAD},
    )
    return redirect("exports:status", token=job.token)


@require_http_methods(["GET", "POST"])
@reauthentication_required
def whole_record_start(request: HttpRequest, case_code: str) -> HttpResponse:
    """The couple's whole record for a client's right of access (exports.record), for the
    couple's own therapist only: a GET offers the joint record or one partner's copy, a POST
    asks for a recent check, is recorded with the copy chosen, and leads to the job's page."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    partners = {p.label: p for p in couple.partners.all()}
    choices = [
        (code, f"{label}: {partners[code].display_name}" if code in partners else label)
        for code, label in record.COPIES.items()
    ]
    context = {
        "couple": couple,
        "choices": choices,
        "chosen": request.POST.get("copy", record.JOINT),
        "action": request.path,
    }
    if request.method == "GET":
        return render(request, "exports/whole_record.html", context)
    copy = request.POST.get("copy", "")
    if copy not in record.COPIES:
        context["error"] = "Choose the joint record or one partner's copy."
        return render(request, "exports/whole_record.html", context)
    audit.record(request, "export whole record", couple, detail=f"copy={copy}")
    job = jobs.start(
        user=user,
        kind=ExportKind.WHOLE_RECORD,
        filename=f"{couple.case_code}-record-{copy.lower()}-{timezone.localdate().isoformat()}.zip",
        content_type="application/zip",
        params={
            "case_code": couple.case_code,
            "copy": copy,
            "today": timezone.localdate().isoformat(),
        },
    )
    return redirect("exports:status", token=job.token)
