"""`manage.py rotate_note_keys`: re-encrypt every private note under the newest key.

Rotating the keys of private notes and reflections without downtime:

1. Generate a key:
   python3 -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'
2. Deploy with PRIVATE_NOTE_KEYS="new,old" (newest first) and restart every process (web,
   Celery workers, beat). Now each process reads notes under either key and writes new ones
   under "new" only. Until every process has restarted, an old one may still write under
   "old"; that is fine, step 3 runs after.
3. Run `manage.py rotate_note_keys`. It walks the notes in primary-key order, a batch at a
   time, each batch in one short transaction that locks its rows (so a therapist saving a
   note meanwhile waits a few milliseconds, and no edit is overwritten with an older text).
   Rows already under the newest key are skipped, which makes it idempotent: run it again,
   or after an interruption, and it finishes the rest. Rows saved while it runs are written
   under "new" already.
4. When it reports 0 left to do, deploy with PRIVATE_NOTE_KEYS="new" and restart. Keep "old"
   somewhere safe until backups made before step 3 have expired: they need it.

Each token is rotated with MultiFernet.rotate: decrypted and re-encrypted in one call, the
plaintext held only for that call. It prints counts (and the ids of notes no key opens), never
text. `updated_at` is left alone: rotating keys is not an edit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Case, TextField, Value, When
from django.db.models.functions import Cast

from sessions.encryption import PREFIX, UndecryptableNote, encrypt, is_under_newest_key, rotate
from sessions.models import PrivateNote


@dataclass
class Counts:
    rotated: int = 0
    current: int = 0
    plaintext: int = 0
    undecryptable: list[int] = field(default_factory=list)


def rotate_batch(after_pk: int, size: int, counts: Counts) -> int | None:
    """Rotate the next `size` notes after `after_pk`; the last pk seen, or None when done."""
    with transaction.atomic():
        rows = list(
            PrivateNote._base_manager.filter(pk__gt=after_pk)
            .order_by("pk")
            .select_for_update()
            .annotate(stored=Cast("text", output_field=TextField()))
            .values_list("pk", "stored")[:size]
        )
        if not rows:
            return None
        new_tokens: dict[int, str] = {}
        for pk, stored in rows:
            if not stored.startswith(PREFIX):
                # Written around the field (e.g. by a process still on the code before 0004).
                new_tokens[pk] = encrypt(stored)
                counts.plaintext += 1
            elif is_under_newest_key(stored):
                counts.current += 1
            else:
                try:
                    new_tokens[pk] = rotate(stored)
                except UndecryptableNote:
                    counts.undecryptable.append(pk)
                    continue
                counts.rotated += 1
        if new_tokens:
            # Values typed TextField, so the field's get_prep_value doesn't encrypt the token again.
            PrivateNote._base_manager.filter(pk__in=new_tokens).update(
                text=Case(
                    *(
                        When(pk=pk, then=Value(token, output_field=TextField()))
                        for pk, token in new_tokens.items()
                    ),
                    output_field=TextField(),
                )
            )
        return rows[-1][0]


class Command(BaseCommand):
    help = (
        "Re-encrypt every private note and reflection under the newest key in "
        "PRIVATE_NOTE_KEYS, in batches, safe while the app serves. Prints counts only."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Notes per transaction (default 500)."
        )

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        counts = Counts()
        last_pk: int | None = 0
        while last_pk is not None:
            last_pk = rotate_batch(last_pk, batch_size, counts)
        self.stdout.write(
            f"Private notes: {counts.rotated} re-encrypted under the newest key, "
            f"{counts.current} already under it, {counts.plaintext} plaintext encrypted, "
            f"{len(counts.undecryptable)} no key opens."
        )
        if counts.undecryptable:
            shown = ", ".join(str(pk) for pk in counts.undecryptable[:50])
            more = " ..." if len(counts.undecryptable) > 50 else ""
            raise CommandError(
                f"{len(counts.undecryptable)} note(s) could not be decrypted with any key in "
                f"PRIVATE_NOTE_KEYS (ids {shown}{more}): add back the key they were written "
                "under, run this again, and only then remove it."
            )
