from __future__ import annotations

from django.urls import path

from consultation import views

app_name = "consultation"

urlpatterns = [
    path("", views.group_list, name="groups"),
    path("<int:pk>/", views.group_detail, name="group"),
    path("<int:pk>/cases/<str:code>/", views.shared_case_view, name="case"),
    path("<int:pk>/cases/<str:code>/pdf/", views.shared_case_pdf, name="case_pdf"),
]
