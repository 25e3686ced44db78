"""People leaving and account recovery, done by a practice admin (people.views):

- deactivate a person: `is_active` off and every session of theirs ended at once (and
  reactivate a returning one);
- send a time-limited, single-use password-reset link (`reset_tokens`, PASSWORD_RESET_TIMEOUT);
- reset a person's authenticator: their TOTP and recovery codes deleted, their sessions
  ended, so their next sign-in goes to enrolment (people.middleware.RequireMFAMiddleware).

Each tells the person by e-mail; none of the e-mails carries clinical content (no case
codes, no names of clients), only what happened to their account and when.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from allauth.mfa.models import Authenticator
from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.contrib.sessions.models import Session
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from core import dates

if TYPE_CHECKING:
    from people.models import User


class ResetTokens(PasswordResetTokenGenerator):
    """Django's reset tokens: their hash covers the password hash and the last sign-in, so a
    link is dead once used (the password changed) or once its owner signed in since; and it
    expires after PASSWORD_RESET_TIMEOUT. Here the hash also covers `is_active`, so
    deactivating someone kills any link sent to them before."""

    key_salt = "people.offboarding.ResetTokens"

    def _make_hash_value(self, user: User, timestamp: int) -> str:  # type: ignore[override]
        return f"{super()._make_hash_value(user, timestamp)}{user.is_active}"


reset_tokens = ResetTokens()


def end_sessions(*, user_id: int) -> int:
    """Delete every unexpired server-side session of the person; how many.

    Sessions live in the database (django.contrib.sessions' default engine) and carry the
    user id only inside their encoded data, so each live session is decoded: a practice's
    live sessions are a few hundred rows at most."""
    ended = []
    live = Session.objects.filter(expire_date__gt=timezone.now())
    for session in live.iterator(chunk_size=500):
        if str(session.get_decoded().get(SESSION_KEY)) == str(user_id):
            ended.append(session.pk)
    Session.objects.filter(pk__in=ended).delete()
    return len(ended)


def deactivate(*, person: User) -> int:
    """Take the person's access away at once: `is_active` off (no sign-in, allauth says the
    account is inactive), then their sessions deleted. Returns the sessions ended."""
    with transaction.atomic():
        person.is_active = False
        person.save(update_fields=["is_active"])
        return end_sessions(user_id=person.pk)


def reactivate(*, person: User) -> None:
    """A returning colleague: `is_active` on again. Their password and authenticator are as
    they left them; the admin sends a reset link or resets the authenticator if needed."""
    person.is_active = True
    person.save(update_fields=["is_active"])


def reset_authenticator(*, person: User) -> int:
    """Delete the person's authenticators (TOTP and recovery codes) and end their sessions:
    their next sign-in asks for the password only, then sends them to enrolment. Returns how
    many authenticators went."""
    with transaction.atomic():
        deleted, _ = Authenticator.objects.filter(user=person).delete()
        end_sessions(user_id=person.pk)
        return deleted


def reset_path_parts(person: User) -> tuple[str, str]:
    """The (uidb64, token) of a fresh reset link for the person."""
    return urlsafe_base64_encode(force_bytes(person.pk)), reset_tokens.make_token(person)


def person_for_link(uidb64: str, token: str) -> User | None:
    """The active person a reset link is good for now, or None (unknown, used, expired)."""
    from people.models import User

    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    person = User.objects.filter(pk=pk, is_active=True).first()
    if person is None or not reset_tokens.check_token(person, token):
        return None
    return person


def set_password(*, person: User, password: str) -> None:
    """The new password from a reset link: saved (which kills the link) and any session of
    the person ended, so whoever held one signs in again."""
    with transaction.atomic():
        person.set_password(password)
        person.save(update_fields=["password"])
        end_sessions(user_id=person.pk)


def reset_hours() -> int:
    return max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)


def tell(*, person: User, subject: str, body: str) -> None:
    """E-mail the person (raises on a mail server error: the caller says it wasn't sent)."""
    practice = person.practice.name if person.practice_id else "your practice"  # type: ignore[union-attr]
    text = (
        f"Hello {person},\n\n{body}\n\n"
        f"If you did not expect this, contact the practice admin of {practice}.\n\n"
        "— Cycles (this message holds nothing of any clinical record)\n"
    )
    send_mail(f"Cycles: {subject}", text, None, [person.email], fail_silently=False)


def deactivated_text() -> str:
    now = timezone.localtime()
    when = f"{dates.show(now)} {now:%H:%M}"
    return (
        f"Your Cycles account was deactivated by your practice admin on {when}. "
        "You were signed out everywhere and can no longer sign in."
    )


def reactivated_text() -> str:
    return (
        "Your Cycles account was reactivated by your practice admin: you can sign in again "
        "with your password and authenticator app."
    )


def reset_link_text(link: str) -> str:
    return (
        "Your practice admin sent you a link to set a new Cycles password. "
        f"It works once, within {reset_hours()} hours:\n\n{link}\n\n"
        "After setting the password, sign in with it and your authenticator app as usual."
    )


def authenticator_reset_text() -> str:
    return (
        "Your practice admin reset your Cycles authenticator: the old one and its recovery "
        "codes no longer work, and you were signed out. At your next sign-in, Cycles asks "
        "you to set up an authenticator app again."
    )
