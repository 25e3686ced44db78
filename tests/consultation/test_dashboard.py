"""The group dashboard counts cases, and shows any count of one to four as "fewer than 5".

Three groups of one practice: one with four shared couples, one with five, one with none. The
four-case group's one pattern, rupture type and strategy each cover four couples (one couple has
two ruptures, so counting ruptures instead of cases would show 5); the five-case group's cover
five. A withdrawn share, a withdrawn rupture and a strategy on an unresolved rupture are
counted nowhere. Then the dashboard and the shared case page are measured at 1 and 30 shared
cases (the case with 30 sessions, each with a rupture) and must run the same number of queries.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from consultation.groups import dashboard, suppress
from cycles.models import CaseShare, CyclePattern, EmotionKind, StepKind
from cycles.services import StepDraft, cycle_map_save
from people.models import ConsultationGroup, GroupMembership
from ruptures.codes import ResolutionStrategy, RuptureStatus, RuptureType
from ruptures.services import rupture_repair, rupture_withdraw
from sessions.models import AllianceRating
from tests.factories import (
    make_couple,
    make_emotion,
    make_practice,
    make_rupture,
    make_session,
    make_user,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.test import Client

    from cycles.models import Couple
    from people.models import User

pytestmark = pytest.mark.django_db

FEWER = "fewer than 5"
PATTERN = {p.value: p.label for p in CyclePattern}
TYPE = {t.value: t.label for t in RuptureType}
CLARIFIES = ResolutionStrategy.CLARIFIES_MISUNDERSTANDING
RATIONALE = ResolutionStrategy.GIVES_RATIONALE
INVITES = ResolutionStrategy.INVITES_DISCUSSION


@dataclass
class Scene:
    member: User
    four: ConsultationGroup
    five: ConsultationGroup
    empty: ConsultationGroup
    five_shares: list[CaseShare]


def resolved_rupture(couple: Couple, kind: str, strategy: ResolutionStrategy) -> None:
    seen = make_session(couple, days_ago=14)
    later = make_session(couple, days_ago=7)
    rupture = make_rupture(seen, rupture_type=kind)
    rupture_repair(
        rupture=rupture, repaired_in=later, status=RuptureStatus.RESOLVED, strategies=strategy
    )


def share(couple: Couple, group: ConsultationGroup) -> CaseShare:
    return CaseShare.objects.create(couple=couple, group=group, shared_by=couple.therapist)


@pytest.fixture(scope="module")
def scene(django_db_setup: None, django_db_blocker: Any) -> Iterator[Scene]:
    with django_db_blocker.unblock(), transaction.atomic():
        practice = make_practice()
        therapist = make_user(practice, "Sharing Therapist", therapist=True)
        member = make_user(practice, "Reading Member", therapist=True)
        groups = {
            name: ConsultationGroup.objects.create(practice=practice, name=name)
            for name in ("Four cases", "Five cases", "No cases")
        }
        for group in groups.values():
            for person in (therapist, member):
                GroupMembership.objects.create(group=group, user=person)

        four = [make_couple(therapist, cycle_pattern=CyclePattern.PURSUE_PURSUE) for _ in range(4)]
        for couple in four:
            resolved_rupture(couple, RuptureType.WITHDRAWAL, CLARIFIES)
            share(couple, groups["Four cases"])
        resolved_rupture(four[0], RuptureType.WITHDRAWAL, CLARIFIES)  # a fifth rupture, 4 cases

        five = [
            make_couple(therapist, cycle_pattern=CyclePattern.WITHDRAW_WITHDRAW) for _ in range(5)
        ]
        five_shares = []
        for couple in five:
            resolved_rupture(couple, RuptureType.CONFRONTATION, RATIONALE)
            five_shares.append(share(couple, groups["Five cases"]))
        mistaken = make_rupture(make_session(five[0], days_ago=3))
        rupture_withdraw(rupture=mistaken, by=therapist, reason="Logged on the wrong couple.")
        make_rupture(  # a strategy tried on a rupture not resolved
            make_session(five[1], days_ago=3),
            rupture_type=RuptureType.CONFRONTATION,
            strategies=INVITES,
        )

        # Shared once and withdrawn: counted nowhere, and never in the group's cases.
        withdrawn = make_couple(therapist, cycle_pattern=CyclePattern.PURSUE_WITHDRAW)
        resolved_rupture(withdrawn, RuptureType.WITHDRAWAL, INVITES)
        gone = share(withdrawn, groups["Five cases"])
        gone.withdrawn_at = timezone.now()
        gone.save()

        yield Scene(
            member=member,
            four=groups["Four cases"],
            five=groups["Five cases"],
            empty=groups["No cases"],
            five_shares=five_shares,
        )
        transaction.set_rollback(True)


def shown(client: Client, member: User, group: ConsultationGroup) -> dict[str, str]:
    """The dashboard as a group member reads it: each cell's label and what it shows, and
    the total under "cases"."""
    client.force_login(member)
    response = client.get(reverse("consultation:group", args=[group.pk]))
    assert response.status_code == 200
    text = response.content.decode()
    total = re.search(r"Across the shared cases <span[^>]*>\((.+?) cases?\)</span>", text)
    assert total is not None
    cells = re.findall(r"<tr><td>([^<]*)</td><td>([^<]*)</td></tr>", text)
    return {"cases": total.group(1)} | {html.unescape(k): html.unescape(v) for k, v in cells}


def expected(
    cases: str,
    patterns: dict[str, str] | None = None,
    types: dict[str, str] | None = None,
    strategies: dict[ResolutionStrategy, str] | None = None,
) -> dict[str, str]:
    """Every cell at 0 except those given."""
    cells = {"cases": cases}
    cells |= {label: (patterns or {}).get(value, "0") for value, label in PATTERN.items()}
    cells |= {label: (types or {}).get(value, "0") for value, label in TYPE.items()}
    cells |= {s.label: (strategies or {}).get(s, "0") for s in ResolutionStrategy}
    return cells


@pytest.mark.parametrize(
    ("count", "shown_as"), [(0, "0"), (1, FEWER), (4, FEWER), (5, "5"), (30, "30")]
)
def test_counts_of_one_to_four_are_suppressed(count: int, shown_as: str) -> None:
    assert suppress(count) == shown_as


def test_four_cases_show_as_fewer_than_5_in_every_cell_and_the_total(
    client: Client, scene: Scene
) -> None:
    assert shown(client, scene.member, scene.four) == expected(
        FEWER,
        patterns={CyclePattern.PURSUE_PURSUE: FEWER},
        types={RuptureType.WITHDRAWAL: FEWER},
        strategies={CLARIFIES: FEWER},
    )


def test_five_cases_show_as_5_in_every_cell_and_the_total(client: Client, scene: Scene) -> None:
    assert shown(client, scene.member, scene.five) == expected(
        "5",
        patterns={CyclePattern.WITHDRAW_WITHDRAW: "5"},
        types={RuptureType.CONFRONTATION: "5"},
        strategies={RATIONALE: "5"},
    )


def test_a_group_without_cases_shows_0_everywhere(client: Client, scene: Scene) -> None:
    assert shown(client, scene.member, scene.empty) == expected("0")


def test_withdrawing_one_of_five_shares_suppresses_the_cells_at_once(
    client: Client, scene: Scene
) -> None:
    scene.five_shares[0].withdrawn_at = timezone.now()
    scene.five_shares[0].save()
    assert shown(client, scene.member, scene.five) == expected(
        FEWER,
        patterns={CyclePattern.WITHDRAW_WITHDRAW: FEWER},
        types={RuptureType.CONFRONTATION: FEWER},
        strategies={RATIONALE: FEWER},
    )


def test_the_dashboard_function_counts_cases_not_ruptures(scene: Scene) -> None:
    board = dashboard(scene.four)
    assert board.cases == FEWER
    withdrawal = next(c for c in board.rupture_types if c.label == TYPE[RuptureType.WITHDRAWAL])
    assert withdrawal.shown == FEWER


# -- query counts --------------------------------------------------------------------------

SIZES = [1, 30]
# Whole requests by a signed-in member who has made one request before. Six queries of each
# count are the middleware's (session, user, authenticator, and the session's save in a
# savepoint); the dashboard view runs 6 (group, case list, access event, 3 for the counts) and
# the shared case 11 (group, share, then consultation.deidentify's 8, and the access event).
DASHBOARD_QUERIES = 8
CASE_QUERIES = 14  # + the treatment plan's goals (consultation.deidentify._plan)


@dataclass
class Sized:
    member: User
    group: ConsultationGroup
    share: CaseShare  # its couple has `size` sessions, each with a rupture


def sized_scene(size: int) -> Sized:
    """`size` shared couples; the first with `size` sessions, each with a rupture (every
    other one repaired in the next session), alliance ratings and a map of about `size` steps."""
    practice = make_practice()
    therapist = make_user(practice, therapist=True)
    member = make_user(practice, therapist=True)
    group = ConsultationGroup.objects.create(practice=practice, name=f"{size} cases")
    GroupMembership.objects.create(group=group, user=member)
    couples = [
        make_couple(therapist, cycle_pattern=list(PATTERN)[n % len(PATTERN)]) for n in range(size)
    ]
    for couple in couples[1:]:
        make_rupture(make_session(couple, days_ago=2))
    shares = [share(couple, group) for couple in couples]

    sessions = [make_session(couples[0], days_ago=100 - n) for n in range(size)]
    kinds = [RuptureType.WITHDRAWAL, RuptureType.CONFRONTATION]
    ruptures = [make_rupture(s, rupture_type=kinds[n % 2]) for n, s in enumerate(sessions)]
    for n in range(0, size - 1, 2):
        rupture_repair(
            rupture=ruptures[n],
            repaired_in=sessions[n + 1],
            status=RuptureStatus.RESOLVED,
            strategies=CLARIFIES,
        )
    for session in sessions:
        for label in ("A", "B"):
            AllianceRating.objects.create(
                session=session,
                partner=label,
                bond=5,
                goals=6,
                tasks=7,
                fit=8,
                entered_by="therapist",
            )
    fear = make_emotion("fear", EmotionKind.PRIMARY)
    anger = make_emotion("anger", EmotionKind.SECONDARY)
    links = max(size // 6, 1)
    chain = [
        *[StepDraft(StepKind.TRIGGER, "a cue")] * links,
        *[StepDraft(StepKind.SECONDARY_EMOTION, emotion=anger)] * links,
        *[StepDraft(StepKind.PRIMARY_EMOTION, "beside the term", fear)] * links,
        StepDraft(StepKind.ACTION, "moves", move="pursuing"),
    ]
    cycle_map_save(
        couple=couples[0], author=therapist, base_revision=0, chains={"A": chain, "B": chain}
    )
    return Sized(member=member, group=group, share=shares[0])


@pytest.fixture(scope="module")
def sized(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[int, Sized]]:
    with django_db_blocker.unblock(), transaction.atomic():
        yield {size: sized_scene(size) for size in SIZES}
        transaction.set_rollback(True)


def queries(client: Client, url: str) -> int:
    client.get(url)  # the session and user are loaded, as on any later page
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured.captured_queries)


def test_the_dashboard_runs_the_same_queries_at_1_and_30_cases(
    client: Client, sized: dict[int, Sized]
) -> None:
    counts = {}
    for size, s in sized.items():
        client.force_login(s.member)
        url = reverse("consultation:group", args=[s.group.pk])
        counts[size] = queries(client, url)
    assert counts == {1: DASHBOARD_QUERIES, 30: DASHBOARD_QUERIES}


def test_the_shared_case_runs_the_same_queries_at_1_and_30_ruptures(
    client: Client, sized: dict[int, Sized]
) -> None:
    counts = {}
    for size, s in sized.items():
        client.force_login(s.member)
        url = reverse("consultation:case", args=[s.group.pk, s.share.code])
        counts[size] = queries(client, url)
    assert counts == {1: CASE_QUERIES, 30: CASE_QUERIES}
