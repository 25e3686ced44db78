"""No client name in any URL or log line (issue 18; docs/security.md).

Every URL of the project (the access matrix's ROUTES) is requested by each role that may
read it, GET and POST, htmx too. Then:

- no link, form action, htmx address or redirect in any answer carries a partner's name;
- no log line written meanwhile carries one: every logger at DEBUG, except the SQL logger,
  which settings pin at WARNING because its parameters would carry clinical text.

The caseload search is the one place a name is typed; it is posted (tests/cycles/
test_caseload_search_privacy.py), and its answer is among those checked here.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

import pytest
from django.db import transaction
from django.urls import reverse

from cycles.models import Partner
from tests.security import HTMX, Scene, build_scene, every_log_record
from tests.security.test_access_matrix import LOGIN, NOT_ALLOWED, NOT_FOUND, ROUTES

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.http import HttpResponse

pytestmark = pytest.mark.django_db

READERS = ["owner", "supervisor", "practice_admin", "group_member"]
REFUSED = {NOT_FOUND, NOT_ALLOWED, LOGIN, "302 admin:login"}
# Attributes whose value the browser turns into a request (or puts in the address bar).
URL_ATTRIBUTE = re.compile(
    r"\b(?:href|src|action|formaction|hx-get|hx-post|hx-push-url|hx-replace-url|data-url)"
    r'\s*=\s*"([^"]*)"',
    re.IGNORECASE,
)


def log_line(record: logging.LogRecord) -> str:
    return f"{record.name} {record.getMessage()} {record.args!r}"


def names_of(scene: Scene) -> list[str]:
    """Every partner's name, and each part of it long enough not to be a word of a URL."""
    found: set[str] = set()
    for name in Partner.objects.values_list("display_name", flat=True):
        found.add(name.lower())
        found.update(part.lower() for part in name.split() if len(part) >= 5)
    return sorted(found)


def addresses(response: HttpResponse) -> list[str]:
    """What the answer tells the browser to request: redirects and URL attributes."""
    found = [response[h] for h in ("Location", "HX-Redirect", "HX-Location") if h in response]
    if "html" in response.get("Content-Type", "") and not response.streaming:
        found += URL_ATTRIBUTE.findall(response.content.decode(errors="replace"))
    return [unquote_plus(value).lower() for value in found]


def body_of(response: HttpResponse) -> str:
    return "" if response.streaming else response.content.decode(errors="replace").lower()


def walk(scene: Scene, names: list[str]) -> dict[str, Any]:
    """Each URL by each reader that may reach it, every request rolled back afterwards."""
    seen: list[tuple[str, str]] = []  # (request, address)
    requested = shown = 0
    for name, route in sorted(ROUTES.items()):
        url = reverse(name, kwargs=route.kwargs(scene))
        for role in READERS:
            for method, table in (("get", route.get), ("post", route.post)):
                if table[role] in REFUSED:
                    continue
                for headers in ({}, HTMX) if method in route.htmx else ({},):
                    with transaction.atomic():
                        client = scene.client(role)
                        if method == "get":
                            response = client.get(url, headers=headers)
                        else:
                            response = client.post(url, route.data(scene), headers=headers)
                        transaction.set_rollback(True)
                    requested += 1
                    where = f"{method.upper()} {name} as {role}"
                    seen += [(where, address) for address in addresses(response)]
                    shown += any(n in body_of(response) for n in names)
    return {"names": names, "seen": seen, "requested": requested, "shown": shown}


@pytest.fixture(scope="module")
def walked(django_db_setup: None, django_db_blocker: Any) -> Iterator[dict[str, Any]]:
    with (
        every_log_record(sql=False) as handler,
        django_db_blocker.unblock(),
        transaction.atomic(),
    ):
        scene = build_scene()
        found = walk(scene, names_of(scene))
        yield found | {"logs": [log_line(r) for r in handler.records]}
        transaction.set_rollback(True)


def test_the_walk_reached_the_record_and_its_names(walked: dict[str, Any]) -> None:
    """The walk did read pages full of links, the names are on many of them (so they are
    there to leak), and the log has lines to look in."""
    assert walked["requested"] > 200
    assert walked["shown"] >= 10
    assert len(walked["seen"]) > 2000
    assert walked["names"]
    assert walked["logs"], "the walk wrote log lines (audit, access), so the check has input"


def test_no_link_form_or_redirect_carries_a_partners_name(walked: dict[str, Any]) -> None:
    leaks = [
        (where, address)
        for where, address in walked["seen"]
        for name in walked["names"]
        if name in address
    ]
    assert not leaks, leaks[:10]


def test_no_log_line_carries_a_partners_name(walked: dict[str, Any]) -> None:
    leaks = [line for line in walked["logs"] for name in walked["names"] if name in line.lower()]
    assert not leaks, leaks[:10]
