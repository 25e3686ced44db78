"""Each kind of export's file, built by the code that drew it in the request before.

A screen (docs/architecture.md, rule 2): it renders what the supervisor's review, the audit
page and the couple page rendered (supervision.review's CSV, people.audit_views' CSV,
cycles.views' PDF context and cycles.pdf), now in a worker instead of a web request. Access
is checked again here, from the person who asked: a couple no longer theirs builds nothing.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Callable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from django.http import HttpRequest

from cycles.diagram import layout
from cycles.models import Couple
from cycles.pdf import render_pdf
from cycles.views import couple_signals, latest_map, timeline
from exports import caseload, record
from exports.models import ExportJob, ExportKind
from people import audit_views
from people.models import User
from plans.progress import plan_progress
from plans.services import latest_plan
from supervision import review

Progress = Callable[[int, int], None]
# Progress is written once per this many CSV lines: one small UPDATE, not one per row.
PROGRESS_EVERY = 2000


def _csv_bytes(lines: Iterator[str], total: int, progress: Progress) -> bytes:
    out = io.StringIO()
    for number, line in enumerate(lines):
        out.write(line)
        if number and number % PROGRESS_EVERY == 0:
            progress(number, total)
    return out.getvalue().encode("utf-8")


def ruptures_csv(job: ExportJob, progress: Progress) -> bytes:
    """The supervisees' couples' ruptures, or a therapist's own caseload's (exports.caseload)."""
    if job.params.get("scope") == caseload.OWN_CASELOAD:
        rows = caseload.own_ruptures(job.requested_by)
    else:
        rows = review.export_ruptures(job.requested_by)
    total = rows.count()
    return _csv_bytes(review.csv_lines(rows.iterator(chunk_size=500)), total, progress)


def audit_filters(params: dict[str, Any]) -> dict[str, Any]:
    """The search the admin exported (exports.views.audit_start stores it), as the search's
    cleaned data: people.audit_views.filtered_events reads the same names."""
    filters: dict[str, Any] = {"case_code": params.get("case_code", "")}
    if params.get("person"):
        filters["person"] = User.objects.get(pk=params["person"])
    for name in ("date_from", "date_to"):
        if params.get(name):
            filters[name] = datetime.date.fromisoformat(params[name])
    return filters


def audit_csv(job: ExportJob, progress: Progress) -> bytes:
    zone = ZoneInfo(job.params["zone"])
    accesses, changes = audit_views.filtered_events(
        job.requested_by, audit_filters(job.params), zone
    )
    total = accesses.count() + changes.count()
    lines = audit_views.csv_lines(
        accesses.iterator(chunk_size=500), changes.iterator(chunk_size=500)
    )
    return _csv_bytes(lines, total, progress)


def couple_pdf(job: ExportJob, progress: Progress) -> bytes:
    """The context of cycles.views.couple_pdf before it moved here, rendered by cycles.pdf."""
    couple = (
        Couple.objects.editable_by(job.requested_by)
        .select_related("therapist", "co_therapist")
        .get(case_code=job.params["case_code"])
    )
    partners = list(couple.partners.all())
    cycle_map = latest_map(couple)
    plan = latest_plan(couple)
    context = {
        "couple": couple,
        "partners": partners,
        "cycle_map": cycle_map,
        "diagram": layout(cycle_map, partners),
        "sessions": timeline(couple),
        "signals": couple_signals(couple),
        "plan": plan,
        "plan_progress": plan_progress(plan, list(plan.goals.all())) if plan else [],
        "today": datetime.date.fromisoformat(job.params["today"]),
    }
    progress(1, 3)
    # The template reads nothing of a request; an empty one stands in for the context
    # processors (no user, no messages).
    response = render_pdf(HttpRequest(), "cycles/couple_pdf.html", context, job.filename)
    return bytes(response.content)


def whole_record(job: ExportJob, progress: Progress) -> bytes:
    """The couple's whole record (exports.record): its tables read once, drawn as a PDF by
    cycles.pdf, and packed with the JSON, the CSVs and the codebook in one zip."""
    whole = record.whole_record(job.requested_by, job.params["case_code"], job.params["copy"])
    progress(1, 3)
    context = {
        "record": whole,
        "copy": record.COPIES[whole.copy],
        "today": datetime.date.fromisoformat(job.params["today"]),
        "sections": [
            {
                "title": table.title,
                "name": table.name,
                "rows": [
                    [(f.verbose_name, whole.shown(row, f)) for f in table.fields]
                    for row in table.rows
                ],
            }
            for table in whole.tables
        ],
    }
    response = render_pdf(HttpRequest(), "exports/record_pdf.html", context, "record.pdf")
    progress(2, 3)
    return record.archive(whole, bytes(response.content))


BUILDERS: dict[str, Callable[[ExportJob, Progress], bytes]] = {
    ExportKind.RUPTURES_CSV: ruptures_csv,
    ExportKind.AUDIT_CSV: audit_csv,
    ExportKind.COUPLE_PDF: couple_pdf,
    ExportKind.WHOLE_RECORD: whole_record,
}


def build(job: ExportJob, progress: Progress) -> bytes:
    return BUILDERS[job.kind](job, progress)
