from __future__ import annotations

from django.urls import path

from plans import signing_views, views

app_name = "plans"

# Under /couples/<case_code>/, beside the couple's own pages (cycles.urls).
urlpatterns = [
    path("<str:case_code>/plan/", views.plan_detail, name="detail"),
    path("<str:case_code>/plan/edit/", views.plan_edit, name="edit"),
    path("<str:case_code>/plan/mark/", views.goal_mark_view, name="mark"),
    path("<str:case_code>/plan/history/", views.plan_history, name="history"),
    path(
        "<str:case_code>/plan/revisions/<int:revision>/",
        signing_views.revision_detail,
        name="revision",
    ),
    path(
        "<str:case_code>/plan/revisions/<int:revision>/review/",
        signing_views.revision_review,
        name="review",
    ),
]
