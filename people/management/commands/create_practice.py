"""`manage.py create_practice`: a new practice and its first practice admin, for production.

A deployment starts empty. This makes the practice (the tenant) and one practice admin, who
signs in with the printed one-time password, is sent to enrol an authenticator (every account
needs one), changes the password, and then adds the colleagues in the admin. No shell session
and no `createsuperuser`: the first admin reads no clinical content and can't reach another
practice.

Safe to repeat: when the practice and its admin exist it changes nothing and says so (the
password is never printed again); it refuses a username that belongs to someone else.
"""

from __future__ import annotations

import secrets
import sys
import zoneinfo
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.validators import validate_email
from django.db import transaction

from people.models import Practice, User


class Command(BaseCommand):
    help = "Create a practice and its first practice admin (does nothing if both exist)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--practice", required=True, help="The practice's name.")
        parser.add_argument(
            "--time-zone",
            default="Europe/London",
            help="The practice's IANA time zone, e.g. Europe/Dublin (default Europe/London).",
        )
        parser.add_argument("--admin-username", required=True)
        parser.add_argument("--admin-email", required=True)
        parser.add_argument("--admin-name", default="", help="How the admin is shown.")
        parser.add_argument(
            "--password-from-stdin",
            action="store_true",
            help="Read the admin's first password from standard input; without it a strong "
            "one-time password is made and printed once.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["practice"].strip()
        username = options["admin_username"].strip()
        email = options["admin_email"].strip()
        check_arguments(name=name, username=username, email=email, zone=options["time_zone"])
        existing = User.objects.filter(username=username).select_related("practice").first()
        practice = Practice.objects.filter(name=name).order_by("pk").first()
        if existing is not None:
            self.report_existing(existing, practice)
            return
        if practice is not None:
            refuse_second_first_admin(practice)
        password = self.first_password(read_stdin=options["password_from_stdin"])
        with transaction.atomic():
            if practice is None:
                practice = Practice.objects.create(name=name, time_zone=options["time_zone"])
                self.stdout.write(f"Created the practice {name!r} ({practice.time_zone}).")
            User.objects.create_user(
                username=username,
                email=email,
                password=password,
                practice=practice,
                display_name=options["admin_name"].strip(),
                is_practice_admin=True,
                is_staff=True,  # the admin site is where people and settings are managed
            )
        self.stdout.write(self.style.SUCCESS(f"Created the practice admin {username!r}."))
        if not options["password_from_stdin"]:
            self.stdout.write(f"One-time password (shown only now): {password}")
        self.stdout.write(
            "They sign in, enrol an authenticator app, then change this password under "
            "Account; colleagues are added in the admin (/admin/)."
        )

    def report_existing(self, existing: User, practice: Practice | None) -> None:
        if practice is None or existing.practice_id != practice.pk:
            raise CommandError(
                f"The username {existing.username!r} already belongs to someone outside this "
                "practice: choose another."
            )
        if not existing.is_practice_admin:
            raise CommandError(
                f"{existing.username!r} is in {practice.name!r} but is not a practice admin: "
                "a practice admin can give the role in the admin."
            )
        self.stdout.write(
            f"The practice {practice.name!r} and its admin {existing.username!r} exist; "
            "nothing changed."
        )

    def first_password(self, *, read_stdin: bool) -> str:
        if not read_stdin:
            return secrets.token_urlsafe(18)
        password = self.stdin_line()
        try:
            validate_password(password)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        return password

    def stdin_line(self) -> str:
        return sys.stdin.readline().rstrip("\n")


def check_arguments(*, name: str, username: str, email: str, zone: str) -> None:
    if not name or not username:
        raise CommandError("--practice and --admin-username can't be blank.")
    try:
        validate_email(email)
    except ValidationError:
        raise CommandError(f"{email!r} is not an e-mail address.") from None
    if zone not in zoneinfo.available_timezones():
        raise CommandError(f"{zone!r} is not a time zone name (e.g. Europe/London).")


def refuse_second_first_admin(practice: Practice) -> None:
    admins = User.objects.filter(practice=practice, is_practice_admin=True)
    if first := admins.order_by("pk").values_list("username", flat=True).first():
        raise CommandError(
            f"The practice {practice.name!r} already has a practice admin ({first!r}): they add "
            "colleagues in the admin."
        )
