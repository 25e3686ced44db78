from __future__ import annotations

from django.urls import path

from sessions import measure_views, safety_views, signing_views, views

app_name = "therapy_sessions"

urlpatterns = [
    path("couples/<str:case_code>/sessions/new/", views.session_new, name="new"),
    # Neutral names: an access log shows neither a safety screen nor which partner
    # (sessions/safety_views.py).
    path("couples/<str:case_code>/hand-over/", safety_views.hand_over, name="hand_over"),
    path("couples/<str:case_code>/assessment/", safety_views.review, name="safety_review"),
    path("sessions/<int:pk>/", views.session_detail, name="detail"),
    path("sessions/<int:pk>/edit/", views.session_edit, name="edit"),
    path("sessions/<int:pk>/withdraw/", views.session_withdraw_view, name="withdraw"),
    path("sessions/<int:pk>/sign/", signing_views.session_sign, name="sign"),
    path("sessions/<int:pk>/review/", signing_views.session_review, name="review"),
    path("sessions/awaiting-cosignature/", signing_views.cosign_queue, name="cosign_queue"),
    path("sessions/<int:pk>/measures/", measure_views.session_measures, name="measures"),
    path(
        "sessions/<int:pk>/partner/<str:partner>/",
        measure_views.partner_screen_start,
        name="partner_screen_start",
    ),
]
