"""The session page at a clinician's pace, in Chromium (issue 18).

1. Logging a session with two ruptures, from the couple's page, takes at most 20 interactions,
   on a 360 px phone as on a 1280 px screen: clicks plus keys that aren't text (Tab, Enter,
   arrows...; choosing a <select> option is one). Typing words into a field is not counted:
   that is the note itself, not the form's cost.
2. On a session where an earlier rupture is still open, its repair comes first, above the
   folded "Add a rupture" form, and is recorded with a note on what the therapist acknowledged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest
from playwright.sync_api import expect

from ruptures.codes import ConfrontationMarker, RuptureStatus, RuptureType, WhoMoved
from ruptures.models import Rupture, RuptureRepair
from tests.browser.conftest import login
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page
    from pytest_django.live_server_helper import LiveServer

pytestmark = pytest.mark.browser

INTERACTION_BUDGET = 20


@dataclass
class Interactions:
    """What the therapist does to the page, counted as the issue counts it."""

    clicks: int = 0
    keys: int = 0  # non-text keys and <select> choices
    log: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.clicks + self.keys

    def click(self, target: Locator, what: str) -> None:
        target.click()
        self.clicks += 1
        self.log.append(f"click {what}")

    def choose(self, target: Locator, value: str, what: str) -> None:
        target.select_option(value)
        self.keys += 1
        self.log.append(f"choose {what}")

    def press(self, target: Locator, key: str) -> None:
        target.press(key)
        self.keys += 1
        self.log.append(f"press {key}")

    def type(self, target: Locator, text: str) -> None:
        """Words typed into a field: not counted (the field is reached by a counted click)."""
        target.press_sequentially(text)


def radio(form: Locator, group: str, label: str) -> Locator:
    return form.get_by_role("group", name=group).get_by_label(label, exact=True)


@pytest.mark.parametrize("width", [360, 1280])
def test_logging_a_session_with_two_ruptures_takes_at_most_20_interactions(
    page: Page, live_server: LiveServer, width: int
) -> None:
    therapist = make_user(make_practice(), "Robin Therapist", therapist=True)
    couple = make_couple(therapist)
    page.set_viewport_size({"width": width, "height": 800})
    login(page, live_server, therapist)
    page.goto(couple.get_absolute_url())
    done = Interactions()

    # The session: the form starts as a conjoint, attended session that ended just now.
    done.click(page.get_by_role("link", name="Log a session"), "Log a session")
    expect(page.get_by_label("Conjoint")).to_be_checked()
    expect(page.get_by_label("Attended")).to_be_checked()
    note = page.get_by_label("Progress note")
    done.click(note, "into the progress note")
    done.type(note, "Named the cycle; she withdrew, he pushed back at me.")
    done.click(page.get_by_role("button", name="Log the session"), "Log the session")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Session 1")

    # Rupture 1: a withdrawal by partner B toward the therapist (the target it starts with).
    form = page.locator("#rupture-add")
    expect(form.get_by_role("button", name="Record the rupture")).to_be_visible()
    done.click(form.get_by_label("Withdrawal (moving away)"), "withdrawal")
    expect(form.get_by_role("group", name="Confrontation markers")).to_have_count(0)
    done.click(form.get_by_label("Minimal response"), "minimal response")
    done.click(radio(form, "Who moved", "Partner B"), "partner B moved")
    done.click(radio(form, "Significance", "2"), "significance 2")
    done.click(form.get_by_role("button", name="Record the rupture"), "Record the rupture")
    ruptures = page.locator("#session-ruptures .rupture-item")
    expect(ruptures).to_have_count(1)
    expect(page.locator("#session-ruptures").get_by_role("status")).to_contain_text(
        "Recorded the rupture."
    )

    # Rupture 2: the form is still open, ready; a confrontation toward the therapist, with
    # the therapist's contribution and a private reflection.
    expect(page.locator("#rupture-add-fold")).to_have_attribute("open", "")
    done.click(form.get_by_label("Confrontation (moving against)"), "confrontation")
    expect(form.get_by_role("group", name="Withdrawal markers")).to_have_count(0)
    done.click(form.get_by_label("Rejects a therapist intervention"), "rejects intervention")
    done.click(radio(form, "Who moved", "Partner A"), "partner A moved")
    done.click(radio(form, "Significance", "4"), "significance 4")
    done.click(radio(form, "My contribution", "4"), "my contribution 4")
    reflection = form.get_by_label("Private reflection on my contribution")
    done.click(reflection, "into the reflection")
    done.type(reflection, "I pushed the exercise too fast.")
    done.click(form.get_by_role("button", name="Record the rupture"), "Record the rupture")
    expect(ruptures).to_have_count(2)
    expect(ruptures.nth(0)).to_contain_text("W2")
    expect(ruptures.nth(1)).to_contain_text("C4")
    expect(ruptures.nth(1)).to_contain_text("Partner A → the therapist")

    print(
        f"\nLogging a session with two ruptures at {width} px: {done.total} interactions "
        f"({done.clicks} clicks, {done.keys} other keys): " + "; ".join(done.log)
    )
    assert done.total <= INTERACTION_BUDGET, done.log
    # And the page it ended on, both ruptures listed and the form open, never scrolls sideways.
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"the session page is {scroll} px wide at {width} px"
    recorded = Rupture.objects.filter(couple=couple).order_by("pk")
    assert [(r.rupture_type, r.who_moved, r.significance) for r in recorded] == [
        (RuptureType.WITHDRAWAL, WhoMoved.PARTNER_B, 2),
        (RuptureType.CONFRONTATION, WhoMoved.PARTNER_A, 4),
    ]
    assert recorded[1].therapist_contribution == 4


def test_an_earlier_open_rupture_is_repaired_first_with_a_note(
    page: Page, live_server: LiveServer
) -> None:
    therapist = make_user(make_practice(), "Robin Therapist", therapist=True)
    couple = make_couple(therapist)
    walk_out = make_session(couple, days_ago=14)
    rupture = make_rupture(
        walk_out,
        rupture_type=RuptureType.CONFRONTATION,
        confrontation_markers=ConfrontationMarker.REJECTS_INTERVENTION,
        significance=5,
        therapist_contribution=4,
    )
    today = make_session(
        couple, days_ago=0, progress_note="Opened by naming my part in the walk-out. " * 20
    )
    login(page, live_server, therapist)
    page.goto(f"/sessions/{today.pk}/")

    # The repair leads: above the progress note and above the (folded) add-rupture form.
    repairs = page.locator("#repairs")
    fold = page.locator("#rupture-add-fold")
    expect(repairs.get_by_role("heading", name="Earlier ruptures still open")).to_be_visible()
    expect(fold).not_to_have_attribute("open", "")
    expect(page.get_by_role("button", name="Record the rupture")).to_be_hidden()
    repairs_top = repairs.bounding_box()
    fold_top = fold.bounding_box()
    note_top = page.get_by_role("heading", name="Progress note").bounding_box()
    assert repairs_top is not None
    assert fold_top is not None
    assert note_top is not None
    assert repairs_top["y"] < note_top["y"] < fold_top["y"]

    repairs.get_by_role("link", name="Repaired here…").click()
    form = page.locator(f"#repair-{rupture.pk}")
    expect(form.get_by_label("Resolved", exact=True)).to_be_checked()
    form.get_by_label("Acknowledges own contribution").check()
    form.get_by_label("Discloses own internal experience").check()
    form.get_by_label("Note on the repair").fill(
        "I named that I raised my voice and apologised; she said she felt heard."
    )
    form.get_by_role("button", name="Mark repaired in this session").click()

    expect(repairs.get_by_text("Note on the repair:")).to_be_visible()
    expect(repairs).to_contain_text("I named that I raised my voice and apologised")
    expect(repairs.get_by_role("heading", name="Earlier ruptures still open")).to_have_count(0)
    repair = RuptureRepair.objects.get(rupture=rupture)
    assert repair.session_id == today.pk
    assert repair.note == "I named that I raised my voice and apologised; she said she felt heard."
    rupture.refresh_from_db()
    assert (rupture.status, rupture.repaired_in_id) == (RuptureStatus.RESOLVED, today.pk)

    # The add-rupture form is one click away, below.
    page.locator("#rupture-add-fold > summary").click()
    expect(page.get_by_role("button", name="Record the rupture")).to_be_visible()
