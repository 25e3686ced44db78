"""Restoring an earlier revision from the history page: a new revision, never a rewrite.

"Restore this version" saves the earlier revision's steps as the next revision, audited like
any save; a restore from a page read before someone's newer save shows the conflict and
changes nothing; a double click restores once.
"""

from __future__ import annotations

from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cycles.models import CycleMap, StepKind
from cycles.services import StepDraft, cycle_map_save
from people.models import ChangeEvent
from tests.factories import World

# A restore's queries (a write: the request's own and the acting user's, the couple, every
# revision with its steps and partners, the save and the loop's link) are the same however
# long the map: measured at 14.
RESTORE_QUERIES = 14


def steps_of(cycle_map: CycleMap) -> list[tuple[str, str, str]]:
    return [
        (step.partner.label, step.kind, step.label)
        for step in cycle_map.steps.select_related("partner", "emotion").order_by(
            "partner__label", "position"
        )
    ]


class RestoreTests(TestCase):
    world: World

    @classmethod
    def setUpTestData(cls) -> None:
        cls.world = World.build()  # revision 1: the factory's map
        couple = cls.world.couple
        cycle_map_save(
            couple=couple,
            author=cls.world.owner,
            base_revision=1,
            chains={
                "A": [StepDraft(StepKind.TRIGGER, "a late text message")],
                "B": [StepDraft(StepKind.ACTION, "leaves the room", move="withdrawing")],
            },
            change_note="Rewrote both chains",
        )
        cls.restore_url = reverse("cycles:cycle_restore", args=[couple.case_code])
        cls.history_url = reverse("cycles:cycle_history", args=[couple.case_code])

    def setUp(self) -> None:
        self.client.force_login(self.world.owner)

    def revision(self, number: int) -> CycleMap:
        return CycleMap.objects.get(couple=self.world.couple, revision=number)

    def restore(self, revision: int, base: int, **extra: str):
        data = {"revision": str(revision), "base_revision": str(base), **extra}
        return self.client.post(self.restore_url, data, follow=True)

    def test_the_history_offers_restore_for_every_revision_but_the_current_one(self) -> None:
        page = self.client.get(self.history_url).text
        assert page.count("Restore this version") == 1
        assert 'name="revision" value="1"' in page
        assert 'name="revision" value="2"' not in page
        assert 'name="base_revision" value="2"' in page

    def test_the_supervisor_sees_the_history_without_restore_and_gets_404_restoring(self) -> None:
        self.client.force_login(self.world.supervisor)
        assert "Restore this version" not in self.client.get(self.history_url).text
        response = self.client.post(self.restore_url, {"revision": "1", "base_revision": "2"})
        assert response.status_code == 404
        assert CycleMap.objects.filter(couple=self.world.couple).count() == 2

    def test_restoring_saves_a_new_revision_with_the_earlier_steps(self) -> None:
        response = self.restore(1, base=2)
        assert response.redirect_chain == [(self.history_url, 302)]
        assert "Restored revision 1 as revision 3 of the map." in response.text
        assert steps_of(self.revision(3)) == steps_of(self.revision(1))
        assert self.revision(3).change_note == "Restored revision 1."
        assert self.revision(3).author == self.world.owner
        # The history is kept: revision 2 still says what it said.
        assert steps_of(self.revision(2))[0][2] == "a late text message"
        assert "Restored revision 1." in response.text

    def test_the_restored_map_closes_the_loop_again(self) -> None:
        self.restore(1, base=2)
        action = self.revision(3).steps.get(partner__label="A", kind=StepKind.ACTION)
        assert action.leads_to is not None
        assert action.leads_to.text == "criticism"

    def test_a_restore_is_audited_like_a_save(self) -> None:
        before = ChangeEvent.objects.count()
        self.restore(1, base=2)
        events = ChangeEvent.objects.filter(pk__gt=0).order_by("pk")[before:]
        inserted = {(e.table_name, e.operation) for e in events}
        assert ("cycles_cyclemap", "INSERT") in inserted
        assert ("cycles_cyclestep", "INSERT") in inserted
        assert {e.actor_id for e in events} == {self.world.owner.pk}
        assert {e.case_code for e in events} == {self.world.couple.case_code}

    def test_a_double_click_restores_once(self) -> None:
        first = self.restore(1, base=2)
        second = self.restore(1, base=2)
        assert CycleMap.objects.filter(couple=self.world.couple).count() == 3
        assert "Restored revision 1 as revision 3 of the map." in first.text
        assert "Restored revision 1 as revision 3 of the map." in second.text
        assert "Not restored" not in second.text

    def test_a_stale_restore_shows_the_conflict_and_changes_nothing(self) -> None:
        # Revision 3 saved in the editor after the history page (at revision 2) was opened.
        cycle_map_save(
            couple=self.world.couple,
            author=self.world.owner,
            base_revision=2,
            chains={"A": [StepDraft(StepKind.TRIGGER, "a newer trigger")], "B": []},
        )
        response = self.client.post(self.restore_url, {"revision": "1", "base_revision": "2"})
        assert response.status_code == 200
        text = response.text
        assert "Not restored: Owner Therapist saved revision 3" in text
        assert "Nothing was changed." in text
        assert CycleMap.objects.filter(couple=self.world.couple).count() == 3
        # The page now offers restores from revision 3, so restoring again is deliberate.
        assert 'name="base_revision" value="3"' in text
        assert self.restore(1, base=3).status_code == 200
        assert steps_of(self.revision(4)) == steps_of(self.revision(1))

    def test_a_second_different_restore_from_the_same_page_is_a_conflict(self) -> None:
        self.restore(1, base=2)
        response = self.client.post(self.restore_url, {"revision": "2", "base_revision": "2"})
        assert "Not restored:" in response.text
        assert CycleMap.objects.filter(couple=self.world.couple).count() == 3

    def test_a_revision_not_on_record_is_refused_with_a_message(self) -> None:
        for revision, base in (("99", "2"), ("abc", "2"), ("1", ""), ("-1", "2"), ("1\x00", "2")):
            response = self.client.post(
                self.restore_url, {"revision": revision, "base_revision": base}
            )
            assert response.status_code == 200, (revision, base)
            assert 'id="refusal"' in response.text
        assert "This map has no revision 99 to restore; nothing was changed." in (
            self.client.post(self.restore_url, {"revision": "99", "base_revision": "2"}).text
        )
        assert CycleMap.objects.filter(couple=self.world.couple).count() == 2

    def test_restore_is_post_only(self) -> None:
        assert self.client.get(self.restore_url).status_code == 405

    def test_the_restore_runs_the_same_queries_for_a_small_or_a_long_map(self) -> None:
        counts = []
        for length in (1, 20):
            base = CycleMap.objects.filter(couple=self.world.couple).count()
            long_one = [StepDraft(StepKind.TRIGGER, f"step {n}") for n in range(length)]
            for chains in ({"A": long_one, "B": long_one}, {"A": [], "B": []}):
                cycle_map_save(
                    couple=self.world.couple,
                    author=self.world.owner,
                    base_revision=base,
                    chains=chains,
                )
                base += 1
            with CaptureQueriesContext(connection) as queries:
                response = self.client.post(
                    self.restore_url, {"revision": str(base - 1), "base_revision": str(base)}
                )
            assert response.status_code == 302
            assert len(steps_of(self.revision(base + 1))) == 2 * length
            counts.append(len(queries.captured_queries))
        assert counts == [RESTORE_QUERIES, RESTORE_QUERIES]
