"""A set of choices stored as one integer of bit flags.

Markers, strategies and principles are short, fixed lists (docs/domain.md#alliance-ruptures-3rs).
One integer
column per set keeps a rupture in one row, lets the database check that only markers of the
rupture's type are present (Rupture.Meta), and lets the nightly job count each marker with
set-based SQL (`markers & bit`), never a join per rupture.
"""

from __future__ import annotations

import enum
from typing import Any

from django import forms
from django.db import models


class LabelledFlag(enum.IntFlag):
    """An IntFlag whose members carry a human label: `Member = 1, "Label"`."""

    label: str

    def __new__(cls, value: int, label: str = "") -> LabelledFlag:
        member = int.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        return [(member.name or "", member.label) for member in cls]

    def names(self) -> list[str]:
        return [member.name or "" for member in type(self) if member in self]

    def labels(self) -> list[str]:
        return [member.label for member in type(self) if member in self]

    @classmethod
    def from_names(cls, names: list[str]) -> LabelledFlag:
        value = cls(0)
        for name in names:
            value |= cls[name]
        return value

    @classmethod
    def all_bits(cls) -> int:
        total = 0
        for member in cls:
            total |= int(member)
        return total


class FlagSetFormField(forms.MultipleChoiceField):
    """Checkboxes for each flag; cleans to the flag value (0 when nothing is ticked)."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, *, flag: type[LabelledFlag], **kwargs: Any) -> None:
        self.flag = flag
        kwargs.setdefault("required", False)
        for unused in ("max_value", "min_value", "step_size", "coerce", "empty_value"):
            kwargs.pop(unused, None)
        super().__init__(choices=flag.choices(), **kwargs)

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, int):
            return self.flag(value).names()
        return value

    def clean(self, value: Any) -> LabelledFlag:  # type: ignore[override]
        names = super().clean(value)
        return self.flag.from_names(list(names))

    def has_changed(self, initial: Any, data: Any) -> bool:
        initial_names = set(self.prepare_value(initial) or [])
        return initial_names != set(data or [])


class FlagSetField(models.PositiveIntegerField):
    """A PositiveIntegerField whose Python value is a LabelledFlag."""

    def __init__(self, *args: Any, flag: type[LabelledFlag], **kwargs: Any) -> None:
        self.flag = flag
        kwargs.setdefault("default", 0)
        kwargs.setdefault("blank", True)
        super().__init__(*args, **kwargs)

    def deconstruct(self) -> Any:
        name, path, args, kwargs = super().deconstruct()
        kwargs["flag"] = self.flag
        return name, path, args, kwargs

    def from_db_value(self, value: int | None, *args: Any) -> LabelledFlag | None:
        return None if value is None else self.flag(value)

    def to_python(self, value: Any) -> LabelledFlag | None:
        if value is None or isinstance(value, self.flag):
            return value
        if isinstance(value, list | tuple | set | frozenset):
            return self.flag.from_names(list(value))
        return self.flag(int(value))

    def get_prep_value(self, value: Any) -> int | None:
        if isinstance(value, list | tuple | set | frozenset):
            value = self.flag.from_names(list(value))
        return super().get_prep_value(value)

    def formfield(self, **kwargs: Any) -> Any:
        kwargs.setdefault("label", self.verbose_name.capitalize())
        kwargs.pop("form_class", None)
        kwargs.pop("choices_form_class", None)
        return FlagSetFormField(flag=self.flag, **kwargs)
