from __future__ import annotations

from django.urls import path

from supervision import views

app_name = "supervision"

urlpatterns = [
    path("", views.review, name="review"),
    path("flags/<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("therapists/<int:pk>/", views.therapist_overview, name="therapist"),
    path("therapists/<int:pk>/co-signing/", views.cosign_setting, name="cosign_setting"),
    path("ruptures.csv", views.ruptures_csv, name="ruptures_csv"),
]
