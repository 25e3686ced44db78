from __future__ import annotations

app_name = "supervision"

urlpatterns: list[object] = []
