"""`{{ value|practice_date }}`: a date in the practice's format (core.dates);
`{{ value|practice_datetime }}`: the same day followed by its time ("07/12/2026, 14:30")."""

from __future__ import annotations

import datetime

from django import template
from django.utils import dateformat, timezone

from core import dates

register = template.Library()


@register.filter
def practice_date(value: datetime.date | datetime.datetime | None) -> str:
    return dates.show(value)


@register.filter
def practice_datetime(value: datetime.datetime | None, time_format: str = "H:i") -> str:
    """The day in the practice's format and the time in the current zone (`H:i` unless
    given, e.g. `practice_datetime:"H:i:s"`); empty for no value, as Django's `date` is, so
    `|default:"—"` still works after it."""
    if not isinstance(value, datetime.datetime):
        return ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return f"{dates.show(local)}, {dateformat.time_format(local, time_format)}"


@register.simple_tag
def practice_date_hint() -> str:
    """The active format as a person reads it ("DD/MM/YYYY"), for a hand-written input."""
    return dates.active().hint
