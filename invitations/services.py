"""Private remote answer links: making, revoking and opening them, and keeping the answers
(docs/domain.md, "Remote answers"; docs/security.md, "Remote answer links").

1. The therapist keeps a partner's address (`contact_set`, encrypted at rest) and sends them a
   link for one set of questions (`invitation_create`): the row is saved first, with the
   session the answers will be kept with and the questionnaires asked, and its sending is
   queued once the transaction commits (invitations.sending). Sends per address are limited.
2. The send task mints the token and mails the link; only the token's SHA-256 is stored.
3. The partner's page (`admit`) counts every request against the link's limit and every
   unknown token against its address's limit, and admits only a link that was sent, is not
   used, expired or revoked, whose case is open.
4. `answers_record` stores the answers as "entered by the partner, remotely", marks the link
   answered (it works once) and queues the couple's same-day flag recheck after the commit.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from django.db import transaction
from django.utils import timezone

from core.concurrency import create_once
from flags import same_day
from invitations import sending
from invitations.links import (
    GUESSES_PER_ADDRESS,
    HIT_WINDOW,
    HITS_PER_LINK,
    INVITATIONS_PER_ADDRESS_PER_DAY,
    address_digest,
    hash_token,
    link_lifetime,
)
from invitations.models import (
    ANSWERABLE,
    LIVE,
    Invitation,
    InvitationStatus,
    LinkHit,
    PartnerContact,
    Purpose,
)
from sessions import safety
from sessions.measure_forms import absence_reason
from sessions.models import MeasureDefinition, MeasureKind, TherapySession
from sessions.models.measures import EnteredBy
from sessions.services import measures_record

if TYPE_CHECKING:
    from cycles.models import Couple
    from people.models import User

ENTERED_REMOTELY = EnteredBy.PARTNER_REMOTE


class Refused(Exception):
    """An invitation that can't be made, with what the therapist is told."""


class LinkDead(Exception):
    """The link was used, expired or revoked, or its case closed, while the partner answered."""


# -- addresses ----------------------------------------------------------------------------------


def contacts(couple: Couple) -> dict[str, str]:
    """Partner label -> the address kept for them (decrypted), for the couple's therapist."""
    return dict(PartnerContact.objects.filter(couple=couple).values_list("partner", "email"))


def contact_rows(couple: Couple) -> list[tuple[str, str, bool]]:
    """(partner, address, a link after each session?) for each partner with an address."""
    return list(
        PartnerContact.objects.filter(couple=couple)
        .order_by("partner")
        .values_list("partner", "email", "after_each_session")
    )


@transaction.atomic
def contact_set(*, couple: Couple, partner: str, email: str, after_each: bool = False) -> None:
    """Keep (or, with an empty address, forget) the partner's address, and whether a link goes
    to them after each session they attend."""
    email = email.strip()
    if not email:
        PartnerContact.objects.filter(couple=couple, partner=partner).delete()
        return
    PartnerContact.objects.update_or_create(
        couple=couple,
        partner=partner,
        defaults={"email": email, "after_each_session": after_each},
    )


def after_session_logged(session: TherapySession, by: User) -> list[Invitation]:
    """The links a newly logged session sends by itself: one about it to each partner who
    attended it and whose therapist asked for a link after each session. A partner it can't
    go to (absent, address throttled, case closed) is simply not sent one: the therapist can
    still send it by hand. Called once, by the view that logged the session."""
    made = []
    wanted = PartnerContact.objects.filter(couple_id=session.couple_id, after_each_session=True)
    for partner in sorted(wanted.values_list("partner", flat=True)):
        # One link per session and partner however often this runs (a double-sent form).
        token = uuid.uuid5(AFTER_SESSION, f"{session.pk}:{partner}")
        try:
            made.append(
                invitation_create(
                    couple=session.couple,
                    partner=partner,
                    purpose=Purpose.SESSION,
                    by=by,
                    request_token=token,
                    session=session,
                )
            )
        except Refused:
            continue
    return made


AFTER_SESSION = uuid.UUID("6b1f3c52-7a0e-4c59-9d3e-2f6a1b8e4c71")  # namespace of those tokens


# -- making and revoking links ------------------------------------------------------------------


