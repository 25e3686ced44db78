"""A record that contradicts itself is refused beside the field, with what was typed kept.

- A cycle-map step whose own emotion word (one not in the vocabulary) is kept in front of its
  words ("term — words") must still fit the 300 characters a step holds: PostgreSQL refuses a
  longer one, so the editor says how far over it is instead of failing or cutting it short.
- A couple's pattern must not contradict the partners' positions ("varies" fits any pattern),
  and the start date can't be after the first session on record.
- The session page names a partner a rupture moved toward as written ("Partner A").
"""

from __future__ import annotations

import datetime
import html
import re
from typing import TYPE_CHECKING, Any

import pytest
from django.db import DataError, transaction
from django.test import TestCase
from django.urls import reverse
from django.utils import dateformat, timezone

from cycles.forms import pattern_contradiction
from cycles.models import (
    Couple,
    CycleMap,
    CyclePattern,
    CyclePosition,
    CycleStep,
    EmotionKind,
    Partner,
    StepKind,
)
from cycles.services import PartnerDetails
from demo.practice import COUPLES
from ruptures.codes import Toward, WhoMoved
from sessions.services import session_withdraw
from tests.factories import World, make_couple, make_emotion, make_rupture, make_session, version_of

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as Response

P, W, V = CyclePosition.PURSUER, CyclePosition.WITHDRAWER, CyclePosition.VARIES
PW, PP, WW = (
    CyclePattern.PURSUE_WITHDRAW,
    CyclePattern.PURSUE_PURSUE,
    CyclePattern.WITHDRAW_WITHDRAW,
)
# Emotion words of the therapist's own, not in the vocabulary (the field takes up to 60).
OWN_WORD = "bereft-ish"
OWN_PHRASE = "afraid of being left alone, the way it was as a small boy"  # 57 characters


# Helpers ---------------------------------------------------------------------------------


def error_beside(response: Response, auto_id: str) -> str:
    """The error text shown beside one field (its `<auto_id>_error` list), as plain text."""
    match = re.search(
        rf'id="{re.escape(auto_id)}_error"[^>]*>(.*?)</(?:ul|p)>', response.text, re.DOTALL
    )
    assert match, f"no error shown beside {auto_id}"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())


def selected(response: Response, name: str) -> str:
    """The option a <select> shows as chosen."""
    select = re.search(rf'<select name="{name}".*?</select>', response.text, re.DOTALL)
    assert select, f"no select named {name}"
    option = re.search(r'<option value="([^"]*)"[^>]*\bselected\b', select.group(0))
    assert option, f"nothing selected in {name}"
    return option.group(1)


def at_noon(day: datetime.date) -> datetime.datetime:
    return timezone.make_aware(datetime.datetime.combine(day, datetime.time(12)))


def couple_data(**overrides: str) -> dict[str, str]:
    data = {
        "partner_a_name": "Noor Vale",
        "partner_a_pronouns": "she/her",
        "partner_a_position": P,
        "partner_b_name": "Ilan Vale",
        "partner_b_pronouns": "",
        "partner_b_position": W,
        "cycle_pattern": PW,
        "eft_step": "2",
        "started_on": (timezone.localdate() - datetime.timedelta(days=90)).isoformat(),
        "status": "active",
    }
    return data | overrides


def editor_post(rows_a: list[tuple[str, str, str, str]]) -> dict[str, str]:
    """The editor's save: partner A's chain as given, partner B's as World saved it."""
    rows_b = [
        (StepKind.TRIGGER, "", "criticism", ""),
        (StepKind.ACTION, "", "goes quiet", "withdrawing"),
    ]
    data = {"base_revision": "1", "change_note": "", "action": "save"}
    for label, rows in (("A", rows_a), ("B", rows_b)):
        data[f"{label}-TOTAL_FORMS"] = data[f"{label}-INITIAL_FORMS"] = str(len(rows))
        for index, (kind, term, text, move) in enumerate(rows):
            data |= {
                f"{label}-{index}-kind": kind,
                f"{label}-{index}-term": term,
                f"{label}-{index}-text": text,
                f"{label}-{index}-move": move,
                f"{label}-{index}-starter": "",
            }
    return data


def chain_a(term: str, text: str) -> list[tuple[str, str, str, str]]:
    return [
        (StepKind.TRIGGER, "", "partner goes quiet", ""),
        (StepKind.SECONDARY_EMOTION, term, text, ""),
        (StepKind.ACTION, "", "criticises", "pursuing"),
    ]


class WorldTestCase(TestCase):
    world: World

    @classmethod
    def setUpTestData(cls) -> None:
        cls.world = World.build()
        make_emotion("anger", EmotionKind.SECONDARY)

    def setUp(self) -> None:
        self.client.force_login(self.world.owner)

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        models = (Couple, Partner, CycleMap, CycleStep)
        return {m.__name__: list(m.objects.order_by("pk").values()) for m in models}


