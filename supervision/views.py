"""The supervisor's screens: the caseload review, acknowledging a flag, a supervisee's overview
over time, and the rupture-code export.

Only supervisors reach them (anyone else gets a 404), and only for the couples of the
therapists they supervise (supervision.review). Supervisors read, never write the record: the
one thing they write is their own acknowledgement of a flag.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from allauth.account.decorators import reauthentication_required
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers
from django_htmx.http import trigger_client_event
from django_htmx.middleware import HtmxDetails

from cycles.models import CoupleStatus
from exports import jobs as export_jobs
from exports.models import ExportKind
from people.access import signed_in
from people.audit import record
from people.models import Supervision, User
from ruptures.models import Flag, FlagKind
from supervision import review as supervision
from supervision.forms import AcknowledgeForm

REVIEW_PAGE_SIZE = 25


class HtmxHttpRequest(HttpRequest):
    """A request as django_htmx.middleware.HtmxMiddleware leaves it (for the type checker)."""

    htmx: HtmxDetails


def _supervisor(request: HttpRequest) -> User:
    user = signed_in(request)
    if not supervision.is_supervisor(user):
        raise Http404("Only supervisors review caseloads.")
    return user


def _template(request: HtmxHttpRequest, page: str, region: str) -> str:
    """The region alone for an htmx swap; the whole page otherwise (and on history restore)."""
    if request.htmx and not request.htmx.history_restore_request:
        return f"{page}#{region}"
    return page


def _filters(request: HttpRequest, therapist_ids: set[int]) -> supervision.ReviewFilters:
    params = request.GET
    try:
        therapist: int | None = int(params.get("therapist", ""))
    except ValueError:
        therapist = None
    if therapist not in therapist_ids:
        therapist = None
    kind = params.get("kind", "")
    status = params.get("status", "all")
    sort = params.get("sort", "therapist")
    acknowledgement = params.get("ack", "")
    return supervision.ReviewFilters(
        therapist=therapist,
        kind=kind if kind in FlagKind.values else "",
        status=status if status in CoupleStatus.values else "all",
        period="all" if params.get("period") == "all" else "week",
        acknowledgement=acknowledgement if acknowledgement in ("pending", "done") else "",
        sort=sort if sort.removeprefix("-") in supervision.SORTS else "therapist",
    )


def _sort_links(filters: supervision.ReviewFilters) -> dict[str, dict[str, str]]:
    """Per sortable column: the query string that sorts by it (flipping when it is current)
    and its aria-sort state."""
    links = {}
    for key in supervision.SORTS:
        if filters.sort == key:
            target, state = f"-{key}", "ascending"
        elif filters.sort == f"-{key}":
            target, state = key, "descending"
        else:
            target, state = key, "none"
        links[key] = {"query": urlencode(filters.query(sort=target, page="")), "state": state}
    return links


@require_GET
@vary_on_headers("HX-Request")
def review(request: HtmxHttpRequest) -> HttpResponse:
    """Every couple of every supervisee, in one table: this week's by default.

    Queries, whatever the caseload: the practice's date, the therapist filter's options, the
    paginator's count and the page of rows (supervision.review.for_review).
    """
    user = _supervisor(request)
    today = supervision.practice_today(user)
    therapists = list(supervision.with_contribution_trend(supervision.supervisees(user)))
    filters = _filters(request, {t.pk for t in therapists})
    rows = supervision.review_queryset(user, filters, today=today, now=timezone.now())
    page = Paginator(rows, REVIEW_PAGE_SIZE).get_page(request.GET.get("page"))
    # One event for the page (no row-by-row events): whose couples, how many, which page.
    listed = f"therapist={filters.therapist or 'all'} couples={page.paginator.count}"
    record(request, "read caseload review", detail=f"{listed} page={page.number}")
    context = {
        "page": page,
        "couples": supervision.review_rows(page.object_list, today),
        "filters": filters,
        "therapists": therapists,
        "flag_kinds": FlagKind.choices,
        "statuses": CoupleStatus.choices,
        "sort_links": _sort_links(filters),
        "query": urlencode(filters.query()),
        "week_query": urlencode(filters.query(period="")),
        "all_query": urlencode(filters.query(period="all")),
        "today": today,
        "window_days": supervision.REVIEW_WINDOW_DAYS,
    }
    return render(request, _template(request, "supervision/review.html", "table"), context)


def _safe_path(request: HttpRequest, target: str) -> str:
    """`target` if it is a path on this site, else "" (a view name, a bare word, elsewhere)."""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _next_url(request: HttpRequest) -> str:
    """Where the acknowledgement returns to: the posted `next`, else the review."""
    return _safe_path(request, request.POST.get("next", "")) or reverse("supervision:review")


def _form_next_url(request: HtmxHttpRequest) -> str:
    """The `next` a fetched acknowledgement form carries: the page the form was asked from.
    The review's plain link names it (`?next=`, so it keeps the filters without JavaScript);
    its htmx request leaves it out (fewer bytes a flag) and htmx sends the page's address,
    which the review's filters keep current (hx-push-url)."""
    target = request.GET.get("next", "")
    if not target and request.htmx and request.htmx.current_url_abs_path:
        target = request.htmx.current_url_abs_path
    return _safe_path(request, target) or reverse("supervision:review")


