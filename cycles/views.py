"""Couple pages and the cycle-mapping view.

Reads start from `Couple.objects.visible_to(user)` (therapist and supervisor), writes from
`editable_by(user)` (the couple's own therapist only); anything else is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, cast

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Prefetch, QuerySet, Window
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import HttpResponseClientRedirect

from consultation.groups import groups_of
from core.concurrency import StaleEdit
from core.http import is_htmx, page_number, posted_number
from core.revisions import compared as revisions_compared
from cycles import editor, restore
from cycles.diagram import layout
from cycles.forms import (
    CoTherapistForm,
    CoupleForm,
    CycleMapMetaForm,
    DischargeForm,
    ReopenForm,
    RetentionForm,
    TransferForm,
)
from cycles.models import (
    CaseEvent,
    CaseShare,
    Couple,
    CoupleStatus,
    CycleMap,
    CycleStep,
    DestructionRequest,
    Partner,
    RetentionPolicy,
)
from cycles.services import (
    CaseRefused,
    PartnerDetails,
    StaleRevision,
    co_therapist_set,
    co_therapist_targets,
    couple_create,
    couple_update,
    cycle_map_save,
    destruction_confirm,
    destruction_request,
    may_confirm_destruction,
    past_retention,
    retention_set,
    tell_destruction_asked,
    transfer_targets,
)
from cycles.services import couple_discharge as couple_discharge_service
from cycles.services import couple_reopen as couple_reopen_service
from cycles.services import couple_transfer as couple_transfer_service
from exports import jobs as export_jobs
from exports.models import ExportJob, ExportKind
from flags.charts import alliance_chart, satisfaction_chart
from flags.measure_signals import CoupleSignals, derive, load_points, load_satisfaction
from people import audit
from people.access import may_edit, practice_admin, signed_in, supervisor_of
from people.models import SignalThresholds, User
from ruptures.models import Flag, Rupture, RuptureSummary
from sessions.models import TherapySession
from supervision import review as supervision

CASELOAD_PAGE_SIZE = 25
# The caseload's status filter: each status, and every closed case whatever its reason.
CASELOAD_STATUSES = [*CoupleStatus.choices, ("closed", "Closed (any reason)")]


def _template(request: HttpRequest, page: str, region: str) -> str:
    """The region alone for an htmx swap; the whole page otherwise (and on history restore)."""
    if is_htmx(request):
        return f"{page}#{region}"
    return page


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def caseload(request: HttpRequest) -> HttpResponse:
    """The therapist's home: their couples (and a supervisor's supervisees' couples).

    The search words may be a partner's name, so they travel only in a POST body, never in a
    URL, an access log's request line or the browser's history: a GET lists by status and
    page alone (a `q` in an old link is ignored), a POST (the filter form, CSRF-protected)
    searches, and its result is a page of its own, never an address to bookmark.
    """
    params = request.POST if request.method == "POST" else request.GET
    status = params.get("status", CoupleStatus.ACTIVE)
    if status not in CoupleStatus.values and status not in ("all", "closed"):
        status = CoupleStatus.ACTIVE
    # NUL can't reach PostgreSQL in a string (a 500 once): dropped with the rest of the query.
    query = request.POST.get("q", "").replace("\x00", "")[:100] if request.method == "POST" else ""
    couples = Couple.objects.visible_to(request.user).search(query)
    if status == "closed":
        couples = couples.closed()
    elif status != "all":
        couples = couples.filter(status=status)
    page = Paginator(couples.for_caseload().order_by("case_code"), CASELOAD_PAGE_SIZE).get_page(
        params.get("page")
    )
    # One event for the page: what was listed, never the search words (they may be names).
    detail = f"status={status} couples={page.paginator.count} page={page.number}"
    audit.record(request, "read caseload", detail=detail)
    context = {"page": page, "status": status, "query": query, "statuses": CASELOAD_STATUSES}
    return render(request, _template(request, "cycles/caseload.html", "caseload-table"), context)


def latest_map(couple: Couple) -> CycleMap | None:
    steps = CycleStep.objects.select_related("emotion").order_by("partner__label", "position")
    return (
        couple.cycle_maps.select_related("author")
        .prefetch_related(Prefetch("steps", queryset=steps))
        .order_by("-revision")
        .first()
    )


def timeline(couple: Couple) -> list[TherapySession]:
    """Every current session with its ruptures and the repairs it made, in three queries."""
    return list(_timeline_rows(couple).order_by("ordinal"))


def _timeline_rows(couple: Couple) -> QuerySet[TherapySession]:
    ruptures = (
        Rupture.objects.current()
        .select_related("repaired_in")
        .with_repair_note()  # the couple PDF prints it (templates/cycles/couple_pdf.html)
        .order_by("minute", "pk")
    )
    return (
        TherapySession.objects.current()
        .filter(couple=couple)
        .prefetch_related(
            Prefetch("ruptures", queryset=ruptures),
            Prefetch("repairs", queryset=Rupture.objects.current().select_related("session")),
        )
    )


# The couple page shows this many of the latest sessions (and of the most recent open
# ruptures) at a time, so it weighs the same however long the treatment; earlier ones come a
# page at a time ("Show earlier sessions", `?sessions=2`; `?open=2`).
TIMELINE_SHOWN = 20
OPEN_RUPTURES_SHOWN = 20


@dataclass(frozen=True)
class Slice:
    """One page of a list shown newest first: its number, the total, whether more follow."""

    number: int
    total: int
    size: int
    count: int  # on this page

    @property
    def first(self) -> int:
        return (self.number - 1) * self.size + 1

    @property
    def last(self) -> int:
        return self.first + self.count - 1

    @property
    def more(self) -> bool:
        return self.total > self.number * self.size

    @property
    def remaining(self) -> int:
        return max(0, self.total - self.number * self.size)


def _newest_page(rows: QuerySet[Any], number: int, size: int) -> tuple[list[Any], Slice]:
    """Page `number` of `rows` (ordered newest first) and its total, counted by a window in
    the same query; a number past the end shows the last page (one more query, then)."""
    counted = rows.annotate(listed_total=Window(Count("pk")))
    page = list(counted[(number - 1) * size : number * size])
    if not page and number > 1:
        number = max(1, -(-rows.count() // size))
        page = list(counted[(number - 1) * size : number * size])
    return page, Slice(number, page[0].listed_total if page else 0, size, len(page))


def timeline_page(couple: Couple, number: int) -> tuple[list[TherapySession], Slice]:
    """A page of the latest sessions, oldest first as the table reads, with their ruptures
    and the repairs they made, in three queries."""
    sessions, shown = _newest_page(
        _timeline_rows(couple).order_by("-ordinal"), number, TIMELINE_SHOWN
    )
    sessions.reverse()
    return sessions, shown


def open_ruptures_page(couple: Couple, number: int) -> tuple[list[Rupture], Slice]:
    """A page of the couple's open ruptures, most recent first, in one query."""
    rows = (
        Rupture.objects.open()
        .filter(couple=couple)
        .select_related("session", "repaired_in")
        .order_by("-session__starts_at", "-minute", "-pk")
    )
    return _newest_page(rows, number, OPEN_RUPTURES_SHOWN)


