"""Exports run as background jobs (issue 17): the request that starts one only records it and
queues it; the status page shows its progress, polling in the background; the file is for the
person who asked, and only for 15 minutes after it is ready, after which its bytes are gone."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from exports import build_views, jobs, services
from exports.models import ExportJob, ExportKind, ExportStatus
from exports.tasks import build_export
from people.models import AccessEvent
from supervision import review
from tests.exports import exported, job_of, start_export
from tests.factories import World, make_rupture, make_session

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> World:
    return World.build()


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode())))


KINDS = {
    "ruptures": ("supervisor", lambda w: reverse("supervision:ruptures_csv"), {}),
    "audit": ("practice_admin", lambda w: reverse("exports:audit"), {}),
    "pdf": ("owner", lambda w: reverse("cycles:pdf", args=[w.couple.case_code]), {}),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_each_kind_starts_shows_progress_and_downloads(world, kind, monkeypatch):
    role, url, data = KINDS[kind]
    client = signed_in(getattr(world, role))
    # The start only records the export and queues it: the job is pending, its page polls.
    response = client.post(url(world), data)
    job = job_of(response)
    assert job.status == ExportStatus.PENDING
    page = client.get(reverse("exports:status", args=[job.token]))
    body = page.content.decode()
    assert 'hx-trigger="every 1s"' in body
    assert "X-Background-Poll" in body
    assert "Waiting to start" in body
    # Then the worker builds it; the page, asked meanwhile, shows how far it got.
    seen: list[str] = []
    report = jobs.report_progress

    def watched(job_id: int, done: int, total: int, *, attempt: int) -> None:
        report(job_id, done, total, attempt=attempt)
        region = client.get(
            reverse("exports:status", args=[job.token]),
            headers={"HX-Request": "true", "X-Background-Poll": "1"},
        )
        seen.append(region.content.decode())

    monkeypatch.setattr(jobs, "report_progress", watched)
    monkeypatch.setattr(build_views, "PROGRESS_EVERY", 1)
    if kind == "ruptures":
        for days in (4, 3, 2):
            make_rupture(make_session(world.couple, days_ago=days))
    build_export(job.pk)
    assert seen, "no progress was reported"
    assert any("Being prepared" in region and "%" in region for region in seen)
    job.refresh_from_db()
    assert (job.status, job.progress) == (ExportStatus.DONE, 100)
    done = client.get(reverse("exports:status", args=[job.token])).content.decode()
    assert "every 1s" not in done
    download = client.get(reverse("exports:download", args=[job.token]))
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="{job.filename}"'
    assert "no-store" in download["Cache-Control"]
    if kind == "pdf":
        assert download["Content-Type"] == "application/pdf"
        assert download.content.startswith(b"%PDF")
    else:
        assert download["Content-Type"] == "text/csv; charset=utf-8"
        assert len(rows(download.content)) > 1


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_the_download_is_refused_to_anyone_else(world, kind):
    role, url, data = KINDS[kind]
    job = job_of(start_export(signed_in(getattr(world, role)), url(world), data))
    for other in ("owner", "supervisor", "practice_admin", "colleague", "outsider"):
        if other == role:
            continue
        client = signed_in(getattr(world, other))
        assert client.get(reverse("exports:status", args=[job.token])).status_code == 404
        assert client.get(reverse("exports:download", args=[job.token])).status_code == 404
    anonymous = Client().get(reverse("exports:download", args=[job.token]))
    assert anonymous.status_code == 302
    assert reverse("account_login") in anonymous["Location"]


def test_the_download_expires_after_15_minutes_and_its_bytes_are_purged(world):
    client = signed_in(world.supervisor)
    job = job_of(start_export(client, reverse("supervision:ruptures_csv")))
    url = reverse("exports:download", args=[job.token])
    ready = ExportJob.objects.get(pk=job.pk).finished_at
    with time_machine.travel(ready + datetime.timedelta(minutes=14), tick=False):
        client.force_login(world.supervisor)  # a fresh session at that time
        assert client.get(url).status_code == 200
    with time_machine.travel(ready + datetime.timedelta(minutes=15, seconds=1), tick=False):
        client.force_login(world.supervisor)
        assert client.get(url).status_code == 404
        page = client.get(reverse("exports:status", args=[job.token]))
        assert page.status_code == 200
        assert "This download has expired" in page.content.decode()
    job.refresh_from_db()
    assert job.content is None
    assert job.size == 0


def test_a_job_is_built_once_however_often_its_task_runs(world):
    client = signed_in(world.supervisor)
    job = job_of(start_export(client, reverse("supervision:ruptures_csv")))
    finished = ExportJob.objects.get(pk=job.pk).finished_at
    build_export(job.pk)
    assert ExportJob.objects.get(pk=job.pk).finished_at == finished


def test_a_job_no_worker_took_in_time_is_never_built(world):
    client = signed_in(world.supervisor)
    job = job_of(client.post(reverse("supervision:ruptures_csv")))
    with time_machine.travel(job.expires_at + datetime.timedelta(seconds=1), tick=False):
        build_export(job.pk)
    job.refresh_from_db()
    assert job.status == ExportStatus.PENDING
    assert job.content is None


def test_a_failed_build_says_so_and_keeps_no_message(world, monkeypatch):
    def broken(job, progress):
        raise ValueError("C-SECRET text that must not be kept")

    monkeypatch.setitem(build_views.BUILDERS, ExportKind.RUPTURES_CSV, broken)
    client = signed_in(world.supervisor)
    job = job_of(start_export(client, reverse("supervision:ruptures_csv")))
    job.refresh_from_db()
    assert (job.status, job.error) == (ExportStatus.FAILED, "ValueError")
    page = client.get(reverse("exports:status", args=[job.token])).content.decode()
    assert "could not be prepared" in page
    assert client.get(reverse("exports:download", args=[job.token])).status_code == 404


def test_the_background_poll_keeps_no_session_alive(world):
    client = signed_in(world.supervisor)
    job = job_of(client.post(reverse("supervision:ruptures_csv")))
    url = reverse("exports:status", args=[job.token])
    before = client.session["last_activity"]
    later = timezone.now() + datetime.timedelta(minutes=5)
    with time_machine.travel(later, tick=False):
        poll = client.get(url, headers={"HX-Request": "true", "X-Background-Poll": "1"})
        assert poll.status_code == 200
        assert client.session["last_activity"] == before
        client.get(url)
        assert client.session["last_activity"] > before


def test_the_start_is_recorded_once_and_the_request_builds_nothing_itself(world):
    """The start's request records the export and queues the build: no file is written until
    the task runs (eagerly here, after the commit; in a worker in production)."""
    client = signed_in(world.supervisor)
    job = job_of(client.post(reverse("supervision:ruptures_csv")))
    assert job.content is None
    assert AccessEvent.objects.filter(action="export csv").count() == 1
    services.build(job.pk)
    job.refresh_from_db()
    assert rows(bytes(job.content))[0] == review.CSV_HEADER
    assert AccessEvent.objects.filter(action="export csv").count() == 1


def test_the_audit_export_defaults_to_the_last_30_days(world):
    with time_machine.travel(timezone.now() - datetime.timedelta(days=40), tick=False):
        AccessEvent.objects.create(
            user=world.owner, practice=world.practice, action="read couple", detail="old one"
        )
    AccessEvent.objects.create(
        user=world.owner, practice=world.practice, action="read couple", detail="recent one"
    )
    client = signed_in(world.practice_admin)
    form = client.get(reverse("exports:audit"))
    today = timezone.localdate()
    first = today - datetime.timedelta(days=29)
    assert form.context["form"]["date_from"].value() == first
    assert form.context["form"]["date_to"].value() == today
    download = exported(client, reverse("exports:audit"))
    details = {row[10] for row in rows(download.content)[1:]}
    assert "recent one" in details
    assert "old one" not in details
    event = AccessEvent.objects.get(action="export audit")
    assert f"date_from={first}" in event.detail
    assert f"date_to={today}" in event.detail


def test_the_audit_export_with_a_bad_range_says_so_and_starts_nothing(world):
    client = signed_in(world.practice_admin)
    response = client.post(
        reverse("exports:audit"), {"date_from": "2026-03-02", "date_to": "2026-03-01"}
    )
    assert response.status_code == 200
    assert response.context["form"].errors == {
        "date_to": ["The end date is before the start date."]
    }
    assert not ExportJob.objects.exists()
    assert not AccessEvent.objects.filter(action="export audit").exists()
