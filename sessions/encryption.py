"""Encryption at rest for private notes and reflections (`sessions.PrivateNote.text`).

The column holds `fernet:<token>`, a Fernet token (AES-128-CBC + HMAC-SHA256, from the
`cryptography` package) made with the newest of the keys in `settings.PRIVATE_NOTE_KEYS`; any of
the keys opens it (`MultiFernet`). The keys come from the environment variable of the same
name, never from SECRET_KEY: a leaked SECRET_KEY (or a rotated one) must not touch the notes.

Rotation without downtime is `manage.py rotate_note_keys` (its docstring has the steps).
Plaintext never leaves this module in an error message: errors name the key problem only.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.signals import setting_changed
from django.db import models
from django.dispatch import receiver

from core.env import ImproperlyConfiguredEnv

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper
    from django.db.models import Expression

PREFIX = "fernet:"
SETTING = "PRIVATE_NOTE_KEYS"

# For DEBUG only (`make run`, `make test`), so a laptop runs with nothing configured. It is
# public in this source file, so it protects nothing: `note_keys` refuses it with DEBUG off.
# (It is the URL-safe base64 of b"development-only-never-in-prod!!".)
DEVELOPMENT_NOTE_KEY_NEVER_IN_PRODUCTION = "ZGV2ZWxvcG1lbnQtb25seS1uZXZlci1pbi1wcm9kISE="

GENERATE_HINT = (
    "Generate a key with: python3 -c "
    "'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'"
)


class UndecryptableNote(RuntimeError):
    """A stored private note that none of the configured keys opens (or that isn't a token)."""


def note_keys(keys: list[str], *, debug: bool) -> list[str]:
    """Check the keys read from PRIVATE_NOTE_KEYS at start-up (config/settings.py).

    Newest first. With none set, DEBUG gets the development key and production stops. A
    malformed key stops start-up with its position, never its value.
    """
    if not keys:
        if debug:
            return [DEVELOPMENT_NOTE_KEY_NEVER_IN_PRODUCTION]
        raise ImproperlyConfiguredEnv(
            f"{SETTING} is not set: private notes are encrypted with keys of their own, "
            "comma-separated, newest first, never derived from DJANGO_SECRET_KEY (or set "
            f"DJANGO_DEBUG=true locally). {GENERATE_HINT} See .env.example."
        )
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfiguredEnv(
                f"{SETTING}: key {position} of {len(keys)} is not a Fernet key (32 random bytes "
                f"in URL-safe base64, 44 characters). {GENERATE_HINT} See .env.example."
            ) from None
        if not debug and key == DEVELOPMENT_NOTE_KEY_NEVER_IN_PRODUCTION:
            raise ImproperlyConfiguredEnv(
                f"{SETTING}: key {position} of {len(keys)} is the development key, which is "
                f"public in sessions/encryption.py: production needs its own. {GENERATE_HINT}"
            )
    return keys


@functools.lru_cache(maxsize=8)
def _fernets(keys: tuple[str, ...]) -> tuple[Fernet, MultiFernet]:
    if not keys:
        raise ImproperlyConfigured(f"{SETTING} is empty: no key to encrypt private notes with.")
    fernets = [Fernet(key) for key in keys]
    return fernets[0], MultiFernet(fernets)


def newest_fernet() -> Fernet:
    """The newest key alone: what every write uses."""
    return _fernets(tuple(settings.PRIVATE_NOTE_KEYS))[0]


def multi_fernet() -> MultiFernet:
    """Every configured key, newest first: encrypts with the newest, decrypts with any.

    Cached per tuple of keys, so `override_settings(PRIVATE_NOTE_KEYS=...)` takes effect at once.
    """
    return _fernets(tuple(settings.PRIVATE_NOTE_KEYS))[1]


def clear_key_cache() -> None:
    _fernets.cache_clear()


@receiver(setting_changed)
def _keys_changed(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING:
        clear_key_cache()


def encrypt(text: str) -> str:
    """`fernet:<token>` for the text, under the newest key."""
    return PREFIX + multi_fernet().encrypt(text.encode("utf-8")).decode("ascii")


def _token(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise UndecryptableNote(
            "A private note holds a value that is not an encrypted token (no 'fernet:' prefix): "
            "it was written around EncryptedTextField. Run `manage.py rotate_note_keys` to "
            "encrypt it."
        )
    return stored.removeprefix(PREFIX)


def _made_at(token: str) -> str:
    """When the token says it was made (unverified: bytes 1-8 of the token), to find its key."""
    try:
        data = base64.urlsafe_b64decode(token)
    except (binascii.Error, ValueError):
        return "unknown (not base64)"
    if len(data) < 9 or data[0] != 0x80:
        return "unknown (not a Fernet token)"
    seconds = int.from_bytes(data[1:9], "big")
    try:
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return "unknown"


def _undecryptable(token: str) -> UndecryptableNote:
    count = len(settings.PRIVATE_NOTE_KEYS)
    return UndecryptableNote(
        f"A private note could not be decrypted: none of the {count} key(s) in {SETTING} opens "
        f"it (its token says it was made at {_made_at(token)}). The key it was written under "
        "was removed before `manage.py rotate_note_keys` finished, or the stored value was "
        "altered."
    )


def decrypt(stored: str) -> str:
    """The text of a stored `fernet:<token>`; UndecryptableNote (never the text) if no key fits."""
    token = _token(stored)
    try:
        return multi_fernet().decrypt(token).decode("utf-8")
    except InvalidToken:
        raise _undecryptable(token) from None


def is_under_newest_key(stored: str) -> bool:
    """Whether the newest key alone opens the token: checks its HMAC, decrypts nothing."""
    if not stored.startswith(PREFIX):
        return False
    try:
        newest_fernet().extract_timestamp(stored.removeprefix(PREFIX))
    except InvalidToken:
        return False
    return True


def rotate(stored: str) -> str:
    """The same text under the newest key, as `fernet:<token>` (MultiFernet.rotate)."""
    token = _token(stored)
    try:
        return PREFIX + multi_fernet().rotate(token).decode("ascii")
    except InvalidToken:
        raise _undecryptable(token) from None


class EncryptedTextField(models.TextField):
    """A TextField stored as `fernet:<token>`: plaintext in Python, ciphertext in the database.

    The column stays `text` (PostgreSQL and SQLite alike). Filtering on the content can't work
    on ciphertext, so every lookup but `isnull` is refused rather than silently matching
    nothing. Writing a stored token as it is (rotation, the 0004 migration) goes through
    `update(text=Value(token, output_field=TextField()))`, which skips `get_prep_value`.
    """

    description = "Text encrypted at rest (Fernet, keys in PRIVATE_NOTE_KEYS)"

    def from_db_value(
        self, value: str | None, expression: Expression, connection: BaseDatabaseWrapper
    ) -> str | None:
        if value is None:
            return None
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        return encrypt(str(value))

    def _refuse(self, lookup_name: str) -> FieldError:
        where = f"{self.model.__name__}.{self.name}" if hasattr(self, "model") else self.name
        return FieldError(
            f"{where} is encrypted in the database, so it can't be filtered, searched or "
            f"compared there ('{lookup_name}'); only '{self.name}__isnull' works."
        )

    def get_lookup(self, lookup_name: str) -> Any:
        if lookup_name != "isnull":
            raise self._refuse(lookup_name)
        return super().get_lookup(lookup_name)

    def get_transform(self, lookup_name: str) -> Any:
        raise self._refuse(lookup_name)
