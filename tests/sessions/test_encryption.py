"""Private notes and reflections are ciphertext at rest (security checklist item 8).

A planted canary must never reach the raw column or a `pg_dump`, while the ORM hands the
plaintext back to its author. Keys rotate without downtime through `rotate_note_keys`.
"""

from __future__ import annotations

import importlib
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from cryptography.fernet import Fernet
from django.apps import apps as current_apps
from django.core.exceptions import FieldError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from core.env import ImproperlyConfiguredEnv
from ruptures.services import reflection_write
from sessions.encryption import (
    DEVELOPMENT_NOTE_KEY_NEVER_IN_PRODUCTION,
    PREFIX,
    UndecryptableNote,
    note_keys,
)
from sessions.models import NoteKind, PrivateNote
from sessions.services import private_note_write
from tests.factories import make_couple, make_practice, make_rupture, make_session, make_user

if TYPE_CHECKING:
    from people.models import User
    from sessions.models import TherapySession

CANARY = "CANARY-9e2c private"
REPO = Path(__file__).resolve().parent.parent.parent
KEY1 = Fernet.generate_key().decode()
KEY2 = Fernet.generate_key().decode()
KEY3 = Fernet.generate_key().decode()

migration = importlib.import_module("sessions.migrations.0004_encrypt_private_notes")