@require_GET
@vary_on_headers("HX-Request")
def couple_detail(request: HttpRequest, case_code: str) -> HttpResponse:
    user = signed_in(request)
    couple = get_object_or_404(
        Couple.objects.visible_to(user).select_related("therapist", "co_therapist"),
        case_code=case_code,
    )
    sessions, sessions_shown = timeline_page(couple, page_number(request, "sessions"))
    if is_htmx(request) and "sessions" in request.GET:
        # "Show earlier sessions": the rows alone, put in place of the link that asked.
        audit.record(
            request, "read couple", couple, detail=f"sessions page={sessions_shown.number}"
        )
        context = {"couple": couple, "sessions": sessions, "sessions_shown": sessions_shown}
        return render(request, "cycles/couple_detail.html#timeline-rows", context)
    partners = list(couple.partners.all())
    cycle_map = latest_map(couple)
    open_ruptures, open_shown = open_ruptures_page(couple, page_number(request, "open"))
    audit.record(request, "read couple", couple)
    summaries = latest_summaries(couple)
    flags = list(
        Flag.objects.filter(couple=couple)
        .prefetch_related(supervision.acknowledgements_prefetch())
        .order_by("closed_on", "-opened_on", "kind")
    )
    closed_flags = [f for f in flags if not f.is_open]  # closed longest ago first
    signals = couple_signals(couple)
    # "Show all": the whole history of closed flags and signals, on request only.
    whole = request.GET.get("history") == "all"
    context = {
        "couple": couple,
        "partners": partners,
        "cycle_map": cycle_map,
        "diagram": layout(cycle_map, partners),
        "sessions": sessions,
        "sessions_shown": sessions_shown,
        "open_ruptures": open_ruptures,
        "open_shown": open_shown,
        "summaries": summaries,
        "open_flags": [f for f in flags if f.is_open],
        # Closed flags pile up with the treatment: the latest closed are listed, all counted.
        "closed_flags": closed_flags if whole else closed_flags[-CLOSED_FLAGS_SHOWN:],
        "closed_flags_total": len(closed_flags),
        **sharing_context(couple, user),
        "can_edit": may_edit(user, couple),
        "can_acknowledge": supervision.can_acknowledge(user, couple),
        **measures_context(signals, every_finding=whole),
    }
    return render(request, "cycles/couple_detail.html", context)


