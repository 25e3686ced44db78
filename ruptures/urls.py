from __future__ import annotations

from django.urls import path

from flags import views as flag_views
from ruptures import views

app_name = "ruptures"

urlpatterns = [
    path("sessions/<int:session_pk>/ruptures/", views.rupture_add, name="add"),
    path("sessions/<int:session_pk>/repairs/<int:pk>/", views.rupture_repair_view, name="repair"),
    path(
        "sessions/<int:session_pk>/repairs/<int:pk>/form/",
        views.rupture_repair_form,
        name="repair_form",
    ),
    path(
        "sessions/<int:session_pk>/repairs/<int:pk>/undo/",
        views.repair_withdraw_view,
        name="repair_undo",
    ),
    path("ruptures/<int:pk>/edit/", views.rupture_edit, name="edit"),
    path("ruptures/<int:pk>/withdraw/", views.rupture_withdraw_view, name="withdraw"),
    path("practice/nightly/", views.nightly_runs, name="runs"),
    path("practice/nightly/start/", views.nightly_run_start, name="run_start"),
    path("practice/nightly/recheck-today/", flag_views.recheck_today, name="recheck_today"),
]
