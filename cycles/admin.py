from __future__ import annotations

from django.contrib import admin

from cycles.models import CaseShare, Couple, CycleMap, CycleStep, EmotionTerm, Partner
from people.admin import PracticeVocabularyAdmin, ScopedReadOnlyAdmin


@admin.register(Couple)
class CoupleAdmin(ScopedReadOnlyAdmin):
    list_display = ["case_code", "therapist", "cycle_pattern", "eft_stage", "eft_step", "status"]
    list_filter = ["status", "cycle_pattern", "eft_stage"]
    search_fields = ["case_code"]


@admin.register(Partner)
class PartnerAdmin(ScopedReadOnlyAdmin):
    list_display = ["display_name", "label", "couple", "position"]


@admin.register(EmotionTerm)
class EmotionTermAdmin(PracticeVocabularyAdmin):
    list_display = ["name", "kind", "practice"]
    list_filter = ["kind"]


@admin.register(CycleMap)
class CycleMapAdmin(ScopedReadOnlyAdmin):
    list_display = ["couple", "revision", "author", "created_at"]


@admin.register(CycleStep)
class CycleStepAdmin(ScopedReadOnlyAdmin):
    list_display = ["cycle_map", "partner", "position", "kind"]


@admin.register(CaseShare)
class CaseShareAdmin(ScopedReadOnlyAdmin):
    list_display = ["couple", "group", "shared_at", "withdrawn_at"]
