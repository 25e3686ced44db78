from __future__ import annotations

from django.contrib import admin

from people.admin import ScopedReadOnlyAdmin
from ruptures.models import Rupture, RuptureSummary


@admin.register(Rupture)
class RuptureAdmin(ScopedReadOnlyAdmin):
    list_display = ["couple", "session", "rupture_type", "significance", "status"]
    list_filter = ["rupture_type", "status"]


@admin.register(RuptureSummary)
class RuptureSummaryAdmin(ScopedReadOnlyAdmin):
    list_display = ["couple", "period", "on_date", "computed_at"]
