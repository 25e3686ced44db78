from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from cycles.models import Couple, CoupleStatus

CASELOAD_PAGE_SIZE = 25


@require_GET
def caseload(request: HttpRequest) -> HttpResponse:
    """The therapist's home: their couples (and a supervisor's supervisees' couples)."""
    status = request.GET.get("status", CoupleStatus.ACTIVE)
    if status not in CoupleStatus.values and status != "all":
        status = CoupleStatus.ACTIVE
    query = request.GET.get("q", "")[:100]
    couples = Couple.objects.visible_to(request.user).search(query)
    if status != "all":
        couples = couples.filter(status=status)
    page = Paginator(couples.for_caseload().order_by("case_code"), CASELOAD_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    context = {"page": page, "status": status, "query": query, "statuses": CoupleStatus.choices}
    template = "cycles/caseload.html#caseload-table" if request.htmx else "cycles/caseload.html"
    return render(request, template, context)


@require_GET
def couple_detail(request: HttpRequest, case_code: str) -> HttpResponse:
    couple = get_object_or_404(
        Couple.objects.visible_to(request.user).select_related("therapist"), case_code=case_code
    )
    partners = list(couple.partners.all())
    return render(request, "cycles/couple_detail.html", {"couple": couple, "partners": partners})
