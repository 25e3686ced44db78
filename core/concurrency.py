"""No clinical write lost, duplicated or silently overwritten: the one place for the rule.

Two guards every form that writes a clinical record carries (templates/includes/write_guard.html
renders them):

- **Edits** carry the `version` of the row they were read at. The write claims the next version
  with a conditional UPDATE (`claim_version`) inside its transaction: a form read before
  someone else's save finds 0 rows and raises `StaleEdit`; the view then shows the form again
  with what the user typed, what is saved now, and the new version, so saving again is a
  deliberate merge. Two saves racing from the same version serialise on the row: one wins.
- **Creates** carry a `request_token` made when the form was drawn. The created row stores it
  under a unique constraint, and creates under one parent take turns on its row
  (`create_once`): a double click, a retried request or a form sent again finds the row the
  first made instead of making a second.

The cycle map keeps its own revision numbers (cycles.services.cycle_map_save) to the same end.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django import forms
from django.db import models
from django.db.models import F

if TYPE_CHECKING:
    from django.db.models import QuerySet

STALE_MESSAGE = (
    "Someone saved this record after you opened it, so your changes were not saved. "
    "Your version is still in the form; what is saved now is shown beside it. Merge the "
    "two, then save again."
)
EXPIRED_MESSAGE = (
    "This form was opened before the record's last change and can't be checked against it: "
    "reload the page. What you typed is still here to copy."
)


def version_field() -> models.PositiveIntegerField:
    """The column an edit form's `version` is checked against (raised by every saved edit)."""
    return models.PositiveIntegerField(
        default=1,
        db_default=1,  # rows written outside the ORM (bench/practice.py's COPY) start at 1
        editable=False,
        help_text="Raised by every saved edit; a form read at an older one is refused.",
    )


def request_token_field() -> models.UUIDField:
    """The column that makes a create idempotent: the form's token, unique when present."""
    return models.UUIDField(null=True, blank=True, unique=True, editable=False)


class StaleEdit(Exception):
    """The row moved on since the form read it; `current` is what is saved now."""

    def __init__(self, current: Any) -> None:
        super().__init__("The record changed since the form was opened.")
        self.current = current


def claim_version(model: type[models.Model], *, pk: Any, read_version: int | None) -> int:
    """Raise the row's version if it is still `read_version`, else raise StaleEdit.

    Call inside the write's transaction, before writing: the UPDATE holds the row until the
    transaction ends, so a concurrent save from the same version waits, then finds 0 rows.
    """
    rows = model._default_manager.filter(pk=pk)
    claimed = 0
    if read_version is not None:
        claimed = rows.filter(version=read_version).update(version=F("version") + 1)
    if claimed != 1:
        raise StaleEdit(rows.first())
    return read_version + 1  # type: ignore[operator]


def create_once[ModelT: models.Model](
    queryset: QuerySet[ModelT],
    *,
    token: uuid.UUID | None,
    parent: models.Model,
    create: Callable[[uuid.UUID | None], ModelT],
) -> tuple[ModelT, bool]:
    """The row `create(token)` makes, or the one an earlier request made with `token`.

    Returns (row, created). Creates under one `parent` (the therapist's, the couple's, the
    session's row) take their turn on its row lock, so a duplicate sent at the same moment
    waits for the first to commit, then finds its row (and two different sessions logged at
    once are numbered one after the other). `create` stores the token it is given
    in the row's `request_token`. `queryset` scopes the lookup: a token already used outside
    it (someone else's, sent on purpose) is dropped, never a way to reach another's row.
    Call inside the write's transaction.
    """
    parent_rows = parent._meta.model._default_manager.filter(pk=parent.pk)
    list(parent_rows.select_for_update().values_list("pk", flat=True))
    if token is None:
        return create(None), True
    existing = queryset.model._default_manager.filter(request_token=token).first()
    if existing is None:
        return create(token), True
    if queryset.filter(pk=existing.pk).exists():
        return existing, False
    return create(None), True


def replayed[ModelT: models.Model](
    queryset: QuerySet[ModelT], data: Any, prefix: str = ""
) -> ModelT | None:
    """The row an earlier copy of this create request made, looked up before the form is
    checked: a form sent again must not be refused for clashing with its own first copy
    (a session overlapping itself)."""
    try:
        token = uuid.UUID(data.get(f"{prefix}-request_token" if prefix else "request_token", ""))
    except (TypeError, ValueError, AttributeError):
        return None
    return queryset.filter(request_token=token).first()


class VersionedForm(forms.Form):
    """An edit form that carries the version its record was read at."""

    version = forms.IntegerField(widget=forms.HiddenInput, required=False, min_value=1)

    def read_version(self) -> int | None:
        return self.cleaned_data.get("version")

    def refuse_stale(self, current: Any, saved_now: Mapping[str, Any]) -> None:
        """Keep what the user typed; show what is saved now; carry the current version.

        `saved_now` is the form's initial data for the current row: the fields whose saved
        value differs from what the user sent are listed as the conflict.
        """
        if current is None:
            self.add_error(None, "This record is no longer there: it was withdrawn.")
            return
        data = self.data.copy()  # type: ignore[attr-defined]  # a QueryDict or a dict
        data[self.add_prefix("version")] = str(current.version)
        self.data = data
        self.conflicts = self._conflicts(saved_now)
        sent_a_version = self.cleaned_data.get("version") is not None
        self.add_error(None, STALE_MESSAGE if sent_a_version else EXPIRED_MESSAGE)

    def _conflicts(self, saved_now: Mapping[str, Any]) -> list[Conflict]:
        conflicts = []
        for name, field in self.fields.items():
            if name == "version" or name not in saved_now:
                continue
            saved = field.prepare_value(saved_now[name])
            if field.has_changed(saved, self[name].data):
                label = str(field.label or name)
                conflicts.append(Conflict(label=label, saved=shown(field, saved)))
        return conflicts


@dataclass(frozen=True)
class Conflict:
    """A field whose saved value differs from the user's: shown beside the kept form."""

    label: str
    saved: str


def shown(field: forms.Field, value: Any) -> str:
    """A saved value as the form would offer it: choice labels, not codes."""
    choices = dict(getattr(field, "choices", []) or [])
    values = value if isinstance(value, list | tuple | set) else [value]
    labels = [str(choices.get(v, choices.get(str(v), v))) for v in values if v not in (None, "")]
    return ", ".join(labels) or "(empty)"


class CreateForm(forms.Form):
    """A create form that carries the token making its submission idempotent."""

    request_token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["request_token"].initial = uuid.uuid4

    def token(self) -> uuid.UUID | None:
        return self.cleaned_data.get("request_token")
