"""Cross-cutting security tests (STACK.md's checklist): the access matrix, the anonymous walk,
mass assignment, CSRF, fuzzed forms, the private-note canary, sign-in limits and headers.

The helpers here are shared by those files: every URL pattern of the project, a scene with
one of everything (share and flag included), and a fingerprint of the clinical tables to show
that a refused request changed nothing.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404
from django.utils import timezone

from cycles.models import CaseShare
from ruptures.codes import ResolutionStage, RuptureStatus
from ruptures.models import Flag, FlagKind, Rupture
from ruptures.services import rupture_repair
from tests.factories import World, make_rupture, make_session

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.http import HttpResponse

    from people.models import User
    from sessions.models import TherapySession


class Collect(logging.Handler):
    """Every record logged while it is attached (`every_log_record`)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def every_log_record(*, sql: bool = True) -> Iterator[Collect]:
    """Every logger at DEBUG (SQL's too unless `sql=False`: settings pin it at WARNING, as
    its parameters would carry clinical text), each record collected; levels restored after."""
    handler = Collect()
    loggers = [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]
    levels = {lg.name: lg.level for lg in loggers}
    for lg in loggers:
        if sql or not lg.name.startswith("django.db.backends"):
            lg.setLevel(logging.DEBUG)
    logging.getLogger().addHandler(handler)
    logging.getLogger("celery").addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger("celery").removeHandler(handler)
        for lg in loggers:
            lg.setLevel(levels[lg.name])


ROLES = [
    "owner",
    "colleague",
    "outsider",
    "supervisor",
    "other_supervisor",
    "group_member",
    "practice_admin",
    "anonymous",
]
HTMX = {"HX-Request": "true"}


def url_patterns(
    resolver: URLResolver | None = None, namespace: str = "", prefix: str = ""
) -> Iterator[tuple[str, str]]:
    """(name, route) of every pattern of the project, namespaces joined ("cycles:detail").

    A pattern without a name (the admin's catch-all redirects) is named by its route.
    """
    resolver = resolver or get_resolver()
    for pattern in resolver.url_patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            inner = namespace
            if pattern.namespace:
                inner = f"{namespace}:{pattern.namespace}" if namespace else pattern.namespace
            yield from url_patterns(pattern, inner, route)
        elif isinstance(pattern, URLPattern):
            name = pattern.name or f"<unnamed {route}>"
            yield (f"{namespace}:{name}" if namespace else name), route


def outcome(response: HttpResponse) -> str:
    """The status, and for a redirect the URL name it leads to: "302 account_login"."""
    status = response.status_code
    if status in (301, 302, 303, 307, 308):
        path = urlsplit(response["Location"]).path
        try:
            match = resolve(path)
        except Resolver404:
            return f"{status} {path}"
        return f"{status} {match.view_name}"
    if "HX-Redirect" in response:
        return f"{status} hx-redirect"
    return str(status)


@dataclass
class Scene:
    """World.build(), plus a later session (where repairs happen), a share of the owner's
    couple into the group, and an open flag on it as the nightly run writes it."""

    world: World
    later: TherapySession
    mender: TherapySession  # after `later`: where `repaired` was repaired
    repaired: Rupture  # a rupture of `later`, repaired in `mender`
    share: CaseShare
    flag: Flag
    sessions: dict[str, str]  # role -> session key of a complete sign-in

    def person(self, role: str) -> User:
        return getattr(self.world, role)

    def client(self, role: str, **kwargs: Any) -> Client:
        """A client signed in as `role` (anonymous: not signed in), sharing the role's
        server-side session; a fresh client per request, so a logout or a partner-screen
        lock in one request doesn't follow the next."""
        client = Client(**kwargs)
        if role != "anonymous":
            client.cookies[settings.SESSION_COOKIE_NAME] = self.sessions[role]
        return client


def build_scene() -> Scene:
    world = World.build()
    later = make_session(world.couple, days_ago=3)
    afternoon = datetime.time(15, 0)  # clear of the 09:00 sessions the form tests log
    mender = make_session(
        world.couple,
        starts_at=timezone.make_aware(
            datetime.datetime.combine(timezone.localdate() - datetime.timedelta(days=2), afternoon)
        ),
    )
    repaired = rupture_repair(
        rupture=make_rupture(later, minute=40),
        repaired_in=mender,
        status=RuptureStatus.RESOLVED,
        resolution_stage=ResolutionStage.EXPLORED,
    )
    share = CaseShare.objects.create(couple=world.couple, group=world.group, shared_by=world.owner)
    flag = Flag.objects.create(
        couple=world.couple,
        kind=FlagKind.UNRESOLVED_RUPTURE,
        key=f"rupture:{world.rupture.pk}",
        opened_on=timezone.localdate() - datetime.timedelta(days=1),
        detail="Coded detail only.",
    )
    sessions = {}
    for role in ROLES[:-1]:
        client = Client()
        client.force_login(getattr(world, role))
        sessions[role] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return Scene(
        world=world,
        later=later,
        mender=mender,
        repaired=repaired,
        share=share,
        flag=flag,
        sessions=sessions,
    )


def fingerprint() -> str:
    """A digest of every row of the tables a request could change (the access trail and the
    sessions aside): equal before and after means nothing changed."""
    from allauth.mfa.models import Authenticator

    from cycles.models import (
        CaseEvent,
        Couple,
        CycleMap,
        CycleStep,
        DestructionRequest,
        Partner,
        RetentionPolicy,
    )
    from people.models import ConsultationGroup, GroupMembership, Practice, Supervision, User
    from plans.models import PlanGoal, PlanRevision
    from ruptures.models import (
        FlagAcknowledgement,
        NightlyRun,
        Rupture,
        RuptureRepair,
        RuptureSummary,
    )
    from sessions.models import (
        AllianceRating,
        Amendment,
        MeasureResponse,
        PostSessionReport,
        PrivateNote,
        SignOffEvent,
        TherapySession,
    )
    from supervision.models import HoursRules, MeetingAttendance, SupervisionMeeting

    models = [
        Practice,
        User,
        Supervision,
        ConsultationGroup,
        GroupMembership,
        Authenticator,
        Couple,
        Partner,
        CycleMap,
        CycleStep,
        CaseShare,
        CaseEvent,
        RetentionPolicy,
        DestructionRequest,
        TherapySession,
        PrivateNote,
        AllianceRating,
        PostSessionReport,
        MeasureResponse,
        Rupture,
        RuptureRepair,
        RuptureSummary,
        Flag,
        FlagAcknowledgement,
        NightlyRun,
        SignOffEvent,
        Amendment,
        PlanRevision,
        PlanGoal,
        SupervisionMeeting,
        MeetingAttendance,
        HoursRules,
    ]
    digest = hashlib.sha256()
    for model in models:
        for row in model.objects.order_by("pk").values_list():
            digest.update(repr((model.__name__, row)).encode())
    return digest.hexdigest()


def signed_in_user_id(client: Client) -> str | None:
    return client.session.get(SESSION_KEY)
