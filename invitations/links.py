"""The link's token and its limits: what both the web (invitations.services) and the send
task (invitations.sending) need (docs/security.md, "Remote answer links")."""

from __future__ import annotations

import datetime
import hashlib
import secrets

from django.conf import settings
from django.utils.crypto import salted_hmac

# How long a link works (settings.INVITATION_LINK_HOURS): three days covers a weekly
# practice's "before the next session" without leaving links about for long.
DEFAULT_LINK_HOURS = 72
# At most this many links to one address in a day: a mistaken loop or a hostile colleague
# can't flood a partner's inbox.
INVITATIONS_PER_ADDRESS_PER_DAY = 5
# Requests to one link's page, and unknown tokens from one address, per window.
HIT_WINDOW = datetime.timedelta(minutes=15)
HITS_PER_LINK = 30
GUESSES_PER_ADDRESS = 10
TOKEN_BYTES = 32  # 256 bits from secrets.token_urlsafe: 43 characters in the link


def link_lifetime() -> datetime.timedelta:
    return datetime.timedelta(hours=getattr(settings, "INVITATION_LINK_HOURS", DEFAULT_LINK_HOURS))


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def mint_token() -> tuple[str, str]:
    """A new token and its hash: the token goes in the e-mail only, the hash in the row."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def address_digest(email: str) -> str:
    """An HMAC of the address (never the address), for the per-address limit."""
    return salted_hmac("invitations.address", email.strip().lower(), algorithm="sha256").hexdigest()
