from __future__ import annotations

from django.urls import path

from sessions import views

app_name = "therapy_sessions"

urlpatterns = [
    path("couples/<str:case_code>/sessions/new/", views.session_new, name="new"),
    path("sessions/<int:pk>/", views.session_detail, name="detail"),
    path("sessions/<int:pk>/edit/", views.session_edit, name="edit"),
    path("sessions/<int:pk>/withdraw/", views.session_withdraw_view, name="withdraw"),
]
