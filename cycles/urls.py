from __future__ import annotations

from django.urls import path

from cycles import views

app_name = "cycles"

urlpatterns = [
    path("", views.caseload, name="caseload"),
    path("<str:case_code>/", views.couple_detail, name="detail"),
]
