from __future__ import annotations

from django.contrib import admin

from people.admin import ScopedReadOnlyAdmin
from sessions.models import PrivateNote, TherapySession


@admin.register(TherapySession)
class TherapySessionAdmin(ScopedReadOnlyAdmin):
    list_display = ["couple", "ordinal", "starts_at", "format", "attendance", "withdrawn_at"]
    list_filter = ["format", "attendance"]


@admin.register(PrivateNote)
class PrivateNoteAdmin(ScopedReadOnlyAdmin):
    """Its author's alone, as everywhere: `PrivateNote.objects.visible_to` is author-only."""

    list_display = ["__str__", "kind", "updated_at"]
