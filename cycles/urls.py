from __future__ import annotations

from django.urls import path

from cycles import views

app_name = "cycles"

urlpatterns = [
    path("", views.caseload, name="caseload"),
    path("new/", views.couple_new, name="new"),
    path("<str:case_code>/", views.couple_detail, name="detail"),
    path("<str:case_code>/edit/", views.couple_edit, name="edit"),
    path("<str:case_code>/cycle/", views.cycle_map_edit, name="cycle_edit"),
    path("<str:case_code>/cycle/history/", views.cycle_map_history, name="cycle_history"),
]
