"""Encrypt private notes and reflections at rest (sessions.encryption.EncryptedTextField).

1. `encrypt_existing_notes` turns every plaintext `text` into `fernet:<token>` under the newest
   key in PRIVATE_NOTE_KEYS, batch by batch of primary keys.
2. The field becomes an EncryptedTextField: the column stays `text`, so no SQL runs.

Reversed, the field goes back first and `decrypt_notes` writes the plaintext back.

Both functions read the raw column through Cast(..., TextField()) and write through
Value(..., output_field=TextField()), so they see the stored value, never the field's
decryption or encryption: they work on the historical model (plain TextField here) and on the
current one alike (tests/sessions/test_encryption.py calls them with the current apps), and
are idempotent (rows already in the target form are skipped).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db import migrations
from django.db.models import TextField, Value
from django.db.models.functions import Cast

import sessions.encryption
from sessions.encryption import PREFIX, decrypt, encrypt

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from django.apps.registry import Apps
    from django.db.backends.base.schema import BaseDatabaseSchemaEditor
    from django.db.models import QuerySet

BATCH = 500


def _batches(queryset: QuerySet) -> Iterator[list[tuple[int, str]]]:
    """(pk, stored text) in primary-key order, BATCH rows at a time."""
    last_pk = 0
    while True:
        rows = list(
            queryset.filter(pk__gt=last_pk).order_by("pk").values_list("pk", "stored")[:BATCH]
        )
        if not rows:
            return
        yield rows
        last_pk = rows[-1][0]


def _convert(apps: Apps, *, encrypted: bool, change: Callable[[str], str]) -> None:
    PrivateNote = apps.get_model("therapy_sessions", "PrivateNote")
    stored = PrivateNote._base_manager.annotate(stored=Cast("text", output_field=TextField()))
    todo = (
        stored.filter(stored__startswith=PREFIX)
        if encrypted
        else stored.exclude(stored__startswith=PREFIX)
    )
    for rows in _batches(todo):
        for pk, value in rows:
            PrivateNote._base_manager.filter(pk=pk).update(
                text=Value(change(value), output_field=TextField())
            )


def encrypt_existing_notes(apps: Apps, schema_editor: BaseDatabaseSchemaEditor | None) -> None:
    _convert(apps, encrypted=False, change=encrypt)


def decrypt_notes(apps: Apps, schema_editor: BaseDatabaseSchemaEditor | None) -> None:
    _convert(apps, encrypted=True, change=decrypt)


class Migration(migrations.Migration):
    dependencies = [("therapy_sessions", "0003_csi4")]

    operations = [
        migrations.RunPython(encrypt_existing_notes, decrypt_notes),
        migrations.AlterField(
            model_name="privatenote",
            name="text",
            field=sessions.encryption.EncryptedTextField(),
        ),
    ]
