from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from people import views as people_views
from sessions import measure_views

urlpatterns = [
    path("", people_views.home, name="home"),
    path("health/", people_views.health, name="health"),
    path("accounts/", include("allauth.urls")),
    path("partner-screen/", measure_views.partner_screen, name="partner_screen"),
    path(
        "partner-screen/unlock/", measure_views.partner_screen_unlock, name="partner_screen_unlock"
    ),
    path("couples/", include("cycles.urls")),
    path("supervision/", include("cycles.supervision_urls")),
    path("groups/", include("cycles.consultation_urls")),
    path("practice/", include("people.urls")),
    path("", include("sessions.urls")),
    path("", include("ruptures.urls")),
    path("admin/", admin.site.urls),
]
