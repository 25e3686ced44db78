"""The morning digest: to each therapist and supervisor whose caseload changed or is flagged.

Counts, case codes, flag kinds and links; never partner names, notes or any free text. One
per person and date (DigestLog's unique key), so a repeated run sends nothing twice.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from dataclasses import dataclass, field

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from people.models import Supervision, User
from ruptures.models import DigestLog, Flag, NightlyRun


@dataclass
class FlagLine:
    case_code: str
    kind: str
    link: str


@dataclass
class Digest:
    person: User
    for_date: datetime.date
    opened: list[FlagLine] = field(default_factory=list)
    still_open: list[FlagLine] = field(default_factory=list)
    closed: list[FlagLine] = field(default_factory=list)
    open_count: int = 0
    couples_flagged: set[str] = field(default_factory=set)

    @property
    def worth_sending(self) -> bool:
        return bool(self.opened or self.closed or self.open_count)


def _line(case_code: str, kind_label: str) -> FlagLine:
    path = reverse("cycles:detail", kwargs={"case_code": case_code})
    return FlagLine(case_code, kind_label, settings.SITE_URL.rstrip("/") + path)


def build(run: NightlyRun) -> list[Digest]:
    """Every therapist's and supervisor's digest for the run's date: three queries."""
    people = User.objects.filter(practice_id=run.practice_id, is_active=True).filter(
        is_therapist=True
    ) | User.objects.filter(practice_id=run.practice_id, is_active=True, is_supervisor=True)
    digests = {p.pk: Digest(p, run.for_date) for p in people.distinct()}
    supervisors_of: dict[int, list[int]] = defaultdict(list)
    for supervisor_id, therapist_id in Supervision.objects.filter(
        practice_id=run.practice_id
    ).values_list("supervisor_id", "therapist_id"):
        supervisors_of[therapist_id].append(supervisor_id)
    flags = Flag.objects.filter(couple__practice_id=run.practice_id).filter(
        closed_on__isnull=True
    ) | Flag.objects.filter(couple__practice_id=run.practice_id, closed_on=run.for_date)
    for flag in flags.select_related("couple"):
        line = _line(flag.couple.case_code, flag.get_kind_display())
        for person_id in [flag.couple.therapist_id, *supervisors_of[flag.couple.therapist_id]]:
            digest = digests.get(person_id)
            if digest is None:
                continue
            if flag.closed_on == run.for_date:
                digest.closed.append(line)
                continue
            digest.open_count += 1
            digest.couples_flagged.add(flag.couple.case_code)
            if flag.opened_on == run.for_date:
                digest.opened.append(line)
            else:
                digest.still_open.append(line)
    return [d for d in digests.values() if d.worth_sending]


def send(run: NightlyRun) -> int:
    sent = 0
    for digest in build(run):
        try:
            with transaction.atomic():
                DigestLog.objects.create(
                    person=digest.person, for_date=digest.for_date, flags_open=digest.open_count
                )
                _mail(digest)
        except IntegrityError:
            continue  # already sent for this date
        sent += 1
    return sent


def _mail(digest: Digest) -> None:
    context = {"digest": digest, "site_url": settings.SITE_URL}
    subject = (
        f"Cycles: {digest.open_count} open flag{'s' if digest.open_count != 1 else ''}, "
        f"{len(digest.opened)} new since yesterday"
    )
    body = render_to_string("ruptures/digest.txt", context)
    send_mail(subject, body, None, [digest.person.email], fail_silently=False)
