"""Writes for therapy sessions and private notes."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Count, F, Max, OuterRef, Subquery
from django.utils import timezone

from core.concurrency import StaleEdit, claim_version, create_once
from cycles.models import Couple, EFTStep
from sessions.models import (
    AllianceRating,
    MeasureDefinition,
    MeasureResponse,
    NoteKind,
    PostSessionReport,
    PrivateNote,
    TherapySession,
)
from sessions.models.measures import ALLIANCE_ITEMS
from sessions.models.records import TOOK_PLACE

if TYPE_CHECKING:
    import datetime

    from people.models import User


# Larger than any real treatment's session count, and within PositiveSmallIntegerField.
RENUMBER_OFFSET = 10000


def next_ordinal(couple: Couple) -> int:
    highest = TherapySession.objects.current().filter(couple=couple).aggregate(n=Max("ordinal"))
    return (highest["n"] or 0) + 1


def renumber(couple: Couple) -> None:
    """Number the couple's current sessions 1, 2, 3… in the order they took place.

    Sessions logged late, moved or withdrawn change the order. Two passes keep the unique
    (couple, ordinal) constraint true after every statement: first out of the way, then home.
    """
    sessions = list(
        TherapySession.objects.current().filter(couple=couple).order_by("starts_at", "pk")
    )
    moved = [s for n, s in enumerate(sessions, start=1) if s.ordinal != n]
    if not moved:
        return
    TherapySession.objects.filter(pk__in=[s.pk for s in moved]).update(
        ordinal=F("ordinal") + RENUMBER_OFFSET
    )
    for n, session in enumerate(sessions, start=1):
        session.ordinal = n
    TherapySession.objects.bulk_update(moved, ["ordinal"])


@transaction.atomic
def session_log(
    *,
    couple: Couple,
    therapist: User,
    starts_at: datetime.datetime,
    private_note: str = "",
    request_token: uuid.UUID | None = None,
    **fields: Any,
) -> TherapySession:
    """Record a session of the couple, numbered by its place in the treatment.

    A form sent twice with the same `request_token` logs one session and returns it to both
    (their turns taken on the couple's row, core/concurrency.create_once).
    """

    def log(token: uuid.UUID | None) -> TherapySession:
        explicit = "ordinal" in fields
        fields.setdefault("ordinal", next_ordinal(couple))
        session = TherapySession.objects.create(
            couple=couple,
            therapist=therapist,
            starts_at=starts_at,
            request_token=token,
            **fields,
        )
        if not explicit:
            renumber(couple)
            session.refresh_from_db(fields=["ordinal"])
        if private_note:
            private_note_write(author=therapist, session=session, text=private_note)
        case_step_follow(couple)
        return session

    session, _ = create_once(
        TherapySession.objects.filter(couple=couple), token=request_token, parent=couple, create=log
    )
    return session


@transaction.atomic
def session_update(
    *,
    session: TherapySession,
    author: User,
    private_note: str,
    read_version: int | None,
    **fields: Any,
) -> TherapySession:
    """Correct a logged session and its author's private note; a changed start renumbers
    the couple's sessions. Refused with StaleEdit when the session (or the note, saved
    through this form) was saved since `read_version` was read."""
    session.version = claim_version(TherapySession, pk=session.pk, read_version=read_version)
    for name, value in fields.items():
        setattr(session, name, value)
    session.save()
    renumber(session.couple)
    session.refresh_from_db(fields=["ordinal"])
    private_note_write(author=author, session=session, text=private_note)
    case_step_follow(session.couple)
    return session


def private_note_write(*, author: User, session: TherapySession, text: str) -> PrivateNote | None:
    """Write (or clear) the author's private psychotherapy note on a session."""
    return note_write(author=author, kind=NoteKind.PSYCHOTHERAPY_NOTE, text=text, session=session)


def note_write(*, author: User, kind: str, text: str, **on: Any) -> PrivateNote | None:
    """Write, correct or clear the author's private note on one session or rupture (`on`).

    Clearing deletes it: a private note is its author's own working note, never part of the
    clinical record.
    """
    existing = PrivateNote.objects.filter(author=author, **on).first()
    if not text.strip():
        if existing:
            existing.delete()
        return None
    if existing:
        existing.text = text
        existing.save(update_fields=["text", "updated_at"])
        return existing
    return PrivateNote.objects.create(author=author, kind=kind, text=text, **on)


@transaction.atomic
def session_withdraw(*, session: TherapySession, by: User, reason: str) -> TherapySession:
    """Withdraw a session logged by mistake: hidden from views and summaries, kept on record."""
    session.withdraw(by=by, reason=reason)
    renumber(session.couple)
    case_step_follow(session.couple)
    return session