def latest_session(couple: Couple) -> TherapySession | None:
    return (
        TherapySession.objects.current().filter(couple=couple).order_by("-starts_at", "-pk").first()
    )


def questionnaire_codes(couple: Couple) -> list[str]:
    """The active questionnaires of the couple's practice (never a safety screen)."""
    return list(
        MeasureDefinition.objects.for_practice(couple.practice_id)
        .exclude(kind=MeasureKind.SAFETY_SCREEN)
        .order_by("name")
        .values_list("code", flat=True)
    )


def safety_codes(couple: Couple) -> list[str]:
    return [d.code for d in safety.safety_definitions(couple.practice_id)]


def _questions(
    couple: Couple, partner: str, purpose: str, session: TherapySession | None
) -> tuple[TherapySession | None, list]:
    """The session the answers will be kept with (the one given, else the latest logged) and
    the questionnaires asked; Refused when the purpose can't be asked of this partner now."""
    session = session or latest_session(couple)
    if purpose == Purpose.SAFETY:
        codes = safety_codes(couple)
        if not codes:
            raise Refused("The practice has no active safety screen to send.")
        return session, codes
    if session is None:
        raise Refused("Log a session first: remote answers are kept with a session.")
    if purpose == Purpose.SESSION:
        if reason := absence_reason(session, partner):
            raise Refused(
                f"Partner {partner} wasn't in the last session ({reason}): there is nothing "
                "for them to rate."
            )
        return session, []
    codes = questionnaire_codes(couple)
    if not codes:
        raise Refused("The practice has no active questionnaire to send.")
    return session, codes


@transaction.atomic
def invitation_create(
    *,
    couple: Couple,
    partner: str,
    purpose: str,
    by: User,
    request_token: uuid.UUID | None = None,
    session: TherapySession | None = None,
) -> Invitation:
    """Save the link to be sent, and queue its sending once the transaction commits. A link
    about a session is about `session` when given (one just logged), else the latest logged.

    Refused for a closed case, a partner without an address, an address sent
    INVITATIONS_PER_ADDRESS_PER_DAY links already today, or questions that can't be asked
    (see _questions). A form sent twice with the same `request_token` makes one link.
    """
    if partner not in ("A", "B") or purpose not in Purpose.values:
        raise Refused("Choose a partner and what they are asked.")
    if couple.is_closed:
        raise Refused("This case is closed: no links are sent for it.")
    email = contacts(couple).get(partner)
    if not email:
        raise Refused(f"Add partner {partner}'s e-mail address first.")
    session, codes = _questions(couple, partner, purpose, session)
    digest = address_digest(email)
    now = timezone.now()

    def create(token: uuid.UUID | None) -> Invitation:
        sent_today = Invitation.objects.filter(
            address_digest=digest, created_at__gte=now - datetime.timedelta(days=1)
        ).count()
        if sent_today >= INVITATIONS_PER_ADDRESS_PER_DAY:
            raise Refused(
                f"Partner {partner}'s address has had {sent_today} links in the last day, "
                "the most it may: try again tomorrow."
            )
        return Invitation.objects.create(
            couple=couple,
            partner=partner,
            purpose=purpose,
            session=session,
            measure_codes=codes,
            address_digest=digest,
            created_by=by,
            created_at=now,
            heartbeat_at=now,
            expires_at=now + link_lifetime(),
            request_token=token,
        )

    invitation, created = create_once(
        Invitation.objects.filter(couple=couple), token=request_token, parent=couple, create=create
    )
    if created:
        pk = invitation.pk
        transaction.on_commit(lambda: sending.queue_send(pk), robust=True)
    return invitation


def invitation_revoke(*, invitation: Invitation, by: User) -> bool:
    """The link stops working at once; False when it had already been answered or ended."""
    return bool(
        Invitation.objects.filter(pk=invitation.pk, status__in=LIVE).update(
            status=InvitationStatus.REVOKED, revoked_at=timezone.now(), revoked_by=by
        )
    )


# -- the partner's page -------------------------------------------------------------------------


@dataclass(frozen=True)
class Admission:
    invitation: Invitation | None  # None: the dead-link page
    throttled: bool = False


