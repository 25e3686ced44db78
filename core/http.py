"""Small request helpers every app's views share."""

from __future__ import annotations

from django.http import HttpRequest


def is_htmx(request: HttpRequest) -> bool:
    """Whether htmx asked for a region (a history restore wants the whole page)."""
    details = getattr(request, "htmx", None)
    return bool(details) and not details.history_restore_request  # type: ignore[union-attr]


def page_number(request: HttpRequest, name: str) -> int:
    """A page number from the query string: 1 unless it is a whole number above 1."""
    value = request.GET.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and 0 < int(value) < 100_000 else 1


def posted_number(request: HttpRequest, name: str) -> int | None:
    """A whole number (an id, a revision, a position) from the POST; None for anything else,
    so a made-up value is refused as missing, never a 500."""
    value = request.POST.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else None
