from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.http import HttpRequest

from people.admin import PracticeScopedAdmin, ScopedReadOnlyAdmin
from sessions.models import MeasureDefinition, MeasureKind, PrivateNote, TherapySession


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
    reliable-change threshold. The shared ones (the CSI-4) aren't edited here.

    A safety screen (kind) is one too, its items with an optional "positive_at" each: the
    screen is positive when any answer reaches its item's "positive_at", or the total reaches
    the cut-off (sessions/safety.py)."""

    list_display = ["name", "code", "kind", "cutoff", "reliable_change", "active"]
    list_filter = ["kind"]
    fields = [
        "code",
        "name",
        "citation",
        "kind",
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
        form.clean = _clean_safety_rule  # type: ignore[method-assign,assignment]
        return form


def _clean_safety_rule(form: Any) -> Any:
    """A safety screen needs a rule that can say "positive", and higher answers are worse."""
    cleaned = forms.ModelForm.clean(form) or {}
    if cleaned.get("kind") != MeasureKind.SAFETY_SCREEN or not isinstance(
        cleaned.get("items"), list
    ):
        return cleaned
    has_item_rule = any(item.get("positive_at") is not None for item in cleaned["items"])
    if not has_item_rule and cleaned.get("cutoff") is None:
        form.add_error(
            "cutoff",
            "A safety screen needs a rule: give a cut-off for the total, or a "
            '"positive_at" on at least one item.',
        )
    if cleaned.get("lower_is_worse"):
        form.add_error(
            "lower_is_worse",
            "On a safety screen higher answers are worse: untick this "
            "(the screen is positive at or above its thresholds).",
        )
    return cleaned


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
        positive_at = item.get("positive_at")
        if positive_at is not None and (
            not isinstance(positive_at, int) or not item["min"] <= positive_at <= item["max"]
        ):
            raise ValidationError(
                f"Item {number}: positive_at is a whole number between min and max."
            )
        if item["key"] in keys:
            raise ValidationError(f"Item {number} repeats the key {item['key']!r}.")
        keys.add(item["key"])
    return items
