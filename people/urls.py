from __future__ import annotations

from django.urls import path

from people import audit_views, views

app_name = "people"

urlpatterns = [
    path("", views.practice, name="practice"),
    path("audit/", audit_views.audit, name="audit"),
    path("audit/export.csv", audit_views.audit_csv, name="audit_csv"),
]
