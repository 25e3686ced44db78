"""Deny by default (checklist item 4): an anonymous visitor who asks for any URL of the project,
by GET or POST, is sent to the login page with `next=` leading back, except for the few
pages that must answer without a sign-in (PUBLIC, each with its reason).

Arguments are filled with made-up values: nothing may be looked up before the sign-in check.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.urls import resolve, reverse

from tests.security import url_patterns

pytestmark = pytest.mark.django_db

# name -> (GET status, POST status, why it is open)
PUBLIC: dict[str, tuple[int, int, str]] = {
    "account_login": (200, 200, "the sign-in itself (a POST with nothing in it shows errors)"),
    "health": (200, 405, "the load balancer's check: says only whether the database answers"),
    "account_inactive": (
        200,
        405,
        "where allauth sends the sign-in of a deactivated account (not signed in by then); "
        "static text, nothing of any record",
    ),
    "people:password_reset": (
        200,
        200,
        "the page a password-reset link opens (people.offboarding): only a good, unused, "
        "unexpired token shows the form; anything else says the link is dead, nothing else",
    ),
    "invitations:answer": (
        200,
        200,
        "a partner's private remote answer link (invitations): only a sent, unused, unexpired "
        "token of an open case shows that partner's questions; anything else says the link "
        "no longer works, nothing else",
    ),
}
# Sent to login by allauth itself, before the middleware: nothing to come back to afterwards.
WITHOUT_NEXT = {
    "account_logout": "signing out when not signed in",
    "mfa_authenticate": "the authenticator stage with no password check pending",
}
# Not public though it might look it: the authenticator stage of a sign-in answers only while
# a password check is pending in the session; on its own it is sent to the login page too.
SIGN_IN_STAGE = "mfa_authenticate"

FILLERS = {"int": "7", "str": "ZZ-0000", "path": "7", "slug": "x", "uuid": "0" * 32}


def concrete(route: str) -> str:
    """The route with each `<converter:name>` (and a regex admin route) filled in."""
    path = re.sub(r"<(?:(\w+):)?\w+>", lambda m: FILLERS.get(m.group(1) or "str", "x"), route)
    path = path.replace("^", "").replace("$", "")
    path = re.sub(r"\((?:\?P<\w+>)?[^)]*\)", "people", path)  # the admin's regex routes
    return "/" + path


WALK = sorted(url_patterns())


def login_target(client: Client, response, hops: int = 3) -> tuple[str, str]:
    """Follow redirects (the admin's own login hands over to ours) to the login page: its
    URL name and the `next` it carries."""
    for _ in range(hops):
        assert response.status_code in (301, 302), response.status_code
        location = urlsplit(response["Location"])
        next_url = parse_qs(location.query).get("next", [""])[0]
        name = resolve(location.path).view_name
        if name == "account_login":
            return name, next_url
        response = client.get(response["Location"])
    raise AssertionError(f"no login page after {hops} redirects")


def test_the_walk_covers_every_pattern() -> None:
    assert len(WALK) == len({name for name, _ in WALK})
    assert {"cycles:detail", "ruptures:add", "admin:index", "health"} <= {n for n, _ in WALK}


@pytest.mark.parametrize(("name", "route"), WALK, ids=[name for name, _ in WALK])
@pytest.mark.parametrize("method", ["get", "post"])
def test_anonymous_visitors_are_sent_to_login(name: str, route: str, method: str) -> None:
    client = Client()
    path = concrete(route)
    response = getattr(client, method)(path)
    if name in PUBLIC:
        get_status, post_status, _why = PUBLIC[name]
        assert response.status_code == (get_status if method == "get" else post_status)
        return
    where, next_url = login_target(client, response)
    assert where == "account_login", name
    if name.startswith("admin:"):
        assert next_url.startswith("/admin/"), (name, next_url)
    elif name in WITHOUT_NEXT:
        assert next_url == "", (name, next_url)
    else:
        assert next_url == path, (name, next_url)


def test_the_authenticator_stage_alone_is_not_a_way_in() -> None:
    response = Client().get(reverse(SIGN_IN_STAGE))
    assert login_target(Client(), response)[0] == "account_login"


def test_the_login_page_itself_answers_anonymously() -> None:
    response = Client().get(reverse("account_login"))
    assert response.status_code == 200
    assert b'name="password"' in response.content
