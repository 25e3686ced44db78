"""The demo shows every kind of flag: after seeding (and the nightly runs the seed performs) each
of the nine kinds is open on some couple as of the latest run, where a newcomer signed in as a
demo therapist finds it on the couple's page."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse

from cycles.models import Couple
from demo.data import DEMO_PRACTICE_NAME
from ruptures.models import Flag, FlagKind


class DemoFlagTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        with override_settings(DEBUG=True):  # pytest-django runs tests with DEBUG off
            call_command("seed_demo", stdout=StringIO())

    def open_flags(self):
        return Flag.objects.filter(
            couple__practice__name=DEMO_PRACTICE_NAME, closed_on__isnull=True
        )

    def test_every_kind_of_flag_is_open_somewhere_in_the_demo(self) -> None:
        kinds = set(self.open_flags().values_list("kind", flat=True).distinct())
        kinds |= set(
            Flag.objects.filter(couple__practice__name=DEMO_PRACTICE_NAME)
            .values_list("kind", flat=True)
            .distinct()
        )
        assert kinds == set(FlagKind.values), sorted(set(FlagKind.values) - kinds)

    def test_the_three_rarer_kinds_are_open_now_and_shown_on_the_couple_page(self) -> None:
        for kind in (
            FlagKind.RECURRING_RUPTURE,
            FlagKind.GONE_QUIET,
            FlagKind.STUCK_IN_STAGE_ONE,
        ):
            flag = self.open_flags().filter(kind=kind).select_related("couple").first()
            assert flag is not None, kind
            couple = Couple.objects.select_related("therapist").get(pk=flag.couple_id)
            self.client.force_login(couple.therapist)
            page = self.client.get(reverse("cycles:detail", args=[couple.case_code]))
            assert page.status_code == 200
            assert FlagKind(kind).label in page.content.decode(), kind

    def test_one_invented_case_has_a_safety_concern_from_the_example_screen(self) -> None:
        from sessions.models import MeasureDefinition, SafetyScreen
        from sessions.safety import EXAMPLE_NAME

        [flag] = self.open_flags().filter(kind=FlagKind.SAFETY_CONCERN)
        screen = MeasureDefinition.objects.get(practice__name=DEMO_PRACTICE_NAME)
        assert screen.name == EXAMPLE_NAME  # "Example safety screen — replace with ..."
        assert screen.is_safety_screen
        screens = SafetyScreen.objects.filter(couple_id=flag.couple_id)
        assert sorted(screens.values_list("partner", "positive")) == [
            ("A", False),
            ("B", False),
            ("B", True),
        ]
        couple = Couple.objects.select_related("therapist").get(pk=flag.couple_id)
        self.client.force_login(couple.therapist)
        page = self.client.get(reverse("cycles:detail", args=[couple.case_code]))
        assert "Safety concern: partner B" in page.content.decode()
