from __future__ import annotations

from django.urls import path

from exports import views

app_name = "exports"

urlpatterns = [
    path("audit/", views.audit_start, name="audit"),
    path("caseload-ruptures/", views.caseload_ruptures_start, name="caseload_ruptures"),
    path("record/<str:case_code>/", views.whole_record_start, name="whole_record"),
    path("<str:token>/", views.status, name="status"),
    path("<str:token>/download/", views.download, name="download"),
]
