"""The morning digest: counts, case codes, flag kinds and links, and never a name or a note.

Canary strings are planted in everything free-text a couple's record holds (partner names,
the progress note, the private process note, the rupture's note and the private reflection);
none may reach a digest's subject or body, nor the stored summaries and flags it is built from.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from cycles.models import Couple, Partner
from cycles.services import PartnerDetails
from people.models import Supervision
from ruptures.codes import RuptureStatus, RuptureType
from ruptures.models import CaseloadSummary, DigestLog, Flag, RuptureSummary
from ruptures.services import rupture_repair
from sessions.models import TherapySession
from tests.factories import World, make_couple, make_rupture, make_session

if TYPE_CHECKING:
    from collections.abc import Callable

    from django.core.mail import EmailMessage

    from people.models import Practice
    from ruptures.models import NightlyRun, Rupture

pytestmark = pytest.mark.django_db

CANARY = "CANARY-7f3a"


@dataclass
class Scene:
    world: World
    planted: Couple  # the owner's couple with a canary in every free-text field
    rupture: Rupture  # its confrontation, contribution 5: unresolved and high-contribution
    calm: Couple  # the colleague's couple: sessions, no ruptures, nothing flagged
    yesterday: datetime.date

    @property
    def practice(self) -> Practice:
        return self.world.practice


@pytest.fixture
def scene() -> Scene:
    world = World.build()  # the owner's couple has an unresolved rupture 10 days ago
    planted = make_couple(
        world.owner,
        partner_a=PartnerDetails(f"Avery {CANARY}-partner-a"),
        partner_b=PartnerDetails(f"Blake {CANARY}-partner-b"),
    )
    seen = make_session(
        planted,
        days_ago=5,
        progress_note=f"{CANARY}-progress: they argued about the grounding exercise.",
        private_note=f"{CANARY}-private: I raised my voice.",
    )
    rupture = make_rupture(
        seen,
        rupture_type=RuptureType.CONFRONTATION,
        therapist_contribution=5,
        note=f"{CANARY}-rupture-note",
        reflection=f"{CANARY}-reflection: my irritation showed.",
    )
    calm = make_couple(world.colleague)
    make_session(calm, days_ago=4, progress_note=f"{CANARY}-calm-progress")
    sign_every_session()  # only flags bring a digest here; unsigned records are tested below
    return Scene(world, planted, rupture, calm, timezone.localdate() - datetime.timedelta(days=1))


def sign_every_session() -> None:
    for session in TherapySession.objects.all():
        TherapySession.objects.filter(pk=session.pk).update(
            signed_at=timezone.now(), signed_by=session.therapist
        )


def sent_to(email: str) -> list[EmailMessage]:
    return [m for m in mail.outbox if email in m.to]


def link(couple: Couple) -> str:
    return settings.SITE_URL.rstrip("/") + reverse(
        "cycles:detail", kwargs={"case_code": couple.case_code}
    )


def test_only_therapists_and_supervisors_with_flags_get_a_digest(scene, run_nightly):
    run_nightly(scene.practice, scene.yesterday)

    world = scene.world
    assert sorted(to for m in mail.outbox for to in m.to) == sorted(
        [world.owner.email, world.supervisor.email]
    )
    assert set(DigestLog.objects.values_list("person_id", "for_date")) == {
        (world.owner.pk, scene.yesterday),
        (world.supervisor.pk, scene.yesterday),
    }


def test_digest_lists_case_codes_flag_kinds_and_links(scene, run_nightly):
    run_nightly(scene.practice, scene.yesterday)

    (digest,) = sent_to(scene.world.owner.email)
    open_flags = Flag.objects.open().filter(couple__therapist=scene.world.owner).count()
    assert digest.subject == f"Cycles: {open_flags} open flags, {open_flags} new since yesterday"
    body = digest.body
    assert (
        f"- {scene.world.couple.case_code}: new Unresolved rupture — {link(scene.world.couple)}"
        in (body)
    )
    assert (
        f"- {scene.planted.case_code}: new Unresolved rupture, High therapist contribution "
        f"(one incident) — {link(scene.planted)}"
    ) in body
    # The planted couple's two flags name one rupture: one incident (flags.incidents).
    assert f"- {open_flags} open flags on 2 couples (2 incidents)" in body
    assert f"- {open_flags} flags opened, 0 closed" in body
    assert scene.calm.case_code not in body


def test_digest_counts_a_kind_once_per_case_and_lists_at_most_twenty_cases(
    scene, run_nightly, settings
):
    world = scene.world
    for n in range(22):
        couple = make_couple(world.owner)
        make_rupture(make_session(couple, days_ago=3))
        if n == 0:
            make_rupture(couple.sessions.get())
            # First by case code, so among the twenty listed whatever the others' random codes.
            Couple.objects.filter(pk=couple.pk).update(case_code="C-222222")
            couple.refresh_from_db()
            twice = couple

    run_nightly(scene.practice, scene.yesterday)

    (digest,) = sent_to(world.owner.email)
    body = digest.body
    assert f"- {twice.case_code}: new Unresolved rupture (2) — {link(twice)}" in body
    listed = [line for line in body.splitlines() if line.startswith("- C-")]
    assert len(listed) == 20  # 24 flagged couples: 20 listed, the rest counted
    assert "- and 4 more couples: sign in to see them all" in body
    open_flags = Flag.objects.open().filter(couple__therapist=world.owner).count()
    assert open_flags == 26  # one per couple, two on two of them
    assert f"- {open_flags} open flags on 24 couples" in body


def test_supervisors_digest_covers_their_supervisees_couples_only(scene, run_nightly):
    world = scene.world
    flagged = make_couple(world.colleague)
    make_rupture(make_session(flagged, days_ago=3))

    run_nightly(scene.practice, scene.yesterday)

    (mine,) = sent_to(world.supervisor.email)
    (theirs,) = sent_to(world.other_supervisor.email)
    assert world.couple.case_code in mine.body
    assert scene.planted.case_code in mine.body
    assert flagged.case_code not in mine.body
    assert flagged.case_code in theirs.body
    assert world.couple.case_code not in theirs.body
    assert sent_to(world.group_member.email) == []


def test_a_co_therapist_and_their_supervisor_get_the_co_led_case_once(scene, run_nightly):
    world = scene.world
    Couple.objects.filter(pk=world.couple.pk).update(co_therapist=world.colleague)
    # The owner's supervisor also supervises the co-therapist: the case is in their digest once.
    Supervision.objects.create(
        practice=world.practice, supervisor=world.supervisor, therapist=world.colleague
    )

    run_nightly(scene.practice, scene.yesterday)

    (co,) = sent_to(world.colleague.email)
    assert world.couple.case_code in co.body
    assert scene.planted.case_code not in co.body  # the owner's own case, not co-led
    (theirs,) = sent_to(world.other_supervisor.email)
    assert world.couple.case_code in theirs.body
    (mine,) = sent_to(world.supervisor.email)
    lines = [line for line in mine.body.splitlines() if world.couple.case_code in line]
    assert len(lines) == 1
    assert "(2)" not in lines[0]


def test_no_digest_carries_names_notes_or_reflections(scene, run_nightly):
    run_nightly(scene.practice, scene.yesterday)

    assert mail.outbox
    names = list(Partner.objects.values_list("display_name", flat=True))
    for message in mail.outbox:
        text = message.subject + "\n" + message.body
        assert CANARY not in text
        for name in names:
            assert name not in text
        for person in (scene.world.owner, scene.world.supervisor):
            assert person.display_name not in text


def test_stored_summaries_and_flags_carry_no_free_text(scene, run_nightly):
    run_nightly(scene.practice, scene.yesterday)

    stored = json.dumps(
        [
            list(RuptureSummary.objects.values_list("data", flat=True)),
            list(Flag.objects.values_list("detail", "evidence")),
            list(CaseloadSummary.objects.values_list("data", flat=True)),
        ]
    )
    assert CANARY not in stored
    assert "Avery" not in stored


def test_next_mornings_digest_lists_what_closed(scene, run_nightly):
    run_nightly(scene.practice, scene.yesterday)
    repair = make_session(scene.planted, days_ago=0)
    rupture_repair(rupture=scene.rupture, repaired_in=repair, status=RuptureStatus.RESOLVED)
    mail.outbox.clear()

    run_nightly(scene.practice, timezone.localdate())

    (digest,) = sent_to(scene.world.owner.email)
    assert digest.subject == "Cycles: 1 open flag, 0 new since yesterday"
    changed, unchanged = digest.body.split("What changed:")[1].split("Still flagged, nothing new:")
    assert (
        f"- {scene.planted.case_code}: closed Unresolved rupture, High therapist contribution — "
        f"{link(scene.planted)}"
    ) in changed
    assert f"- {scene.world.couple.case_code}: Unresolved rupture — " in unchanged
    assert "- 0 flags opened, 2 closed (no longer true)" in digest.body


def test_still_open_flags_bring_a_digest_even_with_nothing_new(scene, run_nightly):
    run_nightly(scene.practice, scene.yesterday)
    mail.outbox.clear()

    run_nightly(scene.practice, timezone.localdate())

    (digest,) = sent_to(scene.world.owner.email)
    assert digest.subject.endswith(", 0 new since yesterday")
    assert "What changed:" not in digest.body
    assert "Still flagged, nothing new:" in digest.body


def test_nobody_is_mailed_when_nothing_is_flagged(run_nightly: Callable[..., NightlyRun]):
    world = World.build()
    world.rupture.status = RuptureStatus.RESOLVED
    world.rupture.save()
    sign_every_session()

    run_nightly(world.practice, timezone.localdate())

    assert not Flag.objects.exists()
    assert mail.outbox == []
    assert not DigestLog.objects.exists()


def test_records_unsigned_after_the_practices_days_are_counted_by_case_code(
    run_nightly: Callable[..., NightlyRun],
):
    """docs/domain.md, "Signing": to the therapist and their supervisor, counts and codes."""
    world = World.build()
    world.rupture.status = RuptureStatus.RESOLVED
    world.rupture.save()  # nothing flagged: the unsigned records alone bring the digest
    late = make_couple(world.owner, partner_a=PartnerDetails(f"Avery {CANARY}"))
    make_session(late, days_ago=6, progress_note=f"{CANARY}-late-note")
    make_session(late, days_ago=5)
    make_session(late, days_ago=1)  # within the practice's 3 days: not yet late
    yesterday = timezone.localdate() - datetime.timedelta(days=1)

    run_nightly(world.practice, yesterday)

    for person in (world.owner, world.supervisor):
        (digest,) = sent_to(person.email)
        assert (
            "- 3 session records not signed after 3 days: "
            f"{min(world.couple.case_code, late.case_code)}"
        ) in digest.body
        assert f"{late.case_code} (2)" in digest.body
        assert CANARY not in digest.body
    assert sent_to(world.colleague.email) == []


@pytest.mark.parametrize(("date_format", "shown"), [("j M Y", "%-d %b %Y"), ("d/m/Y", "%d/%m/%Y")])
def test_the_digest_dates_its_day_in_the_practices_format(scene, run_nightly, date_format, shown):
    type(scene.practice).objects.filter(pk=scene.practice.pk).update(date_format=date_format)
    scene.practice.refresh_from_db()
    run_nightly(scene.practice, scene.yesterday)

    (digest,) = sent_to(scene.world.owner.email)
    day = scene.yesterday
    assert f"as of the end of {day:%A} {day:{shown}}:" in digest.body
