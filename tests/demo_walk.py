"""Walk the seeded demo as each demo login and report every page that fails.

Run in its own process against the SQLite demo database that `make demo-db` builds (the
test suite itself runs on PostgreSQL, so what only SQLite refuses would otherwise reach a
newcomer first):

    DJANGO_DEBUG=true SQLITE_PATH=var/db.sqlite3 DATABASE_URL= REDIS_URL= \\
        .venv/bin/python -m tests.demo_walk

Each login signs in through the real forms (password, then the authenticator code), then
follows every same-site link from the home page, breadth first, GET only, visiting at most
`PER_PATTERN` pages of one shape (ids and case codes count as one) and `PER_LOGIN` pages in
all. Prints one JSON object: per login, the pages visited and those answered with 5xx.
tests/test_first_command.py runs it.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from collections import Counter, deque
from typing import Any

PER_PATTERN = 3
PER_LOGIN = 250
# Signing out would end the walk; the trail's exports and the PDF only redirect to a
# recent-sign-in check, which is fine to visit.
SKIP = re.compile(r"^/(accounts/logout|static/|media/)")
LINK = re.compile(r'href="([/?][^"#]*)')


def shape(path: str) -> str:
    """The page's kind: ids and case codes as placeholders, the query's parameter names."""
    where, _, query = path.partition("?")
    where = re.sub(r"\d+", "#", re.sub(r"C-[A-Z0-9]{6}", "C-*", where))
    names = sorted({pair.split("=")[0] for pair in query.split("&") if pair})
    return where + "?" + "&".join(names)


def links(page: str, html: str) -> list[str]:
    """Same-site links, a bare query ("?sort=x") taken as relative to the page."""
    base = page.split("?")[0]
    found = [href.replace("&amp;", "&") for href in LINK.findall(html)]
    return [base + href if href.startswith("?") else href for href in found]


def sign_in(client: Any, username: str) -> None:
    from demo.practice import DEMO_PASSWORD, DEMO_TOTP_SECRET
    from people.totp import current_code

    response = client.post("/accounts/login/", {"login": username, "password": DEMO_PASSWORD})
    if "/2fa/" in response.get("Location", ""):
        client.post(response["Location"], {"code": current_code(DEMO_TOTP_SECRET, unexpiring())})


def unexpiring() -> float:
    """Now, or the start of the next code's period when this one ends within 3 s: allauth
    allows no drift, so a code read at 29.9 s of its period can be refused on arrival."""
    from people.totp import PERIOD_SECONDS

    now = time.time()
    left = PERIOD_SECONDS - now % PERIOD_SECONDS
    if left <= 3:
        time.sleep(left + 0.05)
        now = time.time()
    return now


def walk(username: str) -> dict[str, Any]:
    from django.test import Client

    client = Client(raise_request_exception=False)
    sign_in(client, username)
    queue: deque[str] = deque(["/"])
    seen: set[str] = set()
    shapes: Counter[str] = Counter()
    failures: list[tuple[str, int]] = []
    while queue and len(seen) < PER_LOGIN:
        path = queue.popleft()
        if path in seen or SKIP.match(path) or shapes[shape(path)] >= PER_PATTERN:
            continue
        seen.add(path)
        shapes[shape(path)] += 1
        response = client.get(path)
        if response.status_code >= 500:
            failures.append((path, response.status_code))
        if response.status_code in (301, 302):
            queue.append(response["Location"])
        elif "html" in response.get("Content-Type", ""):
            queue.extend(links(path, response.content.decode("utf-8", "replace")))
    return {"visited": len(seen), "failures": failures}


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.test.utils import setup_test_environment

    from demo.practice import DEMO_LOGINS

    setup_test_environment()  # the test client's host, and mail kept in memory
    report = {login.username: walk(login.username) for login in DEMO_LOGINS}
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
