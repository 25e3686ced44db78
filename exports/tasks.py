"""Celery tasks of the exports: thin, by id, safe to run twice (exports.services)."""

from __future__ import annotations

from celery import shared_task

from exports import services


@shared_task(ignore_result=True)
def build_export(job_id: int) -> None:
    """Build one export job's file (a second run finds it claimed and does nothing)."""
    services.build(job_id)
