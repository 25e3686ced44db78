"""The morning digest: to each therapist and supervisor whose caseload changed or is flagged.

Counts, case codes, flag kinds and links; never partner names, notes or any free text. One
per person and date (DigestLog's unique key), so a repeated run sends nothing twice.

Flags that name the same rupture or session are one incident (flags.incidents): a couple's
line says so when its open flags are fewer incidents ("(one incident)"), and the open count
names the incidents beside the flags, so one walk-out doesn't read as three problems.

A safety concern (ruptures.models.PRIVATE_FLAG_KINDS) is never named, counted among the flags
or described: an e-mail can be read by anyone at the recipient's screen. The digest says only
"1 safety concern" (per couple, whichever partner or partners) and the case codes, on a line
of its own (`safety_text`), and nothing once it closes.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse

from core import dates
from flags.incidents import incidents
from flags.snapshot import end_of
from people.models import SignalThresholds, Supervision, User
from plans.reviews import due_by_therapist
from ruptures.models import PRIVATE_FLAG_KINDS, DigestLog, Flag, FlagKind, NightlyRun
from sessions.signing import unsigned_overdue

# Cases listed per section of a digest; the rest are counted ("and 14 more couples"): a
# first night can flag hundreds of a caseload's couples, and a list that long goes unread.
CASES_LISTED = 20
KIND_ORDER = {kind: n for n, kind in enumerate(FlagKind.values)}


def kinds_text(kinds: Counter[str]) -> str:
    """ "Unresolved rupture (2), Gone quiet": in the order of the flag definitions."""
    return ", ".join(
        FlagKind(kind).label + (f" ({count})" if count > 1 else "")
        for kind, count in sorted(kinds.items(), key=lambda item: KIND_ORDER[item[0]])
    )


def incidents_text(count: int) -> str:
    return "one incident" if count == 1 else f"{count} incidents"


@dataclass(frozen=True)
class OpenFlag:
    """What the digest groups an open flag into an incident by: codes and numbers only."""

    pk: int
    kind: str
    evidence: dict[str, Any]
    opened_on: datetime.date


@dataclass
class CaseLine:
    """One couple's flags in a digest, by case code only."""

    case_code: str
    opened: Counter[str] = field(default_factory=Counter)
    still_open: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    open_flags: list[OpenFlag] = field(default_factory=list)

    @property
    def incident_count(self) -> int:
        """The couple's open flags as incidents (flags naming the same evidence count once)."""
        return len(incidents(self.open_flags))

    @property
    def link(self) -> str:
        path = reverse("cycles:detail", kwargs={"case_code": self.case_code})
        return settings.SITE_URL.rstrip("/") + path

    @property
    def changed(self) -> bool:
        return bool(self.opened or self.closed)

    @property
    def text(self) -> str:
        if not self.changed:
            return kinds_text(self.still_open) + self._incident_note()
        parts = [f"new {kinds_text(self.opened)}"] if self.opened else []
        if self.closed:
            parts.append(f"closed {kinds_text(self.closed)}")
        if self.still_open:
            parts.append(f"still open {kinds_text(self.still_open)}")
        return "; ".join(parts) + self._incident_note()

    def _incident_note(self) -> str:
        """ " (one incident)" when the open flags share their evidence; "" otherwise."""
        count = self.incident_count
        return f" ({incidents_text(count)})" if count < len(self.open_flags) else ""


