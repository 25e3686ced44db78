"""`manage.py seed_demo`: idempotent, complete, scoped, and quiet about clinical content."""

from __future__ import annotations

import datetime
import itertools
from io import StringIO
from typing import Any

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db.models import Count, F, Q
from django.test import TestCase, override_settings
from django.utils import timezone

from cycles.models import (
    CaseEventKind,
    CaseShare,
    Couple,
    CoupleStatus,
    CycleMap,
    CyclePattern,
    CycleStep,
    EmotionTerm,
)
from demo.practice import DEMO_LOGINS, DEMO_PASSWORD, DEMO_PRACTICE_NAME
from flags.measure_signals import CoupleSignals, load_satisfaction, signals_for, split_gaps
from people.models import ConsultationGroup, Practice, SignalThresholds, Supervision, User
from ruptures.codes import (
    ConfrontationMarker,
    ResolutionStrategy,
    RuptureStatus,
    RuptureType,
    Toward,
    WhoMoved,
)
from ruptures.models import Flag, FlagKind, NightlyRun, RunStatus, Rupture, RuptureSummary
from sessions.measure_forms import absence_reason
from sessions.models import (
    AllianceRating,
    Attendance,
    EFTChangeEvent,
    MeasureDefinition,
    MeasureResponse,
    NoteKind,
    PostSessionReport,
    PrivateNote,
    Respondent,
    SessionFormat,
    TherapySession,
)
from sessions.models.measures import ALLIANCE_ITEMS, EnteredBy

# Every table the demo could write: the project's apps, auto-created M2M tables included.
PROJECT_APPS = ("people", "cycles", "therapy_sessions", "ruptures")
HELD = (Attendance.ATTENDED, Attendance.ENDED_EARLY)
PARTNER_OF: dict[str, str] = {Respondent.PARTNER_A: "A", Respondent.PARTNER_B: "B"}


