"""The demo's signed records (docs/domain.md, "Signing"): a practice as it stands on a weekday.

Sessions held more than two days ago are signed, the evening of their day. Tomas Reyne is an
associate whose notes Imogen Thale co-signs: his older records are co-signed, his two latest
signed ones await her; the last two days' sessions are still drafts. Written after the rest
of the record, so nothing later needs to change a signed session.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from people.models import Practice, Supervision, User
from sessions.models import TOOK_PLACE, CosignState, SignOffEvent, SignOffKind, TherapySession

# Held this many days ago or more: signed. Younger: still a draft.
UNSIGNED_DAYS = 2
# The associate's latest signed records that still wait for the supervisor.
AWAITING = 2
TRAINEE = "therapist2"


def sign_records(practice: Practice, users: dict[str, User], today: datetime.date) -> None:
    """Sign (and for the associate, co-sign) the demo's held sessions, in a few queries."""
    trainee = users[TRAINEE]
    supervision = Supervision.objects.get(therapist=trainee)
    Supervision.objects.filter(pk=supervision.pk).update(notes_need_cosign=True)
    cutoff = datetime.datetime.combine(
        today - datetime.timedelta(days=UNSIGNED_DAYS),
        datetime.time.min,
        tzinfo=ZoneInfo(practice.time_zone),
    )
    held = list(
        TherapySession.objects.current()
        .filter(attendance__in=TOOK_PLACE, starts_at__lt=cutoff, couple__practice=practice)
        .order_by("starts_at")
    )
    latest_of_trainee = {
        s.pk
        for s in sorted(
            (s for s in held if s.therapist_id == trainee.pk), key=lambda s: s.starts_at
        )[-AWAITING:]
    }
    events = []
    for session in held:
        session.signed_at = session.starts_at + datetime.timedelta(hours=8)
        session.signed_by_id = session.therapist_id
        events.append(
            SignOffEvent(
                session=session,
                kind=SignOffKind.SIGNED,
                by_id=session.therapist_id,
                at=session.signed_at,
            )
        )
        if session.therapist_id != trainee.pk:
            continue
        if session.pk in latest_of_trainee:
            session.cosign_state = CosignState.AWAITING
            continue
        session.cosign_state = CosignState.COSIGNED
        events.append(
            SignOffEvent(
                session=session,
                kind=SignOffKind.COSIGNED,
                by_id=supervision.supervisor_id,
                at=session.signed_at + datetime.timedelta(days=1),
            )
        )
    TherapySession.objects.bulk_update(
        held, ["signed_at", "signed_by", "cosign_state"], batch_size=500
    )
    SignOffEvent.objects.bulk_create(events, batch_size=500)
