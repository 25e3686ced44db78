from __future__ import annotations

app_name = "ruptures"

urlpatterns: list[object] = []
