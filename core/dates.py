"""Dates in the practice's format: shown ("7 Dec 2026", "07/12/2026", ...) and typed.

One format is active per request (people.middleware sets the signed-in person's practice's,
as it does the time zone); everyone else gets DEFAULT. Showing goes through `show`
(the `practice_date` filter, core.templatetags.dates); entering through `DateTextField`, a
text input whose placeholder is the format and which accepts it and ISO (2026-12-07).
"""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import dateformat, timezone


@dataclass(frozen=True)
class DateFormat:
    key: str  # Django's date format, as stored on the practice
    label: str  # the choice as a practice admin reads it
    typed: str  # strptime's pattern for what a person types
    hint: str  # the pattern as a person reads it, for placeholders and messages


FORMATS: dict[str, DateFormat] = {
    f.key: f
    for f in (
        DateFormat("j M Y", "7 Dec 2026", "%d %b %Y", "7 Dec 2026"),
        DateFormat("d/m/Y", "07/12/2026 (day/month/year)", "%d/%m/%Y", "DD/MM/YYYY"),
        DateFormat("m/d/Y", "12/07/2026 (month/day/year)", "%m/%d/%Y", "MM/DD/YYYY"),
        DateFormat("Y-m-d", "2026-12-07 (year-month-day)", "%Y-%m-%d", "YYYY-MM-DD"),
    )
}
DEFAULT = "j M Y"
CHOICES = [(f.key, f.label) for f in FORMATS.values()]
ISO = "%Y-%m-%d"

_active: ContextVar[str] = ContextVar("practice_date_format", default=DEFAULT)


def active() -> DateFormat:
    return FORMATS.get(_active.get(), FORMATS[DEFAULT])


@contextlib.contextmanager
def override(key: str | None) -> Iterator[None]:
    """Make `key` the active format inside the block (an unknown one means DEFAULT)."""
    token = _active.set(key if key in FORMATS else DEFAULT)
    try:
        yield
    finally:
        _active.reset(token)


def show(value: datetime.date | datetime.datetime | None) -> str:
    """A date, or a datetime's day in the current time zone, in the active format."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime.datetime):
        day = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    else:
        day = value
    return dateformat.format(day, active().key)


def parse(text: str) -> datetime.date | None:
    """What was typed, read in the active format or as ISO; None when it is neither."""
    typed = " ".join(text.split())
    for pattern in dict.fromkeys((active().typed, ISO)):
        try:
            return datetime.datetime.strptime(typed, pattern).date()
        except ValueError:
            continue
    # "7 December 2026" reads as well as "7 Dec 2026".
    if active().typed == "%d %b %Y":
        with contextlib.suppress(ValueError):
            return datetime.datetime.strptime(typed, "%d %B %Y").date()
    return None


def invalid_message() -> str:
    example = datetime.date(2026, 12, 7)
    return (
        f"Enter a valid date as {active().hint}, e.g. {dateformat.format(example, active().key)}"
        f"{'' if active().typed == ISO else ' (or as 2026-12-07)'}."
    )


class DateTextInput(forms.TextInput):
    """A text input showing the date in the active format, its placeholder the format."""

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        attrs = {"placeholder": active().hint, "autocomplete": "off", **(attrs or {})}
        return super().get_context(name, value, attrs)

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, datetime.date):
            return show(value)
        return super().format_value(value)


class DateTextField(forms.DateField):
    """A day typed in the practice's format or ISO; anything else gets a message saying how."""

    widget = DateTextInput

    def to_python(self, value: Any) -> datetime.date | None:
        if value in self.empty_values:
            return None
        if isinstance(value, datetime.datetime):
            return value.date()
        if isinstance(value, datetime.date):
            return value
        day = parse(str(value))
        if day is None:
            raise ValidationError(invalid_message(), code="invalid")
        return day
