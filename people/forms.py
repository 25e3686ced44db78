"""Forms of the people app: the practice admin's search of the audit trail, and its export.

Its dates come from the query string, so anything can arrive: a bad one is a message next to
its field (with what was typed kept), never a 500. Before these bounds
`?date_to=9999-12-31` was an OverflowError: the search ends at the start of the day after,
which Python can't hold, and `0001-01-01` overflowed as well once turned into UTC east of
Greenwich.
"""

from __future__ import annotations

import datetime
from typing import Any, cast

from allauth.mfa.base import forms as mfa_forms
from django import forms
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils import timezone

from core import dates
from core.dates import DateTextField
from people import totp
from people.models import User

# The days a search may name: no audit event is older than the product, none is generations
# ahead, and both ends (and the day after the last) convert to UTC in any time zone.
FIRST_DAY = datetime.date(2000, 1, 1)
LAST_DAY = datetime.date(2099, 12, 31)


class FilterDateField(DateTextField):
    """A day typed into a search filter, in the practice's format or ISO (core.dates, as every
    date field: links and bookmarks with `?date_from=2026-12-01` keep working): a real date
    between FIRST_DAY and LAST_DAY."""

    default_error_messages = {"out_of_range": "Enter a date between {first} and {last}."}

    def validate(self, value: datetime.date | None) -> None:
        super().validate(value)
        if value is not None and not FIRST_DAY <= value <= LAST_DAY:
            message = self.error_messages["out_of_range"].format(
                first=dates.show(FIRST_DAY), last=dates.show(LAST_DAY)
            )
            raise ValidationError(message, code="out_of_range")


class AuditFilters(forms.Form):
    """The audit trail's search (people.audit_views), bound to the query string."""

    person = forms.ModelChoiceField(queryset=User.objects.none(), required=False)
    case_code = forms.CharField(max_length=12, required=False, label="Case code")
    date_from = FilterDateField(required=False, label="From")
    date_to = FilterDateField(required=False, label="To")

    def __init__(self, *args: Any, admin: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField, self.fields["person"])
        field.queryset = User.objects.visible_to(admin).order_by("display_name", "username")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            self.add_error("date_to", "The end date is before the start date.")
        return data


class AuditExportFilters(AuditFilters):
    """The audit export's filters (exports.views.audit_start): the search's, with a date range
    always set, so an export never runs over the whole trail by accident. A missing end is
    today, a missing start the EXPORT_DAYS up to the end, both ends included."""

    EXPORT_DAYS = 30

    @classmethod
    def default_range(cls, end: datetime.date | None = None) -> tuple[datetime.date, datetime.date]:
        end = end or timezone.localdate()
        return end - datetime.timedelta(days=cls.EXPORT_DAYS - 1), end

    @classmethod
    def initial_from(cls, query: QueryDict) -> dict[str, Any]:
        """What the form starts with: the search's filters where they are good dates, the
        default range otherwise (a bad one was sent back to the search before this page)."""
        initial: dict[str, Any] = {
            name: query[name] for name in ("person", "case_code") if query.get(name)
        }
        start, end = cls.default_range()
        initial["date_from"] = _day(query.get("date_from")) or start
        initial["date_to"] = _day(query.get("date_to")) or end
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.has_error("date_from") or self.has_error("date_to"):
            return data
        start, end = self.default_range(data.get("date_to"))
        data["date_to"] = data.get("date_to") or end
        data["date_from"] = data.get("date_from") or start
        if data["date_from"] > data["date_to"] and not self.has_error("date_to"):
            self.add_error("date_to", "The end date is before the start date.")
        return data


def _day(value: str | None) -> datetime.date | None:
    """A day from the search's query string, as its fields read it (the practice's format or
    ISO); None for anything else."""
    day = dates.parse(value or "")
    return day if day is not None and FIRST_DAY <= day <= LAST_DAY else None


# An authenticator code is good once (allauth keeps each used code for its period): a code
# typed again, e.g. a second sign-in within the same 30 seconds, is refused with its reason.
CODE_ALREADY_USED = (
    "This code was already used. Wait for your authenticator app to show the next code "
    "(a new one every {seconds} seconds) and enter that."
)


class _AlreadyUsedCode:
    """Says so when allauth refuses a code because it was used already, not "Incorrect code"."""

    user: User
    cleaned_data: dict[str, Any]

    def clean_code(self) -> str:
        try:
            return cast(str, super().clean_code())  # type: ignore[misc]
        except ValidationError as refused:
            # Only allauth's "incorrect code" is reworded: a throttled attempt stays refused as
            # throttled, whatever code it carries.
            incorrect = getattr(refused, "code", None) == "incorrect_code"
            if incorrect and totp.is_current_code(self.user, self.cleaned_data.get("code", "")):
                raise ValidationError(
                    CODE_ALREADY_USED.format(seconds=totp.PERIOD_SECONDS), code="code_used"
                ) from None
            raise


class AuthenticateForm(_AlreadyUsedCode, mfa_forms.AuthenticateForm):
    pass


class ReauthenticateForm(_AlreadyUsedCode, mfa_forms.ReauthenticateForm):
    pass