def admit(token: str, ip: str | None, now: datetime.datetime | None = None) -> Admission:
    """Count this request and say whether its link's page may show the questions.

    1. An address that sent GUESSES_PER_ADDRESS unknown tokens in the window is refused
       (throttled) before any lookup: guessing 256-bit tokens is hopeless anyway, and this
       keeps it slow and visible.
    2. An unknown token counts against its address; a known one against its link, which is
       refused past HITS_PER_LINK requests in the window (a refused request isn't stored, so
       the rows stay bounded).
    3. A known link is admitted only while answerable; one found past its expiry is marked
       expired there and then.
    """
    now = now or timezone.now()
    since = now - HIT_WINDOW
    if ip and LinkHit.objects.filter(ip=ip, invitation=None, at__gte=since).count() >= (
        GUESSES_PER_ADDRESS
    ):
        return Admission(None, throttled=True)
    found = None
    if 20 <= len(token) <= 100:
        found = (
            Invitation.objects.select_related("couple", "session")
            .filter(token_hash=hash_token(token))
            .first()
        )
    if found is None:
        LinkHit.objects.create(invitation=None, ip=ip, at=now)
        return Admission(None)
    if LinkHit.objects.filter(invitation=found, at__gte=since).count() >= HITS_PER_LINK:
        return Admission(None, throttled=True)
    LinkHit.objects.create(invitation=found, ip=ip, at=now)
    if not answerable(found, now):
        if found.status in LIVE and found.expires_at <= now:
            Invitation.objects.filter(pk=found.pk, status=found.status).update(
                status=InvitationStatus.EXPIRED
            )
        return Admission(None)
    return Admission(found)


def answerable(invitation: Invitation, now: datetime.datetime | None = None) -> bool:
    now = now or timezone.now()
    session = invitation.session
    return (
        invitation.status in ANSWERABLE
        and invitation.expires_at > now
        and not invitation.couple.is_closed
        and (session is None or session.withdrawn_at is None)
    )


def mark_opened(invitation: Invitation) -> bool:
    """The first view of a sent link: "opened" (True only that first time)."""
    return bool(
        Invitation.objects.filter(pk=invitation.pk, status=InvitationStatus.SENT).update(
            status=InvitationStatus.OPENED, opened_at=timezone.now()
        )
    )


def definitions(invitation: Invitation) -> list[MeasureDefinition]:
    """The link's questionnaires or screens that are still active for the practice."""
    by_code = {
        d.code: d
        for d in MeasureDefinition.objects.for_practice(invitation.couple.practice_id).filter(
            code__in=invitation.measure_codes
        )
    }
    wanted = [by_code[c] for c in invitation.measure_codes if c in by_code]
    screens = invitation.purpose == Purpose.SAFETY
    return [d for d in wanted if d.is_safety_screen == screens]


@transaction.atomic
def answers_record(
    *,
    invitation: Invitation,
    alliance: dict[str, dict[str, Any]] | None = None,
    reports: dict[str, dict[str, Any]] | None = None,
    responses: list[tuple[MeasureDefinition, str, dict[str, Any]]] | None = None,
    screens: list[tuple[MeasureDefinition, dict[str, Any]]] | None = None,
) -> None:
    """Keep the partner's answers and use the link up, once: two posts at the same moment
    take turns on the link's row, and the second finds it answered (LinkDead)."""
    list(Invitation.objects.select_for_update().filter(pk=invitation.pk).values_list("pk"))
    fresh = Invitation.objects.select_related("couple", "session").get(pk=invitation.pk)
    if not answerable(fresh):
        raise LinkDead
    if fresh.session is not None and (alliance or reports or responses):
        measures_record(
            session=fresh.session,
            entered_by=ENTERED_REMOTELY,
            # Nobody signed in recorded them: the partner did, from the link.
            recorded_by=cast("User", None),
            alliance=alliance or {},
            reports=reports or {},
            responses=responses or [],
        )
    for definition, answers in screens or []:
        safety.record_screen(
            couple=fresh.couple,
            partner=fresh.partner,
            definition=definition,
            answers=answers,
            entered_by=ENTERED_REMOTELY,
            session=fresh.session,
        )
    Invitation.objects.filter(pk=fresh.pk).update(
        status=InvitationStatus.ANSWERED, answered_at=timezone.now()
    )
    same_day.recheck_after_commit(fresh.couple_id)