def latest_step_session(couple: Couple) -> TherapySession | None:
    """The latest session that took place and records the EFT step worked on."""
    return (
        TherapySession.objects.current()
        .filter(couple=couple, eft_step__isnull=False, attendance__in=TOOK_PLACE)
        .order_by("-ordinal")
        .first()
    )


def case_step_follow(couple: Couple) -> int | None:
    """Move the case's EFT step (and stage) to the step its latest session records
    (docs/domain.md, "Stage and step"): the couple page, the supervisor's review and the
    shared case read the couple's step, so it follows the sessions in the same transaction.

    Returns the step it moved from, or None when it did not move. The couple's version is
    raised with it, so a couple form read before the move is refused as stale rather than
    setting the step back.
    """
    latest = latest_step_session(couple)
    if latest is None or latest.eft_step is None:
        return None
    current = Couple.objects.filter(pk=couple.pk).values_list("eft_step", flat=True).first()
    if current is None or current == latest.eft_step:
        return None
    Couple.objects.filter(pk=couple.pk).update(
        eft_step=latest.eft_step,
        eft_stage=EFTStep.stage_of(latest.eft_step),
        version=F("version") + 1,
    )
    couple.eft_step, couple.eft_stage = latest.eft_step, EFTStep.stage_of(latest.eft_step)
    return current


def measures_stamp(session: TherapySession) -> str:
    """What the session's stored measures are now, as the measures page read them: how many
    rows and when the last was written (every write sets `recorded_at`), in one query. The
    page carries it; a save from a page whose stamp no longer matches is stale."""
    figures: dict[str, Any] = {}
    for model in (AllianceRating, PostSessionReport, MeasureResponse):
        rows = model.objects.filter(session=OuterRef("pk")).order_by().values("session")
        name = model._meta.model_name
        figures[f"{name}_n"] = Subquery(rows.annotate(n=Count("pk")).values("n"))
        figures[f"{name}_last"] = Subquery(rows.annotate(last=Max("recorded_at")).values("last"))
    row: dict[str, Any] = dict(TherapySession.objects.filter(pk=session.pk).values(**figures).get())
    count = sum(int(value or 0) for key, value in row.items() if key.endswith("_n"))
    times: list[datetime.datetime] = [
        value for key, value in row.items() if key.endswith("_last") and value is not None
    ]
    return f"{count}:{max(times).isoformat() if times else '-'}"


@transaction.atomic
def measures_record(
    *,
    session: TherapySession,
    entered_by: str,
    recorded_by: User,
    alliance: dict[str, dict[str, Any]],
    reports: dict[str, dict[str, Any]],
    responses: list[tuple[MeasureDefinition, str, dict[str, Any]]],
    read_stamp: str | None = None,
    check_stamp: bool = False,
) -> None:
    """Store what was answered; an unanswered section leaves what was stored untouched.

    `alliance` maps "A"/"B" to cleaned AllianceForm data, `reports` maps a respondent to
    cleaned ReportForm data, `responses` lists (definition, partner, cleaned MeasureForm data).
    Answering again corrects the stored answers (upsert on the unique keys). With
    `check_stamp` (the therapist's measures page), a save that answers anything is refused
    with StaleEdit when the stored measures changed since the page read `read_stamp` (a
    partner's answers on the tablet, another tab): such saves take turns on the session's row.
    """
    sections = [*alliance.values(), *reports.values(), *(data for _, _, data in responses)]
    if check_stamp and any(data.get("answered") for data in sections):
        TherapySession.objects.select_for_update().filter(pk=session.pk).values_list("pk").get()
        if read_stamp != measures_stamp(session):
            raise StaleEdit(session)
    for partner, data in alliance.items():
        if data.get("answered"):
            AllianceRating.objects.update_or_create(
                session=session,
                partner=partner,
                defaults={name: data[name] for name in ALLIANCE_ITEMS}
                | {
                    "entered_by": entered_by,
                    "absent_but_recorded": bool(data.get("record_anyway")),
                    "recorded_at": timezone.now(),
                },
            )
    for respondent, data in reports.items():
        if data.get("answered"):
            PostSessionReport.objects.update_or_create(
                session=session,
                respondent=respondent,
                defaults={
                    "tension": data["tension"] == "yes",
                    "upsetting": data["upsetting"],
                    "resolved": data["resolved"],
                    "entered_by": entered_by,
                    "recorded_at": timezone.now(),
                },
            )
    for definition, partner, data in responses:
        if data.get("answered"):
            MeasureResponse.objects.update_or_create(
                definition=definition,
                session=session,
                partner=partner,
                defaults={
                    "answers": data["answers"],
                    "total": sum(data["answers"].values()),
                    "entered_by": entered_by,
                    "absent_but_recorded": bool(data.get("record_anyway")),
                    "recorded_at": timezone.now(),
                    "recorded_by": recorded_by,
                },
            )
