from __future__ import annotations

from django.urls import path

from supervision import log_views, views

app_name = "supervision"

urlpatterns = [
    path("", views.review, name="review"),
    path("flags/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("therapists/<int:pk>/", views.therapist_overview, name="therapist"),
    path("therapists/<int:pk>/co-signing/", views.cosign_setting, name="cosign_setting"),
    path("ruptures.csv", views.ruptures_csv, name="ruptures_csv"),
    # The supervision log and the hours for licensure (supervision.log_views).
    path("log/", log_views.log_page, name="log"),
    path("log/new/", log_views.log_new, name="log_new"),
    path("log/<int:pk>/confirm/", log_views.log_confirm, name="log_confirm"),
    path("hours/", log_views.hours_own, name="hours_own"),
    path("hours/supervisees/", log_views.hours_overview, name="hours_overview"),
    path("hours/rules/", log_views.hours_rules, name="hours_rules"),
    path("hours/<int:pk>/", log_views.hours_page, name="hours"),
    path("hours/<int:pk>/hours.csv", log_views.hours_csv, name="hours_csv"),
    path("hours/<int:pk>/hours.pdf", log_views.hours_pdf, name="hours_pdf"),
]
