from __future__ import annotations

from django.urls import path

from people import audit_views, views

app_name = "people"

urlpatterns = [
    path("", views.practice, name="practice"),
    path("audit/", audit_views.audit, name="audit"),
    path("audit/export.csv", audit_views.audit_csv, name="audit_csv"),
    path("people/<int:pk>/", views.person, name="person"),
    path("people/<int:pk>/co-signing/", views.cosigning, name="cosigning"),
    path("people/<int:pk>/deactivate/", views.deactivate, name="deactivate"),
    path("people/<int:pk>/reactivate/", views.reactivate, name="reactivate"),
    path("people/<int:pk>/reset-link/", views.send_reset_link, name="send_reset_link"),
    path(
        "people/<int:pk>/reset-authenticator/",
        views.reset_authenticator,
        name="reset_authenticator",
    ),
    # Public: the page a reset link opens (people.offboarding.reset_tokens).
    path("reset/<str:uidb64>/<str:token>/", views.password_reset, name="password_reset"),
]
