"""Partners' addresses are ciphertext under the private notes' keys, and rotate with them."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from invitations import services
from invitations.models import PartnerContact
from tests.factories import World

pytestmark = pytest.mark.django_db

ADDRESS = "canary-partner@example.invalid"


def stored() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT email FROM invitations_partnercontact")
        return str(cursor.fetchone()[0])


def test_rotating_the_keys_re_encrypts_the_addresses(settings: Any) -> None:
    world = World.build()
    services.contact_set(couple=world.couple, partner="A", email=ADDRESS)
    before = stored()
    assert before.startswith("fernet:")
    assert ADDRESS not in before

    settings.PRIVATE_NOTE_KEYS = [Fernet.generate_key().decode(), *settings.PRIVATE_NOTE_KEYS]
    out = StringIO()
    call_command("rotate_contact_keys", stdout=out)
    assert "1 re-encrypted under the newest key, 0 already under it" in out.getvalue()
    assert stored() != before
    assert ADDRESS not in out.getvalue()

    settings.PRIVATE_NOTE_KEYS = settings.PRIVATE_NOTE_KEYS[:1]  # the old key dropped
    assert PartnerContact.objects.get(couple=world.couple).email == ADDRESS
    again = StringIO()
    call_command("rotate_contact_keys", stdout=again)
    assert "0 re-encrypted under the newest key, 1 already under it" in again.getvalue()
