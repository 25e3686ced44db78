"""`{{ value|practice_date }}`: a date in the practice's format (core.dates)."""

from __future__ import annotations

import datetime

from django import template

from core import dates

register = template.Library()


@register.filter
def practice_date(value: datetime.date | datetime.datetime | None) -> str:
    return dates.show(value)


@register.simple_tag
def practice_date_hint() -> str:
    """The active format as a person reads it ("DD/MM/YYYY"), for a hand-written input."""
    return dates.active().hint