@dataclass
class Digest:
    person: User
    for_date: datetime.date
    cases: dict[str, CaseLine] = field(default_factory=dict)
    # Session records still unsigned after the practice's days, by case code (sessions.signing).
    unsigned: Counter[str] = field(default_factory=Counter)
    unsigned_after_days: int = 0
    # The person's own couples whose treatment plan is due for review (plans.reviews).
    reviews_due: list[str] = field(default_factory=list)
    # Case codes of the couples with an open safety concern: nothing more is said of them.
    safety: set[str] = field(default_factory=set)

    def case(self, case_code: str) -> CaseLine:
        return self.cases.setdefault(case_code, CaseLine(case_code))

    def _total(self, attribute: str) -> int:
        return sum(sum(getattr(c, attribute).values()) for c in self.cases.values())

    @property
    def opened_count(self) -> int:
        return self._total("opened")

    @property
    def closed_count(self) -> int:
        return self._total("closed")

    @property
    def open_count(self) -> int:
        return self.opened_count + self._total("still_open")

    @property
    def incident_count(self) -> int:
        return sum(c.incident_count for c in self.cases.values())

    @property
    def incidents_note(self) -> str:
        """ "(2 incidents)" beside the open flags when they are fewer; "" otherwise."""
        count = self.incident_count
        return f"({incidents_text(count)})" if count < self.open_count else ""

    @property
    def couples_flagged(self) -> int:
        return sum(1 for c in self.cases.values() if c.opened or c.still_open)

    @property
    def changed(self) -> list[CaseLine]:
        return sorted((c for c in self.cases.values() if c.changed), key=lambda c: c.case_code)

    @property
    def unchanged(self) -> list[CaseLine]:
        return sorted((c for c in self.cases.values() if not c.changed), key=lambda c: c.case_code)

    @property
    def unsigned_count(self) -> int:
        return sum(self.unsigned.values())

    @property
    def unsigned_text(self) -> str:
        """ "C-AB12CD (2), C-EF34GH": the cases with session records not signed in time."""
        listed = sorted(self.unsigned.items())[:CASES_LISTED]
        text = ", ".join(code + (f" ({n})" if n > 1 else "") for code, n in listed)
        more = len(self.unsigned) - len(listed)
        return text + (f" and {more} more couple{'s' if more != 1 else ''}" if more else "")

    @property
    def reviews_due_text(self) -> str:
        listed = self.reviews_due[:CASES_LISTED]
        more = len(self.reviews_due) - len(listed)
        return ", ".join(listed) + (f" and {more} more" if more else "")

    @property
    def safety_text(self) -> str:
        """ "1 safety concern: C-AB12CD"; "" for none. Counted by couple, never by partner."""
        if not self.safety:
            return ""
        count = len(self.safety)
        return f"{count} safety concern{'s' if count != 1 else ''}: " + ", ".join(
            sorted(self.safety)
        )

    @property
    def worth_sending(self) -> bool:
        return bool(self.cases or self.unsigned or self.reviews_due or self.safety)


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
    rows = flags.values_list(
        "pk",
        "couple__case_code",
        "couple__therapist_id",
        "couple__co_therapist_id",
        "kind",
        "opened_on",
        "closed_on",
        "evidence",
    )
    for pk, case_code, therapist_id, co_id, kind, opened_on, closed_on, evidence in rows:
        for person_id in _told(supervisors_of, therapist_id, co_id):
            digest = digests.get(person_id)
            if digest is None:
                continue
            if kind in PRIVATE_FLAG_KINDS:
                if closed_on is None:
                    digest.safety.add(case_code)
                continue
            line = digest.case(case_code)
            if closed_on == run.for_date:
                line.closed[kind] += 1
                continue
            if opened_on == run.for_date:
                line.opened[kind] += 1
            else:
                line.still_open[kind] += 1
            line.open_flags.append(OpenFlag(pk, kind, evidence or {}, opened_on))
    _add_unsigned(run, digests, supervisors_of)
    _add_reviews_due(run, digests, supervisors_of)
    return [d for d in digests.values() if d.worth_sending]


def _told(supervisors_of: dict[int, list[int]], *therapist_ids: int | None) -> list[int]:
    """The case's therapist and co-therapist and the supervisors of each, once each."""
    people: dict[int, None] = {}
    for therapist_id in therapist_ids:
        if therapist_id is not None:
            people |= dict.fromkeys([therapist_id, *supervisors_of[therapist_id]])
    return list(people)


def _add_reviews_due(
    run: NightlyRun, digests: dict[int, Digest], supervisors_of: dict[int, list[int]]
) -> None:
    """Treatment plans due for review by the morning after the run's day, to the therapist
    and their supervisors (docs/domain.md, "Treatment plan"): case codes only, one query."""
    on_date = run.for_date + datetime.timedelta(days=1)
    for therapist_id, rows in due_by_therapist(on_date, run.practice_id).items():
        for person_id in _told(supervisors_of, therapist_id):
            digest = digests.get(person_id)
            if digest is not None:
                digest.reviews_due.extend(
                    code for code, _ in rows if code not in digest.reviews_due
                )


def _add_unsigned(
    run: NightlyRun, digests: dict[int, Digest], supervisors_of: dict[int, list[int]]
) -> None:
    """Each therapist's session records not signed within the practice's days, for them and
    their supervisors (docs/domain.md, "Signing"): counts and case codes, two queries."""
    days = SignalThresholds.for_practice(run.practice_id).unsigned_notes_after_days
    cutoff = end_of(run.for_date, run.practice.time_zone) - datetime.timedelta(days=days)
    for therapist_id, cases in unsigned_overdue(run.practice_id, before=cutoff).items():
        for person_id in [therapist_id, *supervisors_of[therapist_id]]:
            digest = digests.get(person_id)
            if digest is not None:
                digest.unsigned.update(cases)
                digest.unsigned_after_days = days


def send(run: NightlyRun) -> int:
    """Mail each person's digest once a day, its dates in the practice's format."""
    with dates.override(run.practice.date_format):
        return _send_each(run)


def _send_each(run: NightlyRun) -> int:
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
    changed, unchanged = digest.changed, digest.unchanged
    context = {
        "digest": digest,
        "site_url": settings.SITE_URL,
        "changed": changed[:CASES_LISTED],
        "changed_more": len(changed[CASES_LISTED:]),
        "unchanged": unchanged[:CASES_LISTED],
        "unchanged_more": len(unchanged[CASES_LISTED:]),
    }
    subject = (
        f"Cycles: {digest.open_count} open flag{'s' if digest.open_count != 1 else ''}, "
        f"{digest.opened_count} new since yesterday"
    )
    body = render_to_string("ruptures/digest.txt", context)
    send_mail(subject, body, None, [digest.person.email], fail_silently=False)
