from __future__ import annotations

from django.urls import path

from invitations import views

app_name = "invitations"

urlpatterns = [
    # The partner's page: the token is the only secret in the address, and dead once used.
    path("a/<str:token>/", views.answer, name="answer"),
    path("couples/<str:case_code>/remote/", views.panel, name="panel"),
    path("couples/<str:case_code>/remote/addresses/", views.contact, name="contact"),
    path("couples/<str:case_code>/remote/send/", views.send, name="send"),
    path("couples/<str:case_code>/remote/<int:pk>/revoke/", views.revoke, name="revoke"),
]
