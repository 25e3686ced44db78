"""`manage.py create_practice`: a production deployment's first practice and practice admin."""

from __future__ import annotations

import io
import re
import sys
from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse

from people.models import Practice, User
from tests.factories import make_practice, make_user

pytestmark = pytest.mark.django_db

ARGS = (
    "--practice=Harbour Couples Clinic",
    "--time-zone=Europe/Dublin",
    "--admin-username=ines.admin",
    "--admin-email=ines@harbour.invalid",
    "--admin-name=Ines (admin)",
)


@pytest.fixture(autouse=True)
def empty_throttle() -> None:
    cache.clear()  # allauth's sign-in counters live in the cache


def create_practice(*args: str, stdin: str | None = None) -> str:
    out = StringIO()
    if stdin is None:
        call_command("create_practice", *args, stdout=out)
        return out.getvalue()
    saved, sys.stdin = sys.stdin, io.StringIO(stdin)
    try:
        call_command("create_practice", *args, stdout=out)
    finally:
        sys.stdin = saved
    return out.getvalue()


def printed_password(output: str) -> str:
    found = re.search(r"One-time password \(shown only now\): (\S+)", output)
    assert found, output
    return found.group(1)


def test_creates_the_practice_and_an_admin_who_must_enrol_an_authenticator() -> None:
    output = create_practice(*ARGS)
    practice = Practice.objects.get(name="Harbour Couples Clinic")
    assert practice.time_zone == "Europe/Dublin"
    admin = User.objects.get(username="ines.admin")
    assert admin.practice == practice
    assert admin.email == "ines@harbour.invalid"
    assert admin.roles == ["practice admin"]
    assert admin.is_staff
    assert not admin.is_superuser

    client = Client()
    response = client.post(
        reverse("account_login"), {"login": "ines.admin", "password": printed_password(output)}
    )
    assert response.status_code == 302
    assert client.get(reverse("home"))["Location"] == reverse("mfa_activate_totp")


def test_running_it_again_changes_nothing_and_prints_no_password() -> None:
    create_practice(*ARGS)
    admin_before = User.objects.values().get(username="ines.admin")
    output = create_practice(*ARGS)
    assert "nothing changed" in output
    assert "password" not in output.lower()
    assert Practice.objects.filter(name="Harbour Couples Clinic").count() == 1
    assert User.objects.values().get(username="ines.admin") == admin_before


def test_a_password_given_on_standard_input_is_checked_and_never_printed() -> None:
    with pytest.raises(CommandError, match="too short"):
        create_practice(*ARGS, "--password-from-stdin", stdin="short\n")
    assert not Practice.objects.filter(name="Harbour Couples Clinic").exists()

    output = create_practice(*ARGS, "--password-from-stdin", stdin="a-long-harbour-pass-2026\n")
    assert "a-long-harbour-pass-2026" not in output
    assert User.objects.get(username="ines.admin").check_password("a-long-harbour-pass-2026")


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("--admin-email=not-an-address", "not an e-mail address"),
        ("--time-zone=Mars/Olympus", "not a time zone"),
        ("--practice=  ", "can't be blank"),
    ],
)
def test_bad_arguments_are_refused_with_a_message_and_write_nothing(
    override: str, message: str
) -> None:
    name = override.split("=")[0]
    args = [arg for arg in ARGS if not arg.startswith(name)] + [override]
    with pytest.raises(CommandError, match=message):
        create_practice(*args)
    assert not User.objects.filter(username="ines.admin").exists()
    assert not Practice.objects.exists()


def test_a_username_of_someone_in_another_practice_is_refused() -> None:
    User.objects.filter(pk=make_user(make_practice(), "Ines Elsewhere").pk).update(
        username="ines.admin"
    )
    with pytest.raises(CommandError, match="belongs to someone outside"):
        create_practice(*ARGS)
    assert not Practice.objects.filter(name="Harbour Couples Clinic").exists()


def test_a_practice_that_has_its_admin_gets_no_second_first_admin() -> None:
    create_practice(*ARGS)
    others = [arg for arg in ARGS if not arg.startswith("--admin-username")]
    with pytest.raises(CommandError, match="already has a practice admin"):
        create_practice(*others, "--admin-username=second.admin")
    assert not User.objects.filter(username="second.admin").exists()
