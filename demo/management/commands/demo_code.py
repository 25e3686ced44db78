"""`manage.py demo_code`: the demo users' current authenticator code (development only).

The demo practice's users share one invented authenticator secret so a newcomer can sign in
without setting up a phone. This prints the code that secret gives now; it refuses to run
with DEBUG off, and it only knows the demo secret, never a real user's.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from demo.practice import DEMO_TOTP_SECRET
from people.totp import PERIOD_SECONDS, current_code


class Command(BaseCommand):
    help = "Print the demo users' current authenticator code (DEBUG only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEBUG:
            raise CommandError("demo_code is for the local demo only (DJANGO_DEBUG=true).")
        left = PERIOD_SECONDS - int(time.time()) % PERIOD_SECONDS
        self.stdout.write(f"{current_code(DEMO_TOTP_SECRET)}  (valid for {left} more seconds)")