# The couple page charts the measures of the latest CHARTED_SESSIONS sessions (and tables their
# numbers), and lists the latest FINDINGS_SHOWN signals: each point is ~0.4 KB of SVG, so a
# whole 200-session treatment tripled the page. The signals are still derived from every
# session, and the PDF (couple_pdf) charts the whole treatment.
CHARTED_SESSIONS = 50
FINDINGS_SHOWN = 10
CLOSED_FLAGS_SHOWN = 20


def measures_context(signals: CoupleSignals, *, every_finding: bool = False) -> dict[str, Any]:
    """The measures card's charts, tables and findings, for the latest sessions (every
    finding when asked for)."""
    latest = signals.points[-1].ordinal if signals.points else 0
    since = latest - CHARTED_SESSIONS  # charted: the sessions numbered after this one
    points = [p for p in signals.points if p.ordinal > since]
    findings = signals.findings
    return {
        "signals": signals,
        "charted_points": points,
        "charted_from": points[0].ordinal if since > 0 and points else None,
        "charted_to": latest,
        "findings": findings if every_finding else findings[-FINDINGS_SHOWN:],
        "findings_earlier": 0 if every_finding else max(0, len(findings) - FINDINGS_SHOWN),
        "alliance_chart": alliance_chart(points),
        "satisfaction_sections": [
            {
                "name": series[0].name,
                "series": series,
                "rows": [
                    (one, [score for score in one.scores if score.ordinal > since])
                    for one in series
                ],
                "chart": satisfaction_chart(
                    [
                        replace(one, scores=[c for c in one.scores if c.ordinal > since])
                        for one in series
                    ],
                    maximum=series[0].maximum,
                ),
            }
            for series in signals.by_measure.values()
        ],
    }


def sharing_context(couple: Couple, user: User) -> dict[str, Any]:
    """Where the couple is shared, and the groups its therapist could share it into."""
    if not may_edit(user, couple):
        return {"shares": [], "share_groups": []}
    shares = list(CaseShare.objects.active().filter(couple=couple).select_related("group"))
    shared_into = {s.group_id for s in shares}
    groups = [g for g in groups_of(user) if g.pk not in shared_into]
    return {"shares": shares, "share_groups": groups}


