"""A partner's safety screen reaches the couple's therapist and supervisor and nobody else
(sessions/safety.py; docs/security.md, "Safety screen"; issue 22).

The practice's screen carries a canary in its name and questions. Partner A takes it on the
hand-over screen and answers positively; one module fixture then does what a practice does
with the record and collects every output: partner B's hand-over screens, partner B's and
partner A's copies of the record, the consultation group's pages, the morning digests and
every log record. Partner B's screens and copy are also collected before A's screen, and must
read exactly the same after it: not even whether a screen was taken may show.
"""

from __future__ import annotations

import datetime
import io
import re
import zipfile
from typing import Any

import pypdf
import pytest
from django.core import mail
from django.db import transaction
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone

from consultation.views import SAFETY_CONFIRM_MISSING
from cycles.models import CaseShare
from flags import digests, same_day
from flags.runs import run_now
from ruptures.models import Flag, FlagKind
from sessions.models import SafetyScreen
from sessions.safety import GUIDANCE
from tests.exports import exported
from tests.factories import PASSWORD, World, make_session
from tests.security import every_log_record
from tests.sessions.safety_world import CANARY, SCREEN_NAME, posted, practice_screen

pytestmark = pytest.mark.django_db

SCREEN = "/partner-screen/"
# Words that would tell of a safety screen or concern, beside the canary.
TELLTALES = (CANARY, "afety", GUIDANCE[:40], "contraindicated", "screen was positive")


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def pdf_text(content: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(content))
    return "\n".join(page.extract_text() or "" for page in reader.pages)


def without_tokens(page: str) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)


def copy_of(owner: Client, world: World, copy: str) -> dict[str, str]:
    """A copy of the record, each file as text (the PDF's words)."""
    url = reverse("exports:whole_record", args=[world.couple.case_code])
    response = exported(owner, url, {"copy": copy})
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.content)) as zipped:
        files = {name: zipped.read(name) for name in zipped.namelist()}
    return {
        name: pdf_text(body) if name.endswith(".pdf") else body.decode()
        for name, body in files.items()
    }


def partner_b_screens(owner: Client, world: World, session_pk: int) -> dict[str, str]:
    """What partner B is shown on the device: the session's questions, then the couple's
    safety screen (before answering), each handed over and taken back."""
    pages = {}
    start = reverse("therapy_sessions:partner_screen_start", args=[session_pk, "B"])
    assert owner.post(start, {"include": ["csi4"]}).url == SCREEN
    pages["session screen"] = without_tokens(owner.get(SCREEN).content.decode())
    owner.post(reverse("partner_screen_unlock"), {"password": PASSWORD})
    hand_over = reverse("therapy_sessions:hand_over", args=[world.couple.case_code])
    assert owner.post(hand_over, {"partner": "B"}).url == SCREEN
    pages["safety screen"] = without_tokens(owner.get(SCREEN).content.decode())
    owner.post(reverse("partner_screen_unlock"), {"password": PASSWORD})
    return pages


@pytest.fixture(scope="module")
def outputs(django_db_setup: None, django_db_blocker: Any) -> Any:
    mail.outbox = []
    out: dict[str, Any] = {}
    with every_log_record() as handler, django_db_blocker.unblock(), transaction.atomic():
        world = World.build()
        out["world"] = world
        practice_screen(world.practice)
        today_session = make_session(world.couple, days_ago=0)
        share = CaseShare.objects.create(
            couple=world.couple, group=world.group, shared_by=world.owner
        )
        owner = signed_in(world.owner)
        # The couple's other flags as of today, so the comparisons below see only what
        # partner A's screen changes.
        same_day.recheck([world.couple.pk])
        out["B before"] = partner_b_screens(owner, world, today_session.pk)
        out["B copy before"] = copy_of(owner, world, "B")

        hand_over = reverse("therapy_sessions:hand_over", args=[world.couple.case_code])
        owner.post(hand_over, {"partner": "A"})
        with TestCase.captureOnCommitCallbacks(execute=True):
            owner.post(SCREEN, posted(hurt=1))
        owner.post(reverse("partner_screen_unlock"), {"password": PASSWORD})
        out["screens"] = list(SafetyScreen.objects.all())
        out["concerns"] = list(Flag.objects.filter(kind=FlagKind.SAFETY_CONCERN))

        out["B after"] = partner_b_screens(owner, world, today_session.pk)
        out["B copy after"] = copy_of(owner, world, "B")
        out["A copy"] = copy_of(owner, world, "A")
        out["joint copy"] = copy_of(owner, world, "joint")

        member = signed_in(world.group_member)
        case_args = [world.group.pk, share.code]
        out["shared case"] = member.get(reverse("consultation:case", args=case_args))
        out["shared pdf"] = pdf_text(
            member.get(reverse("consultation:case_pdf", args=case_args)).content
        )
        out["group page"] = member.get(reverse("consultation:group", args=[world.group.pk]))
        out["groups"] = member.get(reverse("consultation:groups"))

        yesterday = timezone.localdate() - datetime.timedelta(days=1)
        for day in (yesterday, timezone.localdate()):
            digests.send(run_now(world.practice, day))
        out["mail"] = list(mail.outbox)
        out["records"] = list(handler.records)
        yield out
        transaction.set_rollback(True)