def seed_demo() -> str:
    out = StringIO()
    with override_settings(DEBUG=True):  # pytest-django runs tests with DEBUG off
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

    def signals(self, couple_id: int) -> CoupleSignals:
        return signals_for(couple_id, SignalThresholds.for_practice(self.practice.pk))

    def walk_out(self) -> Rupture:
        return Rupture.objects.select_related("session", "repaired_in").get(
            couple__practice=self.practice, session__attendance=Attendance.ENDED_EARLY
        )

    # Idempotence and output

    def test_second_run_changes_no_row_of_any_table(self) -> None:
        before = snapshot()
        output = seed_demo()
        assert snapshot() == before
        for label in (
            "cycles.Couple",
            "ruptures.Rupture",
            "therapy_sessions.AllianceRating",
            "therapy_sessions.PostSessionReport",
            "therapy_sessions.MeasureResponse",
        ):
            assert before[label], label
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

    def test_every_couple_is_visible_to_its_therapists_and_no_other_therapist(self) -> None:
        therapists = User.objects.filter(practice=self.practice, is_therapist=True)
        for therapist in therapists:
            visible = set(Couple.objects.visible_to(therapist))
            treated = Q(therapist=therapist) | Q(co_therapist=therapist)
            assert visible == set(self.demo_couples().filter(treated))
            assert visible
        # One case is co-led by a trainee (docs/domain.md#co-therapy).
        co_led = self.demo_couples().filter(co_therapist__isnull=False)
        assert co_led.count() == 1
        assert co_led.get().case_events.filter(kind=CaseEventKind.CO_THERAPIST_JOINED).exists()

    def test_supervisor_sees_the_supervisees_couples_and_admin_sees_none(self) -> None:
        supervisor = User.objects.get(practice=self.practice, is_supervisor=True)
        supervisees = Supervision.objects.filter(supervisor=supervisor).values("therapist")
        expected = set(
            self.demo_couples().filter(
                Q(therapist__in=supervisees) | Q(co_therapist__in=supervisees)
            )
        )
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
        for model in (AllianceRating, PostSessionReport, MeasureResponse):
            rows = model.objects.filter(session__couple__practice=self.practice)
            assert not rows.filter(recorded_at__gt=now).exists()
            assert not rows.filter(recorded_at__lt=F("session__starts_at")).exists()
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

    def test_seed_case_is_flagged_by_the_nightly_history_and_its_flags_close_after_the_repair(
        self,
    ) -> None:
        rupture = self.walk_out()
        walked_out_on = timezone.localdate(rupture.session.starts_at)
        assert rupture.repaired_in is not None
        repaired_on = timezone.localdate(rupture.repaired_in.starts_at)
        runs = NightlyRun.objects.filter(practice=self.practice)
        assert runs.count() == 7
        assert set(runs.values_list("status", flat=True)) == {RunStatus.FINISHED}

        flags = {
            f.kind: f
            for f in Flag.objects.filter(couple=rupture.couple, key=f"rupture:{rupture.pk}")
        }
        assert set(flags) == {
            FlagKind.UNRESOLVED_RUPTURE,
            FlagKind.CONFRONTATION_THEN_ABSENCE,
            FlagKind.HIGH_THERAPIST_CONTRIBUTION,
        }
        for flag in flags.values():
            assert walked_out_on <= flag.opened_on < repaired_on
            assert flag.closed_on is not None
            assert flag.closed_on >= repaired_on
        absence = flags[FlagKind.CONFRONTATION_THEN_ABSENCE]
        # The walk-out was in the rupture's own session: one sentence says so (flags/rules.py).
        assert absence.detail == (
            f"A confrontation rupture and a walk-out in session {rupture.session.ordinal}."
        )

        latest = RuptureSummary.objects.get(
            couple=rupture.couple, period="treatment", on_date=runs.latest("for_date").for_date
        )
        assert latest.data["by_status"]["resolved"] >= 1
        assert latest.data["strategies_in_resolutions"]["ACKNOWLEDGES_CONTRIBUTION"] >= 1

    def test_sessions_carry_horsemen_thinning_out_and_change_events_of_couples_past_stage_1(
        self,
    ) -> None:
        held = TherapySession.objects.filter(
            couple__practice=self.practice, attendance__in=["attended", "ended_early"]
        )
        assert (
            not TherapySession.objects.filter(couple__practice=self.practice)
            .exclude(attendance__in=["attended", "ended_early"])
            .exclude(horsemen=0, change_events=0)
        )
        early = [s.horsemen for s in held if s.ordinal <= 3]
        late = [s.horsemen for s in held if s.ordinal >= 10]
        assert sum(h != 0 for h in early) / len(early) > sum(h != 0 for h in late) / len(late)
        de_escalated = {s.couple_id for s in held if s.change_events & EFTChangeEvent.DE_ESCALATION}
        past_stage_1 = set(
            self.demo_couples().filter(eft_stage__gte=2).values_list("pk", flat=True)
        )
        assert de_escalated == past_stage_1
        assert past_stage_1

    def test_seed_case_is_shared_into_the_group_and_readable_by_the_supervisor(self) -> None:
        rupture = Rupture.objects.get(
            couple__practice=self.practice, session__attendance=Attendance.ENDED_EARLY
        )
        group = ConsultationGroup.objects.get(practice=self.practice)
        assert CaseShare.objects.active().filter(couple=rupture.couple, group=group).exists()
        supervisor = User.objects.get(practice=self.practice, is_supervisor=True)
        assert Couple.objects.visible_to(supervisor).filter(pk=rupture.couple_id).exists()

    # Measures

    def test_most_sessions_that_took_place_carry_alliance_ratings_and_reports(self) -> None:
        held = TherapySession.objects.filter(couple__practice=self.practice, attendance__in=HELD)
        ratings = AllianceRating.objects.filter(session__couple__practice=self.practice)
        reports = PostSessionReport.objects.filter(session__couple__practice=self.practice)
        assert ratings.values("session").distinct().count() > 0.8 * held.count()
        assert reports.values("session").distinct().count() > 0.6 * held.count()
        for couple in self.demo_couples():
            assert ratings.filter(session__couple=couple, partner="A").exists()
            assert ratings.filter(session__couple=couple, partner="B").exists()
        # In the room: by the therapist and on the partner screen (a partner's remote answers
        # come through a link: invitations/).
        assert set(ratings.values_list("entered_by", flat=True)) >= {
            EnteredBy.THERAPIST,
            EnteredBy.PARTNER,
        }
        items = list(ratings.values_list(*ALLIANCE_ITEMS))
        assert all(0 <= item <= 10 for row in items for item in row)
        assert sum(min(row) >= 5 for row in items) > 0.9 * len(items)
        assert set(reports.values_list("respondent", flat=True)) == set(Respondent.values)
        tension = list(reports.values_list("tension", flat=True))
        assert 0 < tension.count(True) < tension.count(False)

    def test_tension_is_reported_mostly_where_a_rupture_was_logged(self) -> None:
        reports = PostSessionReport.objects.filter(
            session__couple__practice=self.practice, respondent__in=list(PARTNER_OF)
        ).annotate(ruptures=Count("session__ruptures"))
        with_rupture = [r.tension for r in reports if r.ruptures]
        without = [r.tension for r in reports if not r.ruptures]
        assert with_rupture.count(True) > 0.9 * len(with_rupture)
        assert without.count(False) > 0.9 * len(without)

    def test_seed_case_alliance_widens_then_drops_at_the_walk_out_and_recovers(self) -> None:
        rupture = self.walk_out()
        walk_out, repair = rupture.session, rupture.repaired_in
        assert repair is not None
        signals = self.signals(rupture.couple_id)

        drops = [f for f in signals.alliance_drops if f.ordinal == walk_out.ordinal]
        assert [f.partner for f in drops] == ["A"]  # the pursuing partner, who walked out
        before, after = drops[0].values
        assert before - after >= 6
        # The split widened over the three sessions both rated before the walk-out.
        assert walk_out.ordinal - 1 in [f.ordinal for f in signals.split_widening]
        assert all(f.ordinal <= walk_out.ordinal for f in signals.split_widening)

        report = PostSessionReport.objects.get(session=walk_out, respondent=Respondent.PARTNER_A)
        assert report.tension
        assert report.upsetting is not None
        assert report.upsetting >= 4

        later = [p.alliance["A"] for p in signals.points if p.ordinal > repair.ordinal]
        assert len(later) >= 2
        assert min(later) >= before
        assert not [f for f in signals.alliance_drops if f.ordinal > walk_out.ordinal]
        gap_after = [
            gap for point, gap in split_gaps(signals.points) if point.ordinal >= repair.ordinal
        ]
        assert max(gap_after) <= 4
        assert gap_after == sorted(gap_after, reverse=True)  # the partners come back together

    def test_another_couple_shows_a_split_widening_without_a_rupture(self) -> None:
        seed_couple = self.walk_out().couple_id
        window = SignalThresholds.for_practice(self.practice.pk).split_window_sessions
        quiet = []
        for couple in self.demo_couples().exclude(pk=seed_couple):
            signals = self.signals(couple.pk)
            gaps = split_gaps(signals.points)
            place = {point.session_id: i for i, (point, _) in enumerate(gaps)}
            for finding in signals.split_widening:
                end = place[finding.session_id]
                trend = [point for point, _ in gaps[end - window + 1 : end + 1]]
                if not any(point.rupture_count for point in trend):
                    quiet.append(couple.pk)
        assert quiet

    def test_alliance_signals_are_rare_and_drops_come_with_ruptures(self) -> None:
        widened = 0
        for couple in self.demo_couples():
            signals = self.signals(couple.pk)
            widened += bool(signals.split_widening)
            ruptured = {p.ordinal for p in signals.points if p.rupture_count}
            assert {f.ordinal for f in signals.alliance_drops} <= ruptured
        assert 2 <= widened <= self.demo_couples().count() / 4

    def test_reports_and_the_rupture_log_disagree_a_few_times_both_ways(self) -> None:
        mismatched, reported = [], 0
        for couple in self.demo_couples():
            signals = self.signals(couple.pk)
            ruptures = {p.session_id: p.rupture_count for p in signals.points}
            mismatched += [ruptures[f.session_id] > 0 for f in signals.mismatches]
            reported += sum(bool(p.tension) for p in signals.points)
        assert mismatched.count(False) >= 2  # a partner felt tension; no rupture was logged
        assert mismatched.count(True) >= 1  # a rupture was logged; a partner reported none
        assert len(mismatched) < 0.1 * reported

    def test_csi4_starts_distressed_and_mostly_improves_save_two_couples(self) -> None:
        csi4 = MeasureDefinition.objects.get(practice__isnull=True, code="csi4")
        cutoff = csi4.cutoff
        assert cutoff is not None
        couples = {couple.pk: couple for couple in self.demo_couples()}
        by_couple = load_satisfaction(couples)
        assert set(by_couple) == set(couples)
        series = [s for found in by_couple.values() for s in found]
        assert {s.code for s in series} == {"csi4"}
        intake = [s.scores[0].total for s in series]
        assert sum(total < cutoff for total in intake) > 0.7 * len(intake)
        assert [s.reliable for s in series].count("improved") > len(series) / 3
        assert any(s.below_cutoff for s in series)
        stays_below = [
            pk
            for pk, found in by_couple.items()
            if all(score.total < cutoff for s in found for score in s.scores)
        ]
        assert stays_below
        for pk, found in by_couple.items():
            assert {s.partner for s in found} == {"A", "B"}
            assert all(s.scores[0].ordinal == 1 for s in found)
            if couples[pk].status == CoupleStatus.DROPPED_OUT:
                assert [s.reliable for s in found] == ["deteriorated", "deteriorated"]
        ranges = {item["key"]: (item["min"], item["max"]) for item in csi4.items}
        for response in MeasureResponse.objects.filter(session__couple__in=couples.values()):
            assert set(response.answers) == set(ranges)
            assert all(ranges[k][0] <= v <= ranges[k][1] for k, v in response.answers.items())
            assert sum(response.answers.values()) == response.total

    def test_no_measure_is_recorded_for_a_partner_who_was_not_there(self) -> None:
        rows: list[tuple[TherapySession, str, bool]] = []
        for model in (AllianceRating, MeasureResponse):
            found = model.objects.filter(session__couple__practice=self.practice)
            rows += [
                (r.session, r.partner, r.absent_but_recorded)
                for r in found.select_related("session")
            ]
        reports = PostSessionReport.objects.filter(
            session__couple__practice=self.practice, respondent__in=list(PARTNER_OF)
        ).select_related("session")
        rows += [(r.session, PARTNER_OF[r.respondent], False) for r in reports]
        assert rows
        assert not [(s.pk, partner) for s, partner, _ in rows if absence_reason(s, partner)]
        assert not [flag for _, _, flag in rows if flag]
        not_held = TherapySession.objects.filter(couple__practice=self.practice).exclude(
            attendance__in=HELD
        )
        assert not_held.exists()
        assert not PostSessionReport.objects.filter(session__in=not_held).exists()
        individual = AllianceRating.objects.filter(
            session__couple__practice=self.practice,
            session__format__in=[SessionFormat.INDIVIDUAL_A, SessionFormat.INDIVIDUAL_B],
        )
        assert individual.exists()  # the partner who was there rated it

    # Signing (demo/signing.py)

    def test_the_demo_has_signed_co_signed_awaiting_and_draft_records(self) -> None:
        from sessions.models import CosignState, TherapySession

        held = TherapySession.objects.filter(
            couple__practice=self.practice, attendance__in=["attended", "ended_early"]
        )
        trainee = self.users["therapist2"]
        assert held.filter(signed_at__isnull=False).exists()
        assert held.filter(signed_at__isnull=True).exists()  # the last days' drafts
        assert not held.filter(
            signed_at__isnull=True, starts_at__lt=timezone.now() - datetime.timedelta(days=3)
        ).exists()
        awaiting = held.filter(cosign_state=CosignState.AWAITING)
        assert set(awaiting.values_list("therapist", flat=True)) == {trainee.pk}
        assert awaiting.count() == 2
        assert held.filter(therapist=trainee, cosign_state=CosignState.COSIGNED).exists()
        assert not held.exclude(therapist=trainee).exclude(cosign_state="").exists()

    def test_the_founding_case_has_a_plan_and_the_associates_plan_awaits_co_signing(self) -> None:
        from plans.models import PlanCosignState, PlanRevision

        plans = PlanRevision.objects.filter(couple__practice=self.practice)
        founding = plans.get(couple__therapist=self.users["therapist1"])
        assert founding.cosign_state == PlanCosignState.NOT_NEEDED
        assert founding.goals.count() >= 3
        assert any(goal.targets for goal in founding.goals.all())  # drafted from the map
        associate = plans.get(couple__therapist=self.users["therapist2"])
        assert associate.cosign_state == PlanCosignState.AWAITING


class SeedDemoRefusalTests(TestCase):
    def test_refused_with_debug_off_before_it_writes_anything(self) -> None:
        with pytest.raises(CommandError, match="DJANGO_DEBUG=true"):
            call_command("seed_demo", stdout=StringIO())
        assert not Practice.objects.filter(name=DEMO_PRACTICE_NAME).exists()
        assert not User.objects.filter(username=DEMO_LOGINS[0].username).exists()

    def test_taken_username_stops_the_seed_before_it_writes_anything(self) -> None:
        User.objects.create_user(username=DEMO_LOGINS[0].username, password="x-unused-x")
        with pytest.raises(CommandError, match=DEMO_LOGINS[0].username):
            seed_demo()
        assert not Practice.objects.filter(name=DEMO_PRACTICE_NAME).exists()

    def test_missing_csi4_stops_the_seed_before_it_writes_anything(self) -> None:
        MeasureDefinition.objects.filter(practice__isnull=True, code="csi4").delete()
        with pytest.raises(CommandError, match="csi4"):
            seed_demo()
        assert not Practice.objects.filter(name=DEMO_PRACTICE_NAME).exists()
