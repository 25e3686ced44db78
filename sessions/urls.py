from __future__ import annotations

app_name = "therapy_sessions"

urlpatterns: list[object] = []
