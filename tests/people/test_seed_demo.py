"""`manage.py seed_demo`: idempotent, complete, scoped, and quiet about clinical content."""

from __future__ import annotations

import datetime
import itertools
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.test import TestCase
from django.utils import timezone

from cycles.models import (
    CaseShare,
    Couple,
    CoupleStatus,
    CycleMap,
    CyclePattern,
    CycleStep,
    EmotionTerm,
)
from people.demo import DEMO_LOGINS, DEMO_PASSWORD, DEMO_PRACTICE_NAME
from people.models import ConsultationGroup, Practice, Supervision, User
from ruptures.codes import (
    ConfrontationMarker,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    Toward,
    WhoMoved,
)
from ruptures.models import Rupture
from sessions.models import Attendance, NoteKind, PrivateNote, SessionFormat, TherapySession

# Every table the demo could write: the project's apps, auto-created M2M tables included.
PROJECT_APPS = ("people", "cycles", "therapy_sessions", "ruptures")


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every column of every row of the project's tables, in primary-key order."""
    return {
        model._meta.label: list(model._default_manager.order_by("pk").values())
        for label in PROJECT_APPS
        for model in apps.get_app_config(label).get_models(include_auto_created=True)
    }


class SeedDemoTests(TestCase):
    first_output: str
    practice: Practice
    users: dict[str, User]

    @classmethod
    def setUpTestData(cls) -> None:
        cls.first_output = seed_demo()
        cls.practice = Practice.objects.get(name=DEMO_PRACTICE_NAME)
        cls.users = {user.username: user for user in User.objects.filter(practice=cls.practice)}

    def demo_couples(self) -> Any:
        return Couple.objects.filter(practice=self.practice)

    # Idempotence and output

    def test_second_run_changes_no_row_of_any_table(self) -> None:
        before = snapshot()
        output = seed_demo()
        assert snapshot() == before
        assert before["cycles.Couple"]
        assert before["ruptures.Rupture"]
        assert "nothing changed" in output

    def test_every_run_prints_every_login_with_the_password_and_role(self) -> None:
        for output in (self.first_output, seed_demo()):
            lines = output.splitlines()
            for login in DEMO_LOGINS:
                assert any(
                    line.split() == [login.username, DEMO_PASSWORD, *login.role.split()]
                    for line in lines
                ), login.username

    def test_output_holds_no_clinical_text(self) -> None:
        texts = [
            *TherapySession.objects.exclude(progress_note="").values_list(
                "progress_note", flat=True
            ),
            *PrivateNote.objects.values_list("text", flat=True),
            *Rupture.objects.exclude(note="").values_list("note", flat=True),
        ]
        assert texts
        outputs = self.first_output + seed_demo()
        assert not [text for text in texts if text in outputs]
        for name in ("Maren", "Teo", "Linnea"):
            assert name not in outputs

    # People and access

    def test_logins_sign_in_with_the_demo_password_and_hold_their_roles(self) -> None:
        assert set(self.users) == {login.username for login in DEMO_LOGINS}
        for login in DEMO_LOGINS:
            user = self.users[login.username]
            assert user.check_password(DEMO_PASSWORD)
            assert user.is_active
            assert not user.is_superuser
            assert user.is_therapist == login.therapist
            assert user.is_supervisor == login.supervisor
            assert user.is_practice_admin == login.practice_admin
            assert user.is_staff == login.practice_admin

    def test_there_is_one_practice_admin_one_supervisor_and_three_therapists(self) -> None:
        people = User.objects.filter(practice=self.practice)
        assert people.filter(is_practice_admin=True, is_staff=True).count() == 1
        assert people.filter(is_supervisor=True).count() == 1
        assert people.filter(is_therapist=True).count() == 3

    def test_two_therapists_are_supervised_by_the_supervisor(self) -> None:
        supervisions = Supervision.objects.filter(practice=self.practice)
        assert supervisions.count() == 2
        assert {s.supervisor.is_supervisor for s in supervisions} == {True}
        assert {s.therapist.is_therapist for s in supervisions} == {True}
        assert len({s.therapist_id for s in supervisions}) == 2

    def test_the_therapists_form_a_consultation_group(self) -> None:
        group = ConsultationGroup.objects.get(practice=self.practice)
        therapists = set(User.objects.filter(practice=self.practice, is_therapist=True))
        assert set(group.members.all()) == therapists

    def test_every_couple_is_visible_to_its_therapist_and_no_other_therapist(self) -> None:
        therapists = User.objects.filter(practice=self.practice, is_therapist=True)
        for therapist in therapists:
            visible = set(Couple.objects.visible_to(therapist))
            assert visible == set(self.demo_couples().filter(therapist=therapist))
            assert visible

    def test_supervisor_sees_the_supervisees_couples_and_admin_sees_none(self) -> None:
        supervisor = User.objects.get(practice=self.practice, is_supervisor=True)
        supervisees = Supervision.objects.filter(supervisor=supervisor).values("therapist")
        expected = set(self.demo_couples().filter(therapist__in=supervisees))
        assert set(Couple.objects.visible_to(supervisor)) == expected
        admin = User.objects.get(practice=self.practice, is_practice_admin=True)
        assert not Couple.objects.visible_to(admin).exists()

    # The record

    def test_about_fifteen_couples_with_six_to_twenty_sessions_each(self) -> None:
        counts = self.demo_couples().annotate(n=Count("sessions")).values_list("n", flat=True)
        assert 12 <= len(counts) <= 18
        assert all(6 <= n <= 20 for n in counts)

    def test_couples_are_in_every_status_and_mostly_pursue_withdraw(self) -> None:
        statuses = list(self.demo_couples().values_list("status", flat=True))
        assert set(statuses) == set(CoupleStatus.values)
        assert statuses.count(CoupleStatus.ACTIVE) > len(statuses) / 2
        patterns = list(self.demo_couples().values_list("cycle_pattern", flat=True))
        assert set(patterns) == set(CyclePattern.values)
        assert patterns.count(CyclePattern.PURSUE_WITHDRAW) > len(patterns) / 2

    def test_sessions_are_weekly_and_mix_attendance_and_format(self) -> None:
        sessions = TherapySession.objects.filter(couple__practice=self.practice)
        attendance = list(sessions.values_list("attendance", flat=True))
        assert set(attendance) == set(Attendance.values)
        assert attendance.count(Attendance.ATTENDED) > 0.8 * len(attendance)
        formats = list(sessions.values_list("format", flat=True))
        assert set(formats) == set(SessionFormat.values)
        assert formats.count(SessionFormat.CONJOINT) > 0.9 * len(formats)
        for couple in self.demo_couples():
            starts = couple.sessions.order_by("ordinal").values_list("starts_at", flat=True)
            days = [timezone.localdate(start) for start in starts]
            gaps = {later - earlier for earlier, later in itertools.pairwise(days)}
            assert gaps == {datetime.timedelta(weeks=1)}

    def test_dates_are_recent_and_none_in_the_future(self) -> None:
        now = timezone.now()
        sessions = TherapySession.objects.filter(couple__practice=self.practice)
        assert not sessions.filter(starts_at__gt=now).exists()
        assert not sessions.filter(created_at__gt=now).exists()
        assert not Rupture.objects.filter(created_at__gt=now).exists()
        assert not CycleMap.objects.filter(created_at__gt=now).exists()
        assert not CaseShare.objects.filter(shared_at__gt=now).exists()
        for couple in self.demo_couples().filter(status=CoupleStatus.ACTIVE):
            last = couple.sessions.order_by("-starts_at").first()
            assert last is not None
            assert now - last.starts_at < datetime.timedelta(days=8)

    def test_sessions_carry_steps_notes_and_a_few_private_notes(self) -> None:
        sessions = TherapySession.objects.filter(couple__practice=self.practice)
        held = sessions.filter(attendance__in=[Attendance.ATTENDED, Attendance.ENDED_EARLY])
        assert not held.filter(eft_step__isnull=True).exists()
        assert not held.filter(progress_note="").exists()
        notes = PrivateNote.objects.filter(
            session__couple__practice=self.practice, kind=NoteKind.PSYCHOTHERAPY_NOTE
        )
        assert 0 < notes.count() < sessions.count() / 4
        authors = notes.values_list("author_id", "session__therapist_id")
        assert all(author == therapist for author, therapist in authors)

    def test_ruptures_have_both_types_markers_of_their_type_and_every_status(self) -> None:
        ruptures = Rupture.objects.filter(couple__practice=self.practice)
        assert set(ruptures.values_list("rupture_type", flat=True)) == set(RuptureType.values)
        assert set(ruptures.values_list("status", flat=True)) == set(RuptureStatus.values)
        for rupture in ruptures:
            assert rupture.markers
            assert 1 <= rupture.significance <= 5
        resolved = ruptures.exclude(status=RuptureStatus.UNRESOLVED)
        assert all(rupture.strategies for rupture in resolved)
        assert all(rupture.resolution_stage >= 2 for rupture in resolved)
        repaired_later = ruptures.filter(repaired_in__isnull=False)
        assert repaired_later.count() >= 3
        for rupture in repaired_later:
            assert rupture.repaired_in is not None
            assert rupture.repaired_in.couple_id == rupture.couple_id
            assert rupture.repaired_in.starts_at > rupture.session.starts_at

    def test_every_couple_has_a_cycle_map_of_several_revisions_in_the_shared_vocabulary(
        self,
    ) -> None:
        for couple in self.demo_couples():
            revisions = list(couple.cycle_maps.values_list("revision", flat=True))
            assert sorted(revisions) == list(range(1, len(revisions) + 1))
            assert len(revisions) in (2, 3)
        steps = CycleStep.objects.filter(cycle_map__couple__practice=self.practice)
        terms = EmotionTerm.objects.filter(pk__in=steps.values("emotion"))
        assert terms.exists()
        assert not terms.filter(practice__isnull=False).exists()

    def test_seed_case_walk_out_no_show_and_repair_two_weeks_later(self) -> None:
        rupture = Rupture.objects.get(
            couple__practice=self.practice,
            rupture_type=RuptureType.CONFRONTATION,
            therapist_contribution__gte=4,
            session__attendance=Attendance.ENDED_EARLY,
        )
        walk_out = rupture.session
        couple = rupture.couple
        assert couple.cycle_pattern == CyclePattern.PURSUE_WITHDRAW
        assert couple.partners.get(label="A").position == "pursuer"
        assert rupture.who_moved == WhoMoved.PARTNER_A
        assert rupture.toward == Toward.THERAPIST
        assert walk_out.left_early == "partner_a"
        assert rupture.confrontation_markers & ConfrontationMarker.REJECTS_INTERVENTION
        assert rupture.significance == 5
        assert PrivateNote.objects.filter(
            rupture=rupture, author=couple.therapist, kind=NoteKind.RUPTURE_REFLECTION
        ).exists()
        assert timezone.now() - walk_out.starts_at < datetime.timedelta(weeks=6)

        next_week = couple.sessions.get(ordinal=walk_out.ordinal + 1)
        assert next_week.attendance == Attendance.NO_SHOW

        repair = rupture.repaired_in
        assert repair is not None
        assert repair.couple_id == couple.pk
        assert repair.starts_at.date() - walk_out.starts_at.date() == datetime.timedelta(weeks=2)
        assert rupture.status == RuptureStatus.RESOLVED
        assert rupture.resolution_stage == 4
        expected = (
            ResolutionStrategy.ACKNOWLEDGES_CONTRIBUTION
            | ResolutionStrategy.DISCLOSES_EXPERIENCE
            | ResolutionStrategy.LINKS_TO_THERAPY_PATTERN
            | ResolutionStrategy.INVITES_DISCUSSION
        )
        assert rupture.strategies & expected == expected

        resumed = couple.sessions.filter(
            starts_at__gt=repair.starts_at, attendance=Attendance.ATTENDED
        )
        assert resumed.count() >= 2

    def test_seed_case_is_shared_into_the_group_and_readable_by_the_supervisor(self) -> None:
        rupture = Rupture.objects.get(
            couple__practice=self.practice, session__attendance=Attendance.ENDED_EARLY
        )
        group = ConsultationGroup.objects.get(practice=self.practice)
        assert CaseShare.objects.active().filter(couple=rupture.couple, group=group).exists()
        supervisor = User.objects.get(practice=self.practice, is_supervisor=True)
        assert Couple.objects.visible_to(supervisor).filter(pk=rupture.couple_id).exists()


class SeedDemoRefusalTests(TestCase):
    def test_taken_username_stops_the_seed_before_it_writes_anything(self) -> None:
        User.objects.create_user(username=DEMO_LOGINS[0].username, password="x-unused-x")
        with pytest.raises(CommandError, match=DEMO_LOGINS[0].username):
            seed_demo()
        assert not Practice.objects.filter(name=DEMO_PRACTICE_NAME).exists()
