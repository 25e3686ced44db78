from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from people.admin import PracticeScopedAdmin, ScopedReadOnlyAdmin
from sessions.models import MeasureDefinition, PrivateNote, TherapySession


@admin.register(TherapySession)
class TherapySessionAdmin(ScopedReadOnlyAdmin):
    list_display = ["couple", "ordinal", "starts_at", "format", "attendance", "withdrawn_at"]
    list_filter = ["format", "attendance"]


@admin.register(PrivateNote)
class PrivateNoteAdmin(ScopedReadOnlyAdmin):
    """Its author's alone, as everywhere: `PrivateNote.objects.visible_to` is author-only."""

    list_display = ["__str__", "kind", "updated_at"]


@admin.register(MeasureDefinition)
class MeasureDefinitionAdmin(PracticeScopedAdmin):
    """A practice adds the questionnaires it is licensed for, as data: items with their
    ranges (a list of {"key", "text", "min", "max", "anchors"}), a cut-off and a
    reliable-change threshold. The shared ones (the CSI-4) aren't edited here."""

    list_display = ["name", "code", "cutoff", "reliable_change", "active"]
    fields = [
        "code",
        "name",
        "citation",
        "items",
        "cutoff",
        "lower_is_worse",
        "reliable_change",
        "active",
    ]

    def get_form(  # type: ignore[override]
        self, request: HttpRequest, obj: Any = None, **kwargs: Any
    ) -> Any:
        form = super().get_form(request, obj, **kwargs)
        form.clean_items = _clean_items  # type: ignore[attr-defined]
        return form


def _clean_items(form: Any) -> Any:
    """Each item needs a key, a text and a whole-number range, min below max."""
    items = form.cleaned_data.get("items")
    if not isinstance(items, list) or not items:
        raise ValidationError("Give a list of items.")
    keys = set()
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict) or not {"key", "text", "min", "max"} <= item.keys():
            raise ValidationError(f"Item {number} needs a key, a text, a min and a max.")
        if not (isinstance(item["min"], int) and isinstance(item["max"], int)):
            raise ValidationError(f"Item {number}: min and max are whole numbers.")
        if item["min"] >= item["max"]:
            raise ValidationError(f"Item {number}: min must be below max.")
        if item["key"] in keys:
            raise ValidationError(f"Item {number} repeats the key {item['key']!r}.")
        keys.add(item["key"])
    return items
