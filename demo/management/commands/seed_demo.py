"""`manage.py seed_demo`: a fictional practice to click through, made once.

The record is built by `demo.build_demo` in one transaction; when the demo practice
already exists the command changes nothing and only prints the logins again, so running it
twice (or on every deploy of a demo server) is safe. Clinical content is never printed.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.practice import (
    DEMO_LOGINS,
    DEMO_PASSWORD,
    DEMO_PRACTICE_NAME,
    DEMO_TOTP_SECRET,
    build_demo,
    demo_exists,
    missing_emotion_terms,
    missing_measures,
    taken_usernames,
)


class Command(BaseCommand):
    help = "Create a fictional demo practice with invented couples (does nothing if it exists)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            # Its logins, password and authenticator secret are published in the README.
            raise CommandError(
                "seed_demo is for the local demo only (DJANGO_DEBUG=true): its logins are "
                "public. A production practice starts with manage.py create_practice."
            )
        if demo_exists():
            self.stdout.write(f"The demo practice {DEMO_PRACTICE_NAME!r} exists; nothing changed.")
        else:
            self.check_can_seed()
            started = time.monotonic()
            summary = build_demo()
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created the demo practice {DEMO_PRACTICE_NAME!r}: {summary.couples} "
                    f"couples, {summary.sessions} sessions, {summary.ruptures} ruptures, "
                    f"{summary.cycle_maps} cycle map revisions, {summary.alliance_ratings} "
                    f"alliance ratings, {summary.reports} post-session reports and "
                    f"{summary.questionnaires} questionnaires in "
                    f"{time.monotonic() - started:.1f} s."
                )
            )
        self.write_logins()

    def check_can_seed(self) -> None:
        taken = taken_usernames()
        if taken:
            raise CommandError(
                f"These demo usernames already belong to someone outside the demo practice: "
                f"{', '.join(taken)}. Rename or remove them, then run seed_demo again."
            )
        if missing := missing_emotion_terms():
            raise CommandError(
                f"The shared emotion vocabulary lacks {', '.join(missing)}: run migrate first."
            )
        if missing := missing_measures():
            raise CommandError(f"The shared measures lack {', '.join(missing)}: run migrate first.")

    def write_logins(self) -> None:
        rows = [("username", "password", "role")]
        rows += [(login.username, DEMO_PASSWORD, login.role) for login in DEMO_LOGINS]
        user_width = max(len(username) for username, _, _ in rows)
        password_width = max(len(password) for _, password, _ in rows)
        self.stdout.write("\nDemo logins:")
        for username, password, role in rows:
            self.stdout.write(f"  {username:<{user_width}}  {password:<{password_width}}  {role}")
        self.stdout.write(
            "\nEvery account asks for an authenticator code after the password. For the demo,"
            "\nget it with:  DJANGO_DEBUG=true .venv/bin/python manage.py demo_code"
            f"\n(or add the secret {DEMO_TOTP_SECRET} to any authenticator app)."
        )
