from __future__ import annotations

from django.urls import path

from exports import views

app_name = "exports"

urlpatterns = [
    path("audit/", views.audit_start, name="audit"),
    path("<str:token>/", views.status, name="status"),
    path("<str:token>/download/", views.download, name="download"),
]
