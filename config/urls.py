from __future__ import annotations

from allauth.account import views as account_views
from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from config import health
from people import views as people_views
from sessions import measure_views

# Only the allauth pages this product uses: accounts are made by practice admins (no sign-up),
# and nothing but login and the health check is open to anonymous visitors.
ACCOUNT_URLS = [
    path("login/", account_views.login, name="account_login"),
    path("logout/", account_views.logout, name="account_logout"),
    path("inactive/", account_views.account_inactive, name="account_inactive"),
    path("reauthenticate/", account_views.reauthenticate, name="account_reauthenticate"),
    path("password/change/", account_views.password_change, name="account_change_password"),
    path("2fa/", include("allauth.mfa.urls")),
]

# The admin's own password-only login would skip the authenticator step: send it to ours.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", people_views.home, name="home"),
    path("health/", health.health, name="health"),
    path("accounts/", include(ACCOUNT_URLS)),
    path("partner-screen/", measure_views.partner_screen, name="partner_screen"),
    path(
        "partner-screen/unlock/", measure_views.partner_screen_unlock, name="partner_screen_unlock"
    ),
    path("couples/", include("cycles.urls")),
    path("couples/", include("plans.urls")),
    path("supervision/", include("supervision.urls")),
    path("groups/", include("consultation.urls")),
    path("practice/", include("people.urls")),
    path("exports/", include("exports.urls")),
    # A partner's private remote answer page (/a/<token>/) and the couple's links panel.
    path("", include("invitations.urls")),
    path("", include("sessions.urls")),
    path("", include("ruptures.urls")),
    path("admin/", admin.site.urls),
]
