"""The Celery app (Celery's Django recipe): settings come from CELERY_* in config.settings."""

from __future__ import annotations

import os

from celery import Celery

from config.env import settings_or_exit

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
settings_or_exit()

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
