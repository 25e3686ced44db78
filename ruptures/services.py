"""Writes for ruptures: recording, repairing and withdrawing them."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from django.db import transaction

from core.concurrency import claim_version, create_once
from ruptures.models import Rupture, RuptureRepair
from sessions.models import NoteKind, PrivateNote
from sessions.services import note_write

if TYPE_CHECKING:
    from people.models import User
    from ruptures.forms import RuptureForm
    from sessions.models import TherapySession


@transaction.atomic
def rupture_record(
    *,
    session: TherapySession,
    recorded_by: User,
    reflection: str = "",
    request_token: uuid.UUID | None = None,
    **fields: Any,
) -> Rupture:
    """Record a rupture seen in a session, with the therapist's private reflection if any.

    A form sent twice with the same `request_token` records one rupture: the second request
    gets the first's back.
    """

    def record(token: uuid.UUID | None) -> Rupture:
        rupture = Rupture.objects.create(
            couple_id=session.couple_id,
            session=session,
            created_by=recorded_by,
            request_token=token,
            **fields,
        )
        if reflection.strip():
            reflection_write(author=recorded_by, rupture=rupture, text=reflection)
        return rupture

    rupture, _ = create_once(
        Rupture.objects.filter(session=session), token=request_token, parent=session, create=record
    )
    return rupture


@transaction.atomic
def rupture_correct(*, correction: RuptureForm, author: User, read_version: int | None) -> Rupture:
    """Save a validated correction of a rupture and its author's private reflection.

    Refused with StaleEdit when the rupture was corrected or repaired since `read_version`.
    """
    rupture = correction.instance
    rupture.version = claim_version(Rupture, pk=rupture.pk, read_version=read_version)
    correction.save()
    reflection_write(author=author, rupture=rupture, text=correction.cleaned_data["reflection"])
    return rupture


def reflection_write(*, author: User, rupture: Rupture, text: str) -> PrivateNote | None:
    """Write (or clear) the author's private reflection on their part in a rupture."""
    return note_write(author=author, kind=NoteKind.RUPTURE_REFLECTION, text=text, rupture=rupture)


@transaction.atomic
def rupture_repair(
    *,
    rupture: Rupture,
    repaired_in: TherapySession,
    status: str,
    strategies: Any = None,
    resolution_stage: int | None = None,
    note: str = "",
    recorded_by: User | None = None,
    read_version: int | None = None,
    request_token: uuid.UUID | None = None,
) -> Rupture:
    """Mark an earlier rupture as repaired (fully or partly) in a later session, logging the
    repair with the rupture's state just before it (RuptureRepair), and the therapist's
    `note` on it (what they acknowledged, how they repaired it).

    With `read_version` (the repair form's), refused with StaleEdit when the rupture was
    corrected or repaired since; a form sent twice with the same `request_token` repairs once.
    """
    # The state before the repair is read under a row lock, not from the caller's copy: two
    # repairs saved at once are logged one after the other, each with what it replaced.
    rupture.refresh_from_db(from_queryset=Rupture.objects.select_for_update())
    if (
        request_token is not None
        and rupture.repair_log.filter(request_token=request_token).exists()
    ):
        return rupture  # this very repair was recorded by an earlier copy of the request
    if read_version is not None:
        rupture.version = claim_version(Rupture, pk=rupture.pk, read_version=read_version)
    RuptureRepair.objects.create(
        request_token=request_token,
        rupture=rupture,
        session=repaired_in,
        status=status,
        strategies=strategies or 0,
        resolution_stage=max(rupture.resolution_stage, resolution_stage or 0),
        status_before=rupture.status,
        strategies_before=rupture.strategies,
        stage_before=rupture.resolution_stage,
        repaired_in_before_id=rupture.repaired_in_id,
        recorded_by=recorded_by,
        note=note,
    )
    rupture.repaired_in = repaired_in
    rupture.status = status
    if strategies is not None:
        rupture.strategies = rupture.strategies | strategies
    if resolution_stage is not None:
        rupture.resolution_stage = max(rupture.resolution_stage, resolution_stage)
    rupture.save()
    return rupture


@transaction.atomic
def rupture_withdraw(*, rupture: Rupture, by: User, reason: str) -> Rupture:
    rupture.withdraw(by=by, reason=reason)
    return rupture


def latest_repair(rupture: Rupture) -> RuptureRepair | None:
    """The rupture's most recent repair still standing (not undone)."""
    return rupture.repair_log.current().order_by("-recorded_at", "-pk").first()


@transaction.atomic
def repair_withdraw(
    *, rupture: Rupture, session: TherapySession, by: User, reason: str
) -> RuptureRepair | None:
    """Undo the rupture's latest repair, recorded in `session` by mistake: the rupture goes
    back to how it stood before it, and the repair stays on record, withdrawn. None (and no
    change) unless that repair is the rupture's latest and was recorded in this session."""
    rupture.refresh_from_db(from_queryset=Rupture.objects.select_for_update())
    repair = latest_repair(rupture)
    if repair is None or repair.session_id != session.pk or rupture.repaired_in_id != session.pk:
        return None
    rupture.status = repair.status_before
    rupture.strategies = repair.strategies_before
    rupture.resolution_stage = repair.stage_before
    rupture.repaired_in_id = repair.repaired_in_before_id
    rupture.save()
    repair.withdraw(by=by, reason=reason)
    return repair