# 1. A step's words, with the therapist's own emotion word in front ----------------------


class StepLengthTests(WorldTestCase):
    def url(self) -> str:
        return reverse("cycles:cycle_edit", args=[self.world.couple.case_code])

    def test_own_word_and_words_over_300_are_refused_beside_the_words_saying_how_far_over(
        self,
    ) -> None:
        text = "w" * 300  # the most the words field takes; the phrase and " — " add 60
        before = self.snapshot()
        response = self.client.post(self.url(), editor_post(chain_a(OWN_PHRASE, text)))
        assert response.status_code == 200
        message = error_beside(response, "id_A-1-text")
        assert "360 characters, 60 characters over the 300 a step can hold" in message
        assert f"“{OWN_PHRASE}”" in message
        assert f"{text}</textarea>" in response.text  # what was typed stays, uncut
        assert f'value="{OWN_PHRASE}"' in response.text
        assert self.snapshot() == before

    def test_one_character_over_says_one_character(self) -> None:
        response = self.client.post(self.url(), editor_post(chain_a(OWN_WORD, "w" * 288)))
        assert response.status_code == 200
        assert "301 characters, 1 character over" in error_beside(response, "id_A-1-text")

    def test_own_word_and_words_of_exactly_300_are_saved_whole(self) -> None:
        text = "w" * 287
        response = self.client.post(self.url(), editor_post(chain_a(OWN_WORD, text)))
        assert response.status_code == 302
        latest = CycleMap.objects.filter(couple=self.world.couple).latest()
        step = latest.steps.get(partner__label="A", position=2)
        assert (step.text, step.emotion_id) == (f"{OWN_WORD} — {text}", None)
        assert len(step.text) == 300

    def test_a_vocabulary_emotion_takes_the_full_300_characters_of_words(self) -> None:
        text = "w" * 300
        response = self.client.post(self.url(), editor_post(chain_a("anger", text)))
        assert response.status_code == 302
        latest = CycleMap.objects.filter(couple=self.world.couple).latest()
        step = latest.steps.select_related("emotion").get(partner__label="A", position=2)
        assert (step.emotion.name if step.emotion else None, step.text) == ("anger", text)

    def test_words_posted_longer_than_300_are_refused_not_cut(self) -> None:
        """A hand-made post (the input's maxlength stops a browser) gets the form's message
        beside the words and its text back whole, never silently shortened."""
        text = "w" * 350
        before = self.snapshot()
        response = self.client.post(self.url(), editor_post(chain_a("anger", text)))
        assert response.status_code == 200
        assert "at most 300 characters" in error_beside(response, "id_A-1-text")
        assert f"{text}</textarea>" in response.text
        assert self.snapshot() == before

    def test_postgresql_refuses_a_longer_step_so_the_form_must(self) -> None:
        """Why the check exists: without it this is what the save would meet (a 500)."""
        step = CycleStep.objects.filter(cycle_map=self.world.cycle_map).first()
        assert step is not None
        with pytest.raises(DataError), transaction.atomic():
            CycleStep.objects.filter(pk=step.pk).update(text="w" * 301)


# 2. The couple's pattern and positions ---------------------------------------------------

REFUSED = [
    (PW, P, P, "both partners are recorded as pursuers"),
    (PW, W, W, "both partners are recorded as withdrawers"),
    (PP, P, W, "Partner B (Ilan Vale) is recorded as a withdrawer"),
    (PP, W, W, "both partners are recorded as withdrawers"),
    (PP, W, V, "Partner A (Noor Vale) is recorded as a withdrawer"),
    (WW, P, P, "both partners are recorded as pursuers"),
    (WW, W, P, "Partner B (Ilan Vale) is recorded as a pursuer"),
    (WW, P, V, "Partner A (Noor Vale) is recorded as a pursuer"),
]
ACCEPTED = [
    (PW, P, W),
    (PW, W, P),
    (PW, V, W),
    (PW, P, V),
    (PW, V, V),
    (PP, P, P),
    (PP, V, P),
    (WW, W, W),
    (WW, W, V),
]