@require_http_methods(["GET", "POST"])
@reauthentication_required
def couple_pdf(request: HttpRequest, case_code: str) -> HttpResponse:
    """The full case formulation for its own therapist (never the private notes), built in
    the background (exports.build_views.couple_pdf): a POST starts it and leads to its status
    page; a GET shows the button."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    if request.method == "GET":
        context = {
            "title": f"Case formulation of {couple.case_code} (PDF)",
            "description": "The couple's cycle map, sessions and measures; never the private "
            "notes.",
            "action": request.path,
        }
        return render(request, "exports/start.html", context)
    audit.record(request, "export couple pdf", couple)
    job = export_jobs.start(
        user=user,
        kind=ExportKind.COUPLE_PDF,
        filename=f"{couple.case_code}.pdf",
        content_type="application/pdf",
        params={"case_code": couple.case_code, "today": timezone.localdate().isoformat()},
    )
    return redirect("exports:status", token=job.token)


def latest_summaries(couple: Couple) -> dict[str, RuptureSummary]:
    """The last night's stored summaries by period (read, never recomputed here)."""
    rows = RuptureSummary.objects.filter(
        couple=couple,
        on_date=RuptureSummary.objects.filter(couple=couple)
        .order_by("-on_date")
        .values("on_date")[:1],
    )
    return {row.period: row for row in rows}


def couple_signals(couple: Couple) -> CoupleSignals:
    """The couple's measure series and derived signals, in a fixed number of queries."""
    points = load_points([couple.pk])[couple.pk]
    satisfaction = load_satisfaction([couple.pk]).get(couple.pk, [])
    return derive(points, satisfaction, SignalThresholds.for_practice(couple.practice_id))


def _partner(cleaned: dict[str, Any], key: str) -> PartnerDetails:
    return PartnerDetails(
        display_name=cleaned[f"partner_{key}_name"],
        position=cleaned[f"partner_{key}_position"],
        pronouns=cleaned[f"partner_{key}_pronouns"],
    )


@require_http_methods(["GET", "POST"])
def couple_new(request: HttpRequest) -> HttpResponse:
    user = signed_in(request)
    if not user.is_therapist:
        raise Http404("Only therapists open couples' records.")
    form = CoupleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        couple = couple_create(
            therapist=user,
            partner_a=_partner(data, "a"),
            partner_b=_partner(data, "b"),
            cycle_pattern=data["cycle_pattern"],
            eft_step=data["eft_step"],
            started_on=data["started_on"],
            request_token=form.token(),
        )
        messages.success(request, f"Opened the record for {couple.case_code}.")
        return redirect("cycles:detail", case_code=couple.case_code)
    return render(request, "cycles/couple_form.html", {"form": form, "couple": None})


