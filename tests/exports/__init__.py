"""Helpers shared by the tests of exports: start one, let its task run, follow it to the file."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.test import TestCase
from django.urls import resolve, reverse

from exports.models import ExportJob

if TYPE_CHECKING:
    from django.http import HttpResponse
    from django.test import Client


def start_export(client: Client, url: str, data: dict[str, Any] | None = None) -> HttpResponse:
    """POST to an export's start URL with the queued task run as the commit would run it
    (tasks are eager in tests: tests/conftest.py)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(url, data or {})


def job_of(response: HttpResponse) -> ExportJob:
    """The job a start response leads to (its redirect to the status page)."""
    assert response.status_code == 302, response.status_code
    match = resolve(response["Location"])
    assert match.view_name == "exports:status", match.view_name
    return ExportJob.objects.get(token=match.kwargs["token"])


def exported(client: Client, url: str, data: dict[str, Any] | None = None) -> HttpResponse:
    """Start the export, see its status page say it is ready, and download it."""
    job = job_of(start_export(client, url, data))
    status = client.get(reverse("exports:status", args=[job.token]))
    assert status.status_code == 200
    assert status.context["downloadable"], job.status
    return client.get(reverse("exports:download", args=[job.token]))