def test_partner_as_positive_screen_was_taken_and_opened_the_concern(outputs):
    [screen] = outputs["screens"]
    assert (screen.partner, screen.positive) == ("A", True)
    [flag] = outputs["concerns"]
    assert flag.is_open
    assert flag.key == "partner:A"


def test_partner_bs_hand_over_screens_read_exactly_as_before(outputs):
    before, after = outputs["B before"], outputs["B after"]
    assert before == after
    for page in after.values():
        assert "Partner A" not in page
        assert "positive" not in page.lower()
        assert "concern" not in page.lower()
    # B's session questions show none of the screen's words.
    for word in TELLTALES:
        assert word not in after["session screen"], word


def test_partner_bs_copy_of_the_record_reads_exactly_as_before(outputs):
    before, after = outputs["B copy before"], outputs["B copy after"]
    assert sorted(before) == sorted(after)
    for name in after:
        if not name.endswith(".pdf"):
            assert before[name] == after[name], name
    for name, text in after.items():
        for word in TELLTALES:
            assert word not in text, (name, word)
    assert "safety_screens.csv" not in after


def test_partner_as_copy_holds_their_own_answers_and_no_flag(outputs):
    copy = outputs["A copy"]
    rows = copy["safety_screens.csv"].splitlines()
    assert len(rows) == 2  # the header and A's screen
    assert ",A," in rows[1]
    assert "harbour-screen" in rows[1]
    assert "safety_concern" not in copy["flags.csv"]
    assert "contraindicated" not in copy["record.json"]
    assert "safety_concern = Safety concern" not in copy["README.txt"]


def test_the_joint_record_for_the_practice_holds_the_screen_and_the_flag(outputs):
    copy = outputs["joint copy"]
    assert "safety_concern" in copy["flags.csv"]
    assert len(copy["safety_screens.csv"].splitlines()) == 2
    assert SCREEN_NAME in copy["README.txt"]


def test_the_consultation_group_sees_no_trace_of_it(outputs):
    world = outputs["world"]
    for key in ("shared case", "group page", "groups"):
        response = outputs[key]
        assert response.status_code == 200, key
        text = response.content.decode()
        for word in (*TELLTALES, "Safety concern"):
            assert word not in text, (key, word)
    for word in (*TELLTALES, "Safety concern"):
        assert word not in outputs["shared pdf"], word
    # Its flags, as the group sees them, are the flags without the concern: no count tells.
    shown = outputs["shared case"].context["case"].flags
    others = Flag.objects.open().filter(couple=world.couple).exclude(kind="safety_concern")
    assert len(shown) == others.count()


def test_the_digest_says_one_safety_concern_and_the_case_code_only(outputs):
    world = outputs["world"]
    code = world.couple.case_code
    today = [m for m in outputs["mail"] if "1 safety concern" in m.body]
    assert {m.to[0] for m in today} == {world.owner.email, world.supervisor.email}
    for message in outputs["mail"]:
        body = f"{message.subject}\n{message.body}"
        assert body.lower().count("safety") == (1 if message in today else 0)
        for word in (CANARY, GUIDANCE[:40], "Safety concern", "Partner A", "screen"):
            assert word not in body, word
    for message in today:
        assert f"- 1 safety concern: {code}\n" in message.body
        open_flags = Flag.objects.open().filter(couple__practice=world.practice)
        counted = open_flags.exclude(kind="safety_concern").count()
        assert message.subject.startswith(f"Cycles: {counted} open flag")


def test_no_log_record_tells_of_it(outputs):
    assert outputs["records"]
    for record in outputs["records"]:
        message = record.getMessage()
        for word in (CANARY, "afety", "harbour-screen"):
            assert word not in message, (record.name, message)


def test_sharing_the_case_asks_for_confirmation():
    world = World.build()
    practice_screen(world.practice)
    owner = signed_in(world.owner)
    owner.post(
        reverse("therapy_sessions:hand_over", args=[world.couple.case_code]), {"partner": "B"}
    )
    owner.post(SCREEN, posted(forced=1))
    owner.post(reverse("partner_screen_unlock"), {"password": PASSWORD})
    url = reverse("cycles:share", args=[world.couple.case_code])
    preview = owner.get(
        reverse("cycles:share_preview", args=[world.couple.case_code]),
        {"group": world.group.pk},
    ).content.decode()
    assert "I have considered the safety concern on this case" in preview
    refused = owner.post(url, {"group": world.group.pk})
    assert refused.status_code == 200
    page = refused.content.decode()
    assert SAFETY_CONFIRM_MISSING in page
    assert 'aria-invalid="true"' in page
    assert not CaseShare.objects.filter(couple=world.couple).exists()
    shared = owner.post(url, {"group": world.group.pk, "safety_considered": "1"})
    assert shared.url == world.couple.get_absolute_url()
    assert CaseShare.objects.filter(couple=world.couple).count() == 1


def test_a_case_with_only_negative_screens_shares_as_before():
    world = World.build()
    practice_screen(world.practice)
    owner = signed_in(world.owner)
    owner.post(
        reverse("therapy_sessions:hand_over", args=[world.couple.case_code]), {"partner": "A"}
    )
    owner.post(SCREEN, posted())
    owner.post(reverse("partner_screen_unlock"), {"password": PASSWORD})
    response = owner.post(
        reverse("cycles:share", args=[world.couple.case_code]), {"group": world.group.pk}
    )
    assert response.status_code == 302
    assert CaseShare.objects.filter(couple=world.couple).exists()
