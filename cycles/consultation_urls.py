from __future__ import annotations

app_name = "consultation"

urlpatterns: list[object] = []