def raw_text(note: PrivateNote) -> str:
    """The column as the database holds it, around the ORM."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT text FROM therapy_sessions_privatenote WHERE id = %s", [note.pk])
        (value,) = cursor.fetchone()
    return value


def set_raw_text(note: PrivateNote, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE therapy_sessions_privatenote SET text = %s WHERE id = %s", [value, note.pk]
        )


def opens_with(key: str, stored: str) -> str:
    assert stored.startswith(PREFIX)
    return Fernet(key).decrypt(stored.removeprefix(PREFIX)).decode()


def rotate_note_keys(*args: str) -> str:
    out = io.StringIO()
    call_command("rotate_note_keys", *args, stdout=out)
    return out.getvalue()


@pytest.fixture
def therapist() -> User:
    return make_user(make_practice(), "Therapist", therapist=True)


@pytest.fixture
def session(therapist: User) -> TherapySession:
    return make_session(make_couple(therapist))


def session_note(session: TherapySession, text: str = CANARY) -> PrivateNote:
    note = private_note_write(author=session.therapist, session=session, text=text)
    assert note is not None
    return note


# --- At rest -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_column_holds_ciphertext_and_the_author_reads_the_plaintext(session):
    note = session_note(session)

    stored = raw_text(note)
    assert stored.startswith(PREFIX)
    assert CANARY not in stored
    assert "CANARY" not in stored
    mine = PrivateNote.objects.visible_to(session.therapist).get(session=session)
    assert mine.text == CANARY


@pytest.mark.django_db(transaction=True)
def test_a_database_dump_shows_ciphertext_only(session):
    note = session_note(session)
    reflection = reflection_write(
        author=session.therapist, rupture=make_rupture(session), text=f"{CANARY} reflection"
    )
    assert reflection is not None
    db = connection.settings_dict
    env = dict(os.environ)
    if db["PASSWORD"]:
        env["PGPASSWORD"] = db["PASSWORD"]
    command = ["/usr/bin/pg_dump", "--data-only", "-t", "therapy_sessions_privatenote"]
    for flag, value in (("--host", db["HOST"]), ("--port", db["PORT"]), ("--username", db["USER"])):
        if value:
            command += [flag, str(value)]
    dump = subprocess.run(
        [*command, db["NAME"]], capture_output=True, text=True, env=env, timeout=60, check=False
    )

    assert dump.returncode == 0, dump.stderr
    assert "therapy_sessions_privatenote" in dump.stdout
    assert raw_text(note) in dump.stdout  # the dump has the rows: ciphertext
    assert raw_text(reflection) in dump.stdout
    assert CANARY not in dump.stdout
    assert "CANARY" not in dump.stdout


# --- The services ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_private_note_write_encrypts_new_and_changed_notes_and_clears(session):
    note = session_note(session, "first")
    first = raw_text(note)

    again = session_note(session, CANARY)

    assert again.pk == note.pk
    assert raw_text(note) != first
    assert CANARY not in raw_text(note)
    note.refresh_from_db()
    assert note.text == CANARY
    assert private_note_write(author=session.therapist, session=session, text="  ") is None
    assert not PrivateNote.objects.filter(pk=note.pk).exists()


@pytest.mark.django_db
def test_reflection_write_encrypts_the_reflection(session):
    rupture = make_rupture(session)

    reflection = reflection_write(author=session.therapist, rupture=rupture, text=CANARY)

    assert reflection is not None
    assert reflection.kind == NoteKind.RUPTURE_REFLECTION
    assert CANARY not in raw_text(reflection)
    assert PrivateNote.objects.visible_to(session.therapist).get(rupture=rupture).text == CANARY


@pytest.mark.django_db
def test_notes_recorded_with_a_session_or_rupture_are_encrypted(therapist):
    session = make_session(make_couple(therapist), private_note=CANARY)
    make_rupture(session, reflection=CANARY)

    rows = list(PrivateNote.objects.filter(author=therapist))

    assert len(rows) == 2
    assert all(CANARY not in raw_text(row) and row.text == CANARY for row in rows)


# --- Queries --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("lookup", ["text", "text__icontains", "text__startswith", "text__lower"])
def test_filtering_on_the_text_is_refused(session, lookup):
    session_note(session)

    with pytest.raises(FieldError, match=r"PrivateNote\.text is encrypted"):
        PrivateNote.objects.filter(**{lookup: CANARY}).exists()


@pytest.mark.django_db
def test_isnull_still_works(session):
    note = session_note(session)

    assert list(PrivateNote.objects.filter(text__isnull=False)) == [note]


# --- Keys and rotation ------------------------------------------------------------------------


@pytest.mark.django_db
def test_rotation_moves_every_note_to_the_newest_key(settings, therapist):
    settings.PRIVATE_NOTE_KEYS = [KEY1]
    couple = make_couple(therapist)
    notes = [session_note(make_session(couple, days_ago=d), f"{CANARY} {d}") for d in (3, 2, 1)]
    assert all(opens_with(KEY1, raw_text(note)) for note in notes)
    updated = {note.pk: note.updated_at for note in notes}

    # Deployed as "key2,key1": old rows still read, new writes go under key2.
    settings.PRIVATE_NOTE_KEYS = [KEY2, KEY1]
    assert PrivateNote.objects.get(pk=notes[0].pk).text == f"{CANARY} 3"
    written_meanwhile = session_note(make_session(couple, days_ago=0), CANARY)
    assert opens_with(KEY2, raw_text(written_meanwhile)) == CANARY

    out = rotate_note_keys("--batch-size", "2")

    assert "3 re-encrypted under the newest key, 1 already under it" in out
    assert "CANARY" not in out
    for note in notes:
        assert opens_with(KEY2, raw_text(note)).startswith(CANARY)
        assert PrivateNote.objects.get(pk=note.pk).updated_at == updated[note.pk]
    # Idempotent: a second run finds nothing to do.
    assert "0 re-encrypted under the newest key, 4 already under it" in rotate_note_keys()
    # The old key is dropped: every note still reads.
    settings.PRIVATE_NOTE_KEYS = [KEY2]
    assert sorted(PrivateNote.objects.values_list("text", flat=True)) == sorted(
        [CANARY, f"{CANARY} 1", f"{CANARY} 2", f"{CANARY} 3"]
    )


@pytest.mark.django_db
def test_a_note_no_key_opens_gives_a_clear_error_without_its_text(settings, session):
    settings.PRIVATE_NOTE_KEYS = [KEY1]
    note = session_note(session)

    settings.PRIVATE_NOTE_KEYS = [KEY3]

    opens_none = r"none of the 1 key\(s\) in PRIVATE_NOTE_KEYS"
    with pytest.raises(UndecryptableNote, match=opens_none) as e:
        PrivateNote.objects.get(pk=note.pk)
    assert "CANARY" not in str(e.value)
    assert KEY1 not in str(e.value)
    assert KEY3 not in str(e.value)
    with pytest.raises(CommandError, match=rf"ids {note.pk}\)") as refused:
        rotate_note_keys()
    assert "CANARY" not in str(refused.value)
    assert opens_with(KEY1, raw_text(note)) == CANARY  # left as it was


@pytest.mark.django_db
def test_a_plaintext_row_is_refused_on_read_and_encrypted_by_the_command(session):
    note = session_note(session)
    set_raw_text(note, CANARY)  # as if written by code from before the migration

    with pytest.raises(UndecryptableNote, match="not an encrypted token") as e:
        PrivateNote.objects.get(pk=note.pk)
    assert "CANARY" not in str(e.value)
    assert "1 plaintext encrypted" in rotate_note_keys()
    assert CANARY not in raw_text(note)
    assert PrivateNote.objects.get(pk=note.pk).text == CANARY


# --- The migration ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_migration_encrypts_existing_plaintext_and_reverses(therapist):
    couple = make_couple(therapist)
    notes = [session_note(make_session(couple, days_ago=d), f"{CANARY} {d}") for d in (2, 1)]
    for note in notes:
        set_raw_text(note, note.text)  # the rows as they were before 0004

    migration.encrypt_existing_notes(current_apps, None)
    encrypted = [raw_text(note) for note in notes]
    migration.encrypt_existing_notes(current_apps, None)  # idempotent: no double encryption

    assert [raw_text(note) for note in notes] == encrypted
    for note, stored in zip(notes, encrypted, strict=True):
        assert stored.startswith(PREFIX)
        assert CANARY not in stored
        assert PrivateNote.objects.get(pk=note.pk).text == note.text

    migration.decrypt_notes(current_apps, None)

    assert [raw_text(note) for note in notes] == [note.text for note in notes]


# --- Start-up ---------------------------------------------------------------------------------


def test_debug_without_keys_uses_the_development_key() -> None:
    assert note_keys([], debug=True) == [DEVELOPMENT_NOTE_KEY_NEVER_IN_PRODUCTION]


def test_a_malformed_key_is_named_by_position_never_printed() -> None:
    with pytest.raises(ImproperlyConfiguredEnv, match="PRIVATE_NOTE_KEYS: key 2 of 2") as e:
        note_keys([KEY1, "not-a-fernet-key"], debug=False)
    assert "not-a-fernet-key" not in str(e.value)
    assert KEY1 not in str(e.value)


def test_production_refuses_the_development_key() -> None:
    with pytest.raises(ImproperlyConfiguredEnv, match="development key"):
        note_keys([KEY1, DEVELOPMENT_NOTE_KEY_NEVER_IN_PRODUCTION], debug=False)


def manage_check(**overrides: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.update(
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=Fernet.generate_key().decode() * 2,
        DJANGO_ALLOWED_HOSTS="cycles.example.org",
        EMAIL_HOST="smtp.example.org",
        # Empty counts as unset, and keeps a developer's .env from supplying keys.
        PRIVATE_NOTE_KEYS="",
    )
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_start_up_without_keys_and_debug_off_fails_clearly() -> None:
    result = manage_check()

    assert result.returncode != 0
    assert "PRIVATE_NOTE_KEYS is not set" in result.stderr


def test_start_up_with_a_malformed_key_fails_without_printing_it() -> None:
    result = manage_check(PRIVATE_NOTE_KEYS=f"{KEY1},secret-but-wrong")

    assert result.returncode != 0
    assert "PRIVATE_NOTE_KEYS: key 2 of 2 is not a Fernet key" in result.stderr
    assert "secret-but-wrong" not in result.stdout + result.stderr
    assert KEY1 not in result.stdout + result.stderr


def test_start_up_with_keys_and_debug_off_passes() -> None:
    result = manage_check(PRIVATE_NOTE_KEYS=f"{KEY2},{KEY1}")

    assert result.returncode == 0, result.stderr