@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def acknowledge(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """A supervisor acknowledges a flag on a supervisee's couple, with a comment the therapist
    reads on the couple page: the flag and every open flag sharing its evidence, as one
    incident (flags.incidents; one walk-out opens three flags, acknowledged once). Each
    acknowledgement belongs to its flag row: a flag that closes and opens again later is a new
    row, so it shows as new.

    GET is the form, asked for when wanted: the review lists incidents with a link here, which
    htmx turns into the form's region in place (the partial) and which is this one form's page
    without JavaScript. The review so renders no form per flag (issue 17). Two queries: the
    flag with its couple's open flags, and the read's access event."""
    user = _supervisor(request)
    try:
        flag, incident = supervision.flag_and_its_incident(user, pk)
    except Flag.DoesNotExist:
        raise Http404("No such flag of your supervisees.") from None
    shown = supervision.shown(incident)
    today = timezone.localdate(timezone=ZoneInfo(flag.couple.practice.time_zone))
    context: dict[str, Any] = {"flag": flag, "incident": shown, "today": today}
    if request.method == "GET":
        # As every form, its read is recorded on GET (tests/security/test_read_audit.py).
        record(request, "read flag", flag, detail="acknowledge form")
        context |= {"ack_next": _form_next_url(request), "ack_focus": bool(request.htmx)}
        if request.htmx:
            return render(request, "supervision/_acknowledge_form.html", context)
        return render(request, "supervision/acknowledge.html", context)
    form = AcknowledgeForm(request.POST, today=today)
    next_url = _next_url(request)
    context["ack_next"] = next_url
    if not form.is_valid():
        context["ack_form"] = form
        if request.htmx:
            return render(request, "supervision/_acknowledge_form.html", context)
        return render(request, "supervision/acknowledge.html", context)
    saved = supervision.incident_acknowledge(
        incident=incident,
        addressed_to=flag,
        by=user,
        comment=form.cleaned_data["comment"],
        follow_up_on=form.cleaned_data["follow_up_on"],
        request_token=form.token(),
    )
    # The comment is clinical text: the trail names each flag and its kind only.
    for each in sorted(incident.flags, key=lambda f: f.pk):
        record(request, "acknowledge flag", each, detail=f"kind={each.kind}")
    if request.htmx:
        context["saved"] = next(a for a in saved if a.flag_id == flag.pk)
        response = render(request, "supervision/_acknowledge_form.html", context)
        flags = [f.pk for f in incident.flags]
        return trigger_client_event(response, "flagAcknowledged", {"flag": flag.pk, "flags": flags})
    messages.success(request, f"Acknowledged {shown.label} on {flag.couple}.")
    return redirect(next_url)


def _review_url(therapist: User, **filters: str) -> str:
    """The review of all the therapist's couples, narrowed by `filters`."""
    params: dict[str, str | int] = {"therapist": therapist.pk, "period": "all", **filters}
    query = urlencode(params)
    return f"{reverse('supervision:review')}?{query}"


@require_GET
def therapist_overview(request: HttpRequest, pk: int) -> HttpResponse:
    """A supervisee's nightly roll-ups over time: each number a small chart and a table row,
    and each current number a link to the cases behind it. Two queries after sign-in."""
    user = _supervisor(request)
    therapist = get_object_or_404(supervision.supervisees(user), pk=pk)
    summaries = supervision.therapist_summaries(user, therapist)
    detail = f"therapist={therapist.pk} days={len(summaries)}"
    record(request, "read therapist overview", detail=detail)
    latest = summaries[-1] if summaries else None
    metrics: list[dict[str, Any]] = []
    for metric in supervision.METRICS:
        series = [(row.on_date, metric.value(row.data)) for row in summaries]
        current = metric.value(latest.data) if latest else None
        metrics.append(
            {
                "metric": metric,
                "current": metric.show(current),
                "cases_url": _review_url(therapist, **metric.cases),
                "chart": supervision.line_chart(metric, series),
            }
        )
    table = [
        {
            "on_date": row.on_date,
            "values": [m["metric"].show(m["metric"].value(row.data)) for m in metrics],
        }
        for row in reversed(summaries)
    ]
    open_flags = [
        (supervision.flag_kind_label(kind), count, _review_url(therapist, kind=kind))
        for kind, count in sorted((latest.data.get("open_flags") or {}).items() if latest else [])
    ]
    context = {
        "therapist": therapist,
        "latest": latest,
        "metrics": metrics,
        "table": table,
        "open_flags": open_flags,
        "all_url": _review_url(therapist),
        "notes_need_cosign": Supervision.objects.filter(supervisor=user, therapist=therapist)
        .values_list("notes_need_cosign", flat=True)
        .first(),
    }
    return render(request, "supervision/therapist.html", context)


@require_POST
def cosign_setting(request: HttpRequest, pk: int) -> HttpResponse:
    """The supervisor decides whether this supervisee's signed notes wait for their
    co-signature (docs/domain.md, "Signing"); the practice admin can, on the person's page."""
    user = _supervisor(request)
    therapist = get_object_or_404(supervision.supervisees(user), pk=pk)
    needed = request.POST.get("notes_need_cosign") == "yes"
    row = get_object_or_404(Supervision, supervisor=user, therapist=therapist)
    changed = row.set_cosigning(needed)
    record(request, "set co-signing", detail=f"therapist={therapist.pk} needed={needed}")
    if not changed:
        told = "Nothing changed: it was already so."
    elif needed:
        told = f"{therapist}'s session records now wait for your co-signature once signed."
    else:
        told = f"{therapist}'s signed session records no longer wait for your co-signature."
    messages.success(request, told)
    return redirect("supervision:therapist", pk=therapist.pk)


@require_http_methods(["GET", "POST"])
@reauthentication_required
def ruptures_csv(request: HttpRequest) -> HttpResponse:
    """The rupture codes of every current rupture of the supervisees' couples, as a CSV built
    in the background (exports): a POST starts it and leads to its status page; a GET shows
    the button.

    Coded values only (supervision.review.CSV_FIELDS): no names, notes or reflections. Like
    every export, it asks for a recent sign-in or check (people.adapters), and it is recorded,
    with its row count, when it starts.
    """
    user = _supervisor(request)
    if request.method == "GET":
        context = {
            "title": "Rupture codes (CSV)",
            "description": "Every current rupture of your supervisees' couples, coded values "
            "only: no names, notes or reflections.",
            "action": reverse("supervision:ruptures_csv"),
        }
        return render(request, "exports/start.html", context)
    count = supervision.export_ruptures(user).count()
    record(request, "export csv", detail=f"ruptures.csv rows={count}")
    job = export_jobs.start(
        user=user,
        kind=ExportKind.RUPTURES_CSV,
        filename=f"rupture-codes-{timezone.localdate().isoformat()}.csv",
        content_type="text/csv; charset=utf-8",
    )
    return redirect("exports:status", token=job.token)
