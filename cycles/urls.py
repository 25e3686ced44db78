from __future__ import annotations

from django.urls import path

from consultation import views as consultation_views
from cycles import views

app_name = "cycles"

urlpatterns = [
    path("", views.caseload, name="caseload"),
    path("new/", views.couple_new, name="new"),
    path("transfers/", views.transfers, name="transfers"),
    path("retention/", views.retention, name="retention"),
    path("<str:case_code>/", views.couple_detail, name="detail"),
    path("<str:case_code>/edit/", views.couple_edit, name="edit"),
    path("<str:case_code>/close/", views.couple_discharge, name="close"),
    path("<str:case_code>/reopen/", views.couple_reopen, name="reopen"),
    path("<str:case_code>/transfer/", views.couple_transfer, name="transfer"),
    path("<str:case_code>/co-therapist/", views.couple_co_therapist, name="co_therapist"),
    path("<str:case_code>/destroy/", views.destruction_ask, name="destroy"),
    path(
        "<str:case_code>/destroy/confirm/",
        views.destruction_confirm_view,
        name="destroy_confirm",
    ),
    path("<str:case_code>/cycle/", views.cycle_map_edit, name="cycle_edit"),
    path("<str:case_code>/cycle/history/", views.cycle_map_history, name="cycle_history"),
    path("<str:case_code>/cycle/history/restore/", views.cycle_map_restore, name="cycle_restore"),
    path("<str:case_code>/pdf/", views.couple_pdf, name="pdf"),
    path("<str:case_code>/share/", consultation_views.share_couple, name="share"),
    path("<str:case_code>/share/preview/", consultation_views.share_preview, name="share_preview"),
    path(
        "<str:case_code>/shares/<int:share_pk>/withdraw/",
        consultation_views.withdraw_share,
        name="withdraw_share",
    ),
]