class PatternTests(WorldTestCase):
    def test_each_contradiction_is_refused_beside_the_pattern_and_saves_nothing(self) -> None:
        for url in (
            reverse("cycles:new"),
            reverse("cycles:edit", args=[self.world.couple.case_code]),
        ):
            for pattern, a, b, who in REFUSED:
                with self.subTest(url=url, pattern=pattern, a=a, b=b):
                    before = self.snapshot()
                    data = couple_data(
                        cycle_pattern=pattern, partner_a_position=a, partner_b_position=b
                    )
                    response = self.client.post(url, data)
                    assert response.status_code == 200
                    message = error_beside(response, "id_cycle_pattern")
                    assert who in message
                    assert "Change the pattern or the positions" in message
                    assert 'value="she/her"' in response.text  # what was typed stays
                    assert selected(response, "cycle_pattern") == pattern
                    assert self.snapshot() == before

    def test_positions_that_fit_the_pattern_are_saved(self) -> None:
        url = reverse("cycles:edit", args=[self.world.couple.case_code])
        for pattern, a, b in ACCEPTED:
            with self.subTest(pattern=pattern, a=a, b=b):
                data = couple_data(
                    cycle_pattern=pattern, partner_a_position=a, partner_b_position=b
                )
                data |= version_of(self.world.couple)
                assert self.client.post(url, data).status_code == 302
                couple = Couple.objects.get(pk=self.world.couple.pk)
                positions = dict(couple.partners.values_list("label", "position"))
                assert (couple.cycle_pattern, positions) == (pattern, {"A": a, "B": b})

    def test_a_new_record_opens_on_positions_that_fit_its_pattern(self) -> None:
        response = self.client.get(reverse("cycles:new"))
        shown = {
            name: selected(response, name)
            for name in ("cycle_pattern", "partner_a_position", "partner_b_position")
        }
        assert shown == {"cycle_pattern": PW, "partner_a_position": P, "partner_b_position": W}

    def test_the_rule_agrees_with_every_demo_couple(self) -> None:
        for spec in COUPLES:
            positions = {
                "A": (spec.partner_a.display_name, spec.partner_a.position),
                "B": (spec.partner_b.display_name, spec.partner_b.position),
            }
            assert pattern_contradiction(spec.pattern, positions) is None, spec


# 2. The start date and the first session -------------------------------------------------


class StartDateTests(WorldTestCase):
    couple: Couple
    first_day: datetime.date

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        today = timezone.localdate()
        cls.couple = make_couple(
            cls.world.owner,
            partner_a=PartnerDetails("Noor Vale", P),
            partner_b=PartnerDetails("Ilan Vale", W),
            started_on=today - datetime.timedelta(days=120),
        )
        cls.first_day = today - datetime.timedelta(days=60)
        make_session(cls.couple, starts_at=at_noon(cls.first_day))
        make_session(cls.couple, starts_at=at_noon(today - datetime.timedelta(days=53)))
        # Logged by mistake and withdrawn: not the first session on record.
        mistake = make_session(cls.couple, starts_at=at_noon(today - datetime.timedelta(days=90)))
        session_withdraw(session=mistake, by=cls.world.owner, reason="Wrong couple.")

    def url(self) -> str:
        return reverse("cycles:edit", args=[self.couple.case_code])

    def test_a_start_after_the_first_session_is_refused_naming_its_date(self) -> None:
        before = self.snapshot()
        later = self.first_day + datetime.timedelta(days=1)
        response = self.client.post(
            self.url(), couple_data(started_on=later.isoformat()) | version_of(self.couple)
        )
        assert response.status_code == 200
        message = error_beside(response, "id_started_on")
        on = dateformat.format(self.first_day, "j M Y")
        assert f"The first session on record (session 1) was on {on}" in message
        assert "can't be after it" in message
        assert f'value="{later.isoformat()}"' in response.text
        assert self.snapshot() == before

    def test_a_start_on_the_day_of_the_first_session_is_saved(self) -> None:
        response = self.client.post(
            self.url(), couple_data(started_on=self.first_day.isoformat()) | version_of(self.couple)
        )
        assert response.status_code == 302
        assert Couple.objects.get(pk=self.couple.pk).started_on == self.first_day

    def test_a_withdrawn_earlier_session_does_not_hold_the_start_date_back(self) -> None:
        start = self.first_day - datetime.timedelta(days=10)  # after the withdrawn one
        response = self.client.post(
            self.url(), couple_data(started_on=start.isoformat()) | version_of(self.couple)
        )
        assert response.status_code == 302
        assert Couple.objects.get(pk=self.couple.pk).started_on == start

    def test_a_couple_without_sessions_takes_any_past_start_date(self) -> None:
        couple = make_couple(self.world.owner)
        url = reverse("cycles:edit", args=[couple.case_code])
        yesterday = timezone.localdate() - datetime.timedelta(days=1)
        data = couple_data(started_on=yesterday.isoformat()) | version_of(couple)
        assert self.client.post(url, data).status_code == 302


# 3. Who a rupture moved toward, on the session page --------------------------------------


class RuptureLineTests(WorldTestCase):
    def test_a_partner_is_named_as_written_and_the_therapist_in_the_sentence(self) -> None:
        make_rupture(self.world.session, who_moved=WhoMoved.PARTNER_B, toward=Toward.PARTNER_A)
        url = reverse("therapy_sessions:detail", args=[self.world.session.pk])
        text = " ".join(html.unescape(self.client.get(url).text).split())
        assert "Partner B → Partner A" in text
        assert "Partner A → the therapist" in text  # World's own rupture
        assert "→ partner a" not in text
