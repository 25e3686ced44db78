"""The practice admin's audit trail: search and CSV export of their practice's events.

Both kinds of event are shown: AccessEvent (reads, exports, shares, sign-ins: written by
people.audit and people.signals) and ChangeEvent (every change to a clinical row: written by
the database's triggers). Neither carries clinical text, so the admin, who reads no clinical
content, may see them. Anyone else gets a 404.
"""

from __future__ import annotations

import datetime
import heapq
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from allauth.account.decorators import reauthentication_required
from django.db import connection
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from core.csv import streamed_lines
from people.access import practice_admin
from people.forms import AuditFilters
from people.models import AccessEvent, ChangeEvent, User

PAGE_SIZE = 50
# The deepest page asked of the database: its OFFSET must fit a bigint (a longer number in
# the query string was a 500), and no practice's trail runs to 5 x 10^10 events.
LAST_PAGE = 10**9
CSV_HEADER = [
    "kind",
    "at (UTC)",
    "person",
    "actor",
    "action",
    "record",
    "record id",
    "case code",
    "columns changed",
    "ip",
    "detail",
]


def _day_start(day: datetime.date, zone: ZoneInfo) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=zone)


def filtered_events(
    admin: User, filters: dict[str, Any], zone: ZoneInfo
) -> tuple[QuerySet[AccessEvent], QuerySet[ChangeEvent]]:
    """The admin's practice's access and change events matching the filters, newest first.

    Dates are whole days in the practice's time zone, both ends included.
    """
    accesses = AccessEvent.objects.visible_to(admin).select_related("user")
    changes = ChangeEvent.objects.visible_to(admin).select_related("actor")
    if person := filters.get("person"):
        accesses = accesses.filter(user_id=person.pk)
        changes = changes.filter(actor_id=person.pk)
    if case_code := (filters.get("case_code") or "").strip():
        accesses = accesses.filter(case_code__iexact=case_code)
        changes = changes.filter(case_code__iexact=case_code)
    if start := filters.get("date_from"):
        accesses = accesses.filter(at__gte=_day_start(start, zone))
        changes = changes.filter(at__gte=_day_start(start, zone))
    if end := filters.get("date_to"):
        after = _day_start(end + datetime.timedelta(days=1), zone)
        accesses = accesses.filter(at__lt=after)
        changes = changes.filter(at__lt=after)
    return accesses.order_by("-at", "-id"), changes.order_by("-at", "-id")


def _page_number(request: HttpRequest, name: str) -> int:
    try:
        return min(max(1, int(request.GET.get(name, "1"))), LAST_PAGE)
    except ValueError:
        return 1


def _page(rows: QuerySet[Any], number: int) -> tuple[list[Any], bool]:
    """One page in one query: a row past the page says whether there is a next one."""
    offset = (number - 1) * PAGE_SIZE
    fetched = list(rows[offset : offset + PAGE_SIZE + 1])
    return fetched[:PAGE_SIZE], len(fetched) > PAGE_SIZE


def _query(request: HttpRequest, **changes: Any) -> str:
    params = {k: v for k, v in request.GET.items() if v}
    params.update({k: str(v) for k, v in changes.items()})
    return urlencode(params)


def _zone() -> ZoneInfo:
    """The practice's time zone, where the search's dates are the practice's days: the
    request's active zone (people.middleware.PracticeTimeZoneMiddleware), no query."""
    return ZoneInfo(timezone.get_current_timezone_name())


@require_GET
def audit(request: HttpRequest) -> HttpResponse:
    """Search the practice's trail by person, case code and dates; each list is paged on its
    own, one query each."""
    admin = practice_admin(request)
    form = AuditFilters(request.GET or None, admin=admin)
    context: dict[str, Any] = {
        "form": form,
        "accesses": [],
        "changes": [],
        # The change trail's triggers exist on PostgreSQL only (people 0005, 0007).
        "trail_kept": connection.vendor == "postgresql",
    }
    if form.is_bound and not form.is_valid():
        return render(request, "people/audit.html", context)
    filters = form.cleaned_data if form.is_bound else {}
    zone = _zone()
    accesses, changes = filtered_events(admin, filters, zone)
    access_page = _page_number(request, "access_page")
    change_page = _page_number(request, "change_page")
    context["accesses"], more_accesses = _page(accesses, access_page)
    context["changes"], more_changes = _page(changes, change_page)
    context.update(
        zone=zone,
        export_query=_query(request, access_page="", change_page=""),
        access_prev=_query(request, access_page=access_page - 1) if access_page > 1 else "",
        access_next=_query(request, access_page=access_page + 1) if more_accesses else "",
        change_prev=_query(request, change_page=change_page - 1) if change_page > 1 else "",
        change_next=_query(request, change_page=change_page + 1) if more_changes else "",
        access_page=access_page,
        change_page=change_page,
    )
    return render(request, "people/audit.html", context)


def _person(user: User | None) -> str:
    return user.username if user is not None else ""


def _access_row(event: AccessEvent) -> tuple[datetime.datetime, int, list[Any]]:
    return (
        event.at,
        event.pk,
        [
            "access",
            event.at.isoformat(),
            _person(event.user),
            "",
            event.action,
            event.object_type,
            event.object_id,
            event.case_code,
            "",
            event.ip or "",
            event.detail,
        ],
    )


def _change_row(event: ChangeEvent) -> tuple[datetime.datetime, int, list[Any]]:
    return (
        event.at,
        event.pk,
        [
            "change",
            event.at.isoformat(),
            _person(event.actor),
            event.actor_label or event.db_user,
            event.operation,
            event.table_name,
            event.row_id,
            event.case_code,
            " ".join(event.changed_columns or []),
            "",
            "",
        ],
    )


def csv_lines(accesses: Iterable[AccessEvent], changes: Iterable[ChangeEvent]) -> Iterator[str]:
    """Both kinds of event, merged newest first, every cell formula-safe."""
    merged = heapq.merge(
        (_access_row(e) for e in accesses),
        (_change_row(e) for e in changes),
        key=lambda row: (row[0], row[1]),
        reverse=True,
    )
    return streamed_lines(CSV_HEADER, (cells for _at, _pk, cells in merged))


@require_http_methods(["GET", "POST"])
@reauthentication_required
def audit_csv(request: HttpRequest) -> HttpResponse:
    """The export of the search: its date range is asked for, the export recorded and the CSV
    built in the background by the exports app (`exports:audit`, reached by its URL's name:
    this floor imports no app above it). A bad search goes back to it; nothing is exported.

    The rows come from `filtered_events` and `csv_lines` below, in the exports' worker."""
    admin = practice_admin(request)
    query = request.GET.urlencode()
    form = AuditFilters(request.GET or None, admin=admin)
    if form.is_bound and not form.is_valid():
        # Back to the search, which shows each message beside its field; nothing exported.
        return redirect(f"{reverse('people:audit')}?{query}")
    url = reverse("exports:audit") + (f"?{query}" if query else "")
    # A POST (a form that still posts here) keeps its method and fields: 307.
    return redirect(url) if request.method == "GET" else HttpResponseRedirect(url, status=307)