@require_http_methods(["GET", "POST"])
def couple_edit(request: HttpRequest, case_code: str) -> HttpResponse:
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    if request.method == "GET":
        audit.record(request, "read couple", couple, detail="edit form")
    form = CoupleForm(
        request.POST or None,
        initial=CoupleForm.initial_for(couple),
        with_status=not couple.is_closed,
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            couple_update(
                couple=couple,
                partner_a=_partner(data, "a"),
                partner_b=_partner(data, "b"),
                cycle_pattern=data["cycle_pattern"],
                eft_step=data["eft_step"],
                started_on=data["started_on"],
                status=data.get("status", couple.status),
                read_version=form.read_version(),
            )
        except StaleEdit as stale:
            form.refuse_stale(stale.current, CoupleForm.initial_for(stale.current))
        else:
            messages.success(request, "Saved the couple's details.")
            return redirect("cycles:detail", case_code=couple.case_code)
    return render(request, "cycles/couple_form.html", {"form": form, "couple": couple})


def _set_focus(chains: list[editor.Chain], focus_id: str | None) -> None:
    for chain in chains:
        for form in chain.forms:
            for name, field in form.fields.items():
                field.widget.attrs.pop("autofocus", None)
                if focus_id and f"id_{form.prefix}-{name}" == focus_id:
                    field.widget.attrs["autofocus"] = True


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def cycle_map_edit(request: HttpRequest, case_code: str) -> HttpResponse:
    """Edit both partners' chains; saving writes the next revision of the map."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    partners = {p.label: p for p in couple.partners.all()}
    vocabulary = editor.vocabulary_for(user)
    current = latest_map(couple)
    conflict: CycleMap | None = None
    focus_id: str | None = None
    if request.method == "GET":
        revision = current.revision if current else 0
        audit.record(request, "read cycle map", couple, detail=f"revision={revision}")
        rows = editor.rows_from_map(current, partners)
        meta = CycleMapMetaForm(initial={"base_revision": current.revision if current else 0})
        chains = editor.build_chains(rows, partners, vocabulary, bound=False)
    else:
        rows, refusals = editor.rows_from_post(request.POST, vocabulary)
        meta = CycleMapMetaForm(request.POST)
        action = request.POST.get("action", "save")
        if action != "save":
            focus_id = editor.apply_action(rows, action)
            chains = editor.build_chains(rows, partners, vocabulary, bound=False, refusals=refusals)
        else:
            rows, unused_starters = editor.drop_blank_rows(rows)
            chains = editor.build_chains(rows, partners, vocabulary, bound=True, refusals=refusals)
            if meta.is_valid() and editor.chains_valid(chains):
                try:
                    cycle_map = cycle_map_save(
                        couple=couple,
                        author=user,
                        base_revision=meta.cleaned_data["base_revision"],
                        chains=editor.drafts_from(chains),
                        change_note=meta.cleaned_data["change_note"],
                    )
                except StaleRevision as stale:
                    conflict = latest_map(couple)
                    meta = CycleMapMetaForm(
                        initial={
                            "base_revision": stale.current,
                            "change_note": meta.cleaned_data["change_note"],
                        }
                    )
                else:
                    messages.success(request, editor.saved_message(cycle_map, unused_starters))
                    target = couple.get_absolute_url()
                    if is_htmx(request):
                        return HttpResponseClientRedirect(target)
                    return redirect(target)
    _set_focus(chains, focus_id)
    context = {
        "couple": couple,
        "chains": chains,
        "meta": meta,
        "current": current,
        "conflict": conflict,
        "focus_id": focus_id,
        "vocabulary": sorted(vocabulary.values(), key=lambda t: (t.kind, t.name)),
    }
    return render(request, _template(request, "cycles/cycle_map_edit.html", "editor"), context)


@require_GET
def cycle_map_history(request: HttpRequest, case_code: str) -> HttpResponse:
    """Every revision of the map, and what changed between any two of them."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.visible_to(user), case_code=case_code)
    return _history_page(request, couple, user)


def _history_page(
    request: HttpRequest,
    couple: Couple,
    user: User,
    *,
    conflict: CycleMap | None = None,
    refusal: str = "",
) -> HttpResponse:
    """The history page, with a refused restore's conflict or reason when there is one."""
    revisions = list(couple.cycle_maps.select_related("author").order_by("-revision"))
    partners = list(couple.partners.all())
    comparison = _comparison(request, couple, revisions, partners)
    detail = _history_detail(revisions, comparison)
    audit.record(request, "read cycle map history", couple, detail=detail)
    context = {
        "couple": couple,
        "revisions": revisions,
        "current_revision": revisions[0].revision if revisions else 0,
        "comparison": comparison,
        "can_edit": may_edit(user, couple),
        "conflict": conflict,
        "refusal": refusal,
    }
    return render(request, "cycles/cycle_map_history.html", context)


@require_POST
def cycle_map_restore(request: HttpRequest, case_code: str) -> HttpResponse:
    """ "Restore this version": save an earlier revision's steps as a new revision.

    Guarded like a save from the editor: `base_revision` is the revision the history page
    showed as current, so a restore against a newer map shows the conflict and changes
    nothing, and a double click restores once (cycles.restore.cycle_map_restore).
    """
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    revision = posted_number(request, "revision")
    base_revision = posted_number(request, "base_revision")
    if revision is None or base_revision is None:
        return _history_page(
            request, couple, user, refusal="Choose a revision from the list to restore."
        )
    try:
        restored = restore.cycle_map_restore(
            couple=couple, author=user, revision=revision, base_revision=base_revision
        )
    except restore.RevisionNotFound:
        refusal = f"This map has no revision {revision} to restore; nothing was changed."
        return _history_page(request, couple, user, refusal=refusal)
    except StaleRevision:
        return _history_page(request, couple, user, conflict=latest_map(couple))
    messages.success(
        request,
        f"Restored revision {revision} as revision {restored.cycle_map.revision} of the map.",
    )
    return redirect("cycles:cycle_history", case_code=couple.case_code)


def _history_detail(revisions: list[CycleMap], comparison: dict[str, Any] | None) -> str:
    """What the history page showed, as numbers: how many revisions, which two compared."""
    detail = f"revisions={len(revisions)}"
    if comparison is not None:
        detail += f" compared={comparison['older'].revision}-{comparison['newer'].revision}"
    return detail


def _comparison(
    request: HttpRequest, couple: Couple, revisions: list[CycleMap], partners: list[Partner]
) -> dict[str, Any] | None:
    pair = revisions_compared(request.GET, [r.revision for r in revisions])
    if pair is None:
        return None
    older_n, newer_n = pair
    maps = {
        m.revision: m
        for m in couple.cycle_maps.filter(revision__in=[older_n, newer_n]).prefetch_related(
            Prefetch("steps", queryset=CycleStep.objects.select_related("emotion"))
        )
    }
    older, newer = maps[older_n], maps[newer_n]
    return {
        "older": older,
        "newer": newer,
        "chains": [(p, editor.compare(older, newer, p)) for p in partners],
    }


# Closing, reopening and transferring a case (docs/domain.md, "Closing, transferring and keeping
# records"): each through its form with the write guard, each audited.


def _case_change(form: Any, change: Callable[[], Any]) -> bool:
    """Run a change of the case made from `form` (closing, reopening, transfer, co-therapy):
    True when it was saved; otherwise the form says why, beside it, and nothing changed (a
    form read before someone else's save is refused as stale, a refused change gives its
    reason)."""
    try:
        change()
    except StaleEdit as stale:
        form.refuse_stale(stale.current, {"version": getattr(stale.current, "version", None)})
    except CaseRefused as refused:
        form.add_error(None, str(refused))
    else:
        return True
    return False


def _case_history(couple: Couple) -> list[CaseEvent]:
    return list(
        couple.case_events.select_related("by", "from_therapist", "to_therapist").order_by(
            "-at", "-pk"
        )
    )


@require_http_methods(["GET", "POST"])
def couple_discharge(request: HttpRequest, case_code: str) -> HttpResponse:
    """Close the case, by its own therapist: a reason and the discharge date."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    if couple.is_closed:
        messages.info(request, f"{couple.case_code} is closed already.")
        return redirect("cycles:detail", case_code=couple.case_code)
    if request.method == "GET":
        audit.record(request, "read couple", couple, detail="close form")
    initial = {"version": couple.version, "closed_on": timezone.localdate()}
    form = DischargeForm(request.POST or None, couple=couple, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if _case_change(
            form,
            lambda: couple_discharge_service(
                couple=couple,
                by=user,
                reason=data["reason"],
                closed_on=data["closed_on"],
                note=data["other_reason"],
                read_version=form.read_version(),
            ),
        ):
            detail = f"reason={data['reason']} closed_on={data['closed_on'].isoformat()}"
            audit.record(request, "close case", couple, detail=detail)
            messages.success(request, f"Closed {couple.case_code}.")
            return redirect("cycles:detail", case_code=couple.case_code)
    context = {"form": form, "couple": couple, "history": _case_history(couple)}
    return render(request, "cycles/couple_close.html", context)


@require_http_methods(["GET", "POST"])
def couple_reopen(request: HttpRequest, case_code: str) -> HttpResponse:
    """Reopen a closed case, by its own therapist, saying why."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.editable_by(user), case_code=case_code)
    if not couple.is_closed:
        messages.info(request, f"{couple.case_code} is open.")
        return redirect("cycles:detail", case_code=couple.case_code)
    if request.method == "GET":
        audit.record(request, "read couple", couple, detail="reopen form")
    form = ReopenForm(request.POST or None, initial={"version": couple.version})
    if (
        request.method == "POST"
        and form.is_valid()
        and _case_change(
            form,
            lambda: couple_reopen_service(
                couple=couple,
                by=user,
                note=form.cleaned_data["why"],
                read_version=form.read_version(),
            ),
        )
    ):
        audit.record(request, "reopen case", couple)
        messages.success(request, f"Reopened {couple.case_code}.")
        return redirect("cycles:detail", case_code=couple.case_code)
    context = {"form": form, "couple": couple, "history": _case_history(couple)}
    return render(request, "cycles/couple_reopen.html", context)


def _transferable(user: User) -> QuerySet[Couple]:
    """The couples `user` may move: the practice's for its admin, the supervisees' for a
    supervisor; none for anyone else."""
    if user.practice_id is None:
        return Couple.objects.none()
    couples = Couple.objects.filter(practice_id=user.practice_id).select_related(
        "therapist", "co_therapist"
    )
    if user.is_practice_admin:
        return couples
    if user.is_supervisor:
        return couples.filter(supervisor_of(user))
    return couples.none()


TRANSFERS_PAGE_SIZE = 50


@require_GET
def transfers(request: HttpRequest) -> HttpResponse:
    """The cases the admin (or a supervisor) may move or give a co-therapist: case codes and
    therapists' names only, never a partner's name or anything clinical. A page at a time."""
    user = signed_in(request)
    if not (user.is_practice_admin or user.is_supervisor):
        raise Http404("Only the practice admin or a supervisor moves cases.")
    ordered = _transferable(user).order_by("therapist__display_name", "case_code")
    page = Paginator(ordered, TRANSFERS_PAGE_SIZE).get_page(request.GET.get("page"))
    audit.record(request, "read transfer list", detail=f"couples={page.paginator.count}")
    return render(request, "cycles/transfers.html", {"couples": page.object_list, "page": page})


@require_http_methods(["GET", "POST"])
def couple_transfer(request: HttpRequest, case_code: str) -> HttpResponse:
    """Move a case to another therapist of the practice, with a reason; both are told."""
    user = signed_in(request)
    couple = get_object_or_404(_transferable(user), case_code=case_code)
    targets = list(transfer_targets(couple))
    form = TransferForm(request.POST or None, targets=targets, initial={"version": couple.version})
    if request.method == "POST" and form.is_valid():
        old = couple.therapist
        new = form.cleaned_data["to_therapist"]
        if _case_change(
            form,
            lambda: couple_transfer_service(
                couple=couple,
                to_therapist=new,
                by=user,
                note=form.cleaned_data["why"],
                read_version=form.read_version(),
            ),
        ):
            audit.record(
                request, "transfer case", couple, detail=f"from user {old.pk} to user {new.pk}"
            )
            messages.success(request, f"Moved {couple.case_code} from {old} to {new}.")
            return redirect("cycles:transfers")
    return render(request, "cycles/couple_transfer.html", {"form": form, "couple": couple})


@require_http_methods(["GET", "POST"])
def couple_co_therapist(request: HttpRequest, case_code: str) -> HttpResponse:
    """Give the case a co-therapist, change or end it, with a reason; everyone concerned is
    told (docs/domain.md#co-therapy)."""
    user = signed_in(request)
    couple = get_object_or_404(_transferable(user), case_code=case_code)
    targets = list(co_therapist_targets(couple))
    initial = {"version": couple.version, "co_therapist": couple.co_therapist_id or ""}
    form = CoTherapistForm(request.POST or None, targets=targets, initial=initial)
    if request.method == "POST" and form.is_valid():
        chosen = form.cleaned_data["co_therapist"]
        if _case_change(
            form,
            lambda: co_therapist_set(
                couple=couple,
                co_therapist=chosen,
                by=user,
                note=form.cleaned_data["why"],
                read_version=form.read_version(),
            ),
        ):
            detail = f"co-therapist user {chosen.pk}" if chosen else "no co-therapist"
            audit.record(request, "set co-therapist", couple, detail=detail)
            done = f"{chosen} is now co-therapist of" if chosen else "No co-therapist on"
            messages.success(request, f"{done} {couple.case_code}.")
            return redirect("cycles:transfers")
    return render(request, "cycles/couple_co_therapist.html", {"form": form, "couple": couple})


# Retention and two-person destruction: the admin sets the period and asks; the couple's
# therapist or their supervisor confirms. The admin's pages show case codes and dates only.


@require_http_methods(["GET", "POST"])
def retention(request: HttpRequest) -> HttpResponse:
    """The retention period (a form under the write guard) and the closed records past it."""
    practice_id = cast(int, practice_admin(request).practice_id)
    policy = RetentionPolicy.for_practice(practice_id)
    form = RetentionForm(
        request.POST or None, initial={"years": policy.years, "version": policy.version}
    )
    if request.method == "POST" and form.is_valid():
        try:
            retention_set(
                practice_id=practice_id,
                years=form.cleaned_data["years"],
                read_version=form.read_version(),
            )
        except StaleEdit as stale:
            saved = {"years": getattr(stale.current, "years", None)}
            form.refuse_stale(stale.current, saved)
        else:
            audit.record(request, "set retention", detail=f"years={form.cleaned_data['years']}")
            messages.success(request, "Saved the retention period.")
            return redirect("cycles:retention")
    due = list(past_retention(policy).values_list("case_code", "started_on", "closed_on"))
    waiting = {
        r.case_code: r
        for r in DestructionRequest.objects.filter(
            practice_id=practice_id, destroyed_at__isnull=True
        ).select_related("requested_by")
    }
    destroyed = list(
        DestructionRequest.objects.filter(
            practice_id=practice_id, destroyed_at__isnull=False
        ).select_related("requested_by", "confirmed_by")
    )
    audit.record(request, "read retention list", detail=f"past retention={len(due)}")
    context = {
        "form": form,
        "policy": policy,
        "due": [(code, started, closed, waiting.get(code)) for code, started, closed in due],
        "destroyed": destroyed,
    }
    return render(request, "cycles/retention.html", context)


@require_POST
def destruction_ask(request: HttpRequest, case_code: str) -> HttpResponse:
    """The admin asks for a record past retention to be destroyed (nothing is deleted yet)."""
    user = practice_admin(request)
    practice_id = cast(int, user.practice_id)
    couple = get_object_or_404(Couple.objects.filter(practice_id=practice_id), case_code=case_code)
    try:
        asked = destruction_request(couple=couple, by=user)
    except CaseRefused as refused:
        messages.error(request, str(refused))
    else:
        audit.record(request, "request record destruction", couple)
        messages.success(
            request,
            f"Asked for {couple.case_code} to be destroyed: its therapist or their supervisor "
            "must confirm.",
        )
        tell_destruction_asked(asked, couple)
    return redirect("cycles:retention")


@require_http_methods(["GET", "POST"])
def destruction_confirm_view(request: HttpRequest, case_code: str) -> HttpResponse:
    """The couple's therapist or their supervisor confirms a waiting destruction."""
    user = signed_in(request)
    couple = get_object_or_404(Couple.objects.visible_to(user), case_code=case_code)
    asked = get_object_or_404(
        DestructionRequest.objects.select_related("requested_by"),
        couple=couple,
        destroyed_at__isnull=True,
    )
    if not may_confirm_destruction(user, couple):
        raise Http404("Only the couple's therapist or their supervisor confirms.")
    error = ""
    if request.method == "POST":
        try:
            # Files exported from the record (its PDF, copies of the record) go with it, in
            # the same transaction: never a destroyed record whose copies are left behind.
            with transaction.atomic():
                destruction_confirm(request=asked, by=user)
                ExportJob.objects.filter(params__case_code=asked.case_code).delete()
        except CaseRefused as refused:
            error = str(refused)
        else:
            audit.record(
                request,
                "destroy record",
                case_code=asked.case_code,
                detail=(
                    f"started {asked.started_on.isoformat()} closed {asked.closed_on.isoformat()} "
                    f"requested by user {asked.requested_by_id} confirmed by user {user.pk}"
                ),
            )
            messages.success(request, f"Destroyed the record of {asked.case_code}.")
            return redirect("cycles:caseload")
    else:
        audit.record(request, "read couple", couple, detail="destruction confirmation")
    context = {"couple": couple, "asked": asked, "error": error}
    return render(request, "cycles/destruction_confirm.html", context)
