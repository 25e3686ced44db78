"""`manage.py rotate_contact_keys`: re-encrypt every partner's address under the newest key.

The addresses (invitations.PartnerContact.email) are encrypted with the private notes' keys
(PRIVATE_NOTE_KEYS), so rotating those keys is `rotate_note_keys` and then this, before the
old key is dropped (sessions/management/commands/rotate_note_keys.py has the steps). Rows
already under the newest key are skipped: safe to run again. Prints counts, never an address.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import TextField, Value
from django.db.models.functions import Cast

from invitations.models import PartnerContact
from sessions.encryption import PREFIX, UndecryptableNote, encrypt, is_under_newest_key, rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every partner's e-mail address under the newest key in PRIVATE_NOTE_KEYS. "
        "Prints counts only."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = current = 0
        undecryptable: list[int] = []
        with transaction.atomic():
            rows = list(
                PartnerContact.objects.select_for_update()
                .annotate(stored=Cast("email", output_field=TextField()))
                .order_by("pk")
                .values_list("pk", "stored")
            )
            for pk, stored in rows:
                if stored.startswith(PREFIX) and is_under_newest_key(stored):
                    current += 1
                    continue
                try:
                    token = rotate(stored) if stored.startswith(PREFIX) else encrypt(stored)
                except UndecryptableNote:
                    undecryptable.append(pk)
                    continue
                # Typed TextField, so the field's get_prep_value doesn't encrypt it again.
                PartnerContact.objects.filter(pk=pk).update(
                    email=Value(token, output_field=TextField())
                )
                rotated += 1
        self.stdout.write(
            f"Partners' addresses: {rotated} re-encrypted under the newest key, "
            f"{current} already under it, {len(undecryptable)} no key opens."
        )
        if undecryptable:
            raise CommandError(
                f"{len(undecryptable)} address(es) could not be decrypted with any key in "
                f"PRIVATE_NOTE_KEYS (ids {', '.join(map(str, undecryptable[:50]))}): add back "
                "the key they were written under and run this again."
            )
