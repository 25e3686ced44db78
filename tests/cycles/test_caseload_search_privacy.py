"""The caseload search keeps partners' names out of URLs and request log lines.

The search words may be a client's name, so the search form posts them (CSRF-protected): a
URL, the browser's history and an access log's request line carry the path only. A GET lists
by status and page and ignores any `q` an old link still carries.
"""

from __future__ import annotations

import logging
import re
import time
import urllib.error
import urllib.request
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.conf import settings
from django.core.servers.basehttp import WSGIRequestHandler
from django.test import LiveServerTestCase, TestCase
from django.test.testcases import LiveServerThread
from django.urls import reverse

from config.logging import RedactingFormatter
from cycles.models import CyclePosition
from cycles.services import PartnerDetails
from tests.factories import make_couple, make_practice, make_user

if TYPE_CHECKING:
    from typing import Any

NAME = "Quennell"  # a partner's surname: what must never reach a URL or a log line


class LoggingLiveServerThread(LiveServerThread):
    """A live server that writes its request lines to the `django.server` log, as
    `runserver` does (Django's test server keeps quiet): the lines an access log holds."""

    def _create_server(self, connections_override: Any = None) -> Any:
        return self.server_class(
            (self.host, self.port),
            WSGIRequestHandler,
            allow_reuse_address=False,
            connections_override=connections_override,
        )


class Lines(logging.Handler):
    """Every record, formatted as config.logging's formatter writes it."""

    def __init__(self) -> None:
        super().__init__()
        self.setFormatter(RedactingFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def wait_for(self, pattern: str, timeout: float = 5.0) -> str:
        """All lines so far, once one matches: the server thread logs a request after its
        response has gone out, so the line may come a moment after the answer."""
        deadline = time.monotonic() + timeout
        while True:
            lines = "\n".join(self.lines)
            if re.search(pattern, lines) or time.monotonic() > deadline:
                assert re.search(pattern, lines), lines
                return lines
            time.sleep(0.02)


class SearchLogLinesTests(LiveServerTestCase):
    server_thread_class = LoggingLiveServerThread

    def setUp(self) -> None:
        practice = make_practice()
        self.owner = make_user(practice, "Search Therapist", therapist=True)
        self.wanted = make_couple(
            self.owner,
            partner_a=PartnerDetails(f"Ines {NAME}", CyclePosition.PURSUER),
            partner_b=PartnerDetails("Theo Marsh", CyclePosition.WITHDRAWER),
        )
        self.other = make_couple(self.owner)
        self.client.force_login(self.owner)
        self.cookies = {
            settings.SESSION_COOKIE_NAME: self.client.cookies[settings.SESSION_COOKIE_NAME].value
        }
        self.lines = Lines()
        for name in ("", "django.server", "django.request"):
            logging.getLogger(name).addHandler(self.lines)
        self.server_log = logging.getLogger("django.server")
        self.level = self.server_log.level
        self.server_log.setLevel(logging.INFO)

    def tearDown(self) -> None:
        for name in ("", "django.server", "django.request"):
            logging.getLogger(name).removeHandler(self.lines)
        self.server_log.setLevel(self.level)

    def send(self, path: str, data: dict[str, str] | None = None) -> str:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = urlencode(data).encode() if data is not None else None
        # The live server's own http:// address, never a user's.
        request = urllib.request.Request(  # noqa: S310
            f"{self.live_server_url}{path}", data=body, headers={"Cookie": cookie}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            for header in response.headers.get_all("Set-Cookie") or []:
                for key, morsel in SimpleCookie(header).items():
                    self.cookies[key] = morsel.value
            return response.read().decode()

    def test_the_search_request_line_and_every_log_line_hold_no_name(self) -> None:
        page = self.send(reverse("cycles:caseload"))
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token is not None, "the search form carries no CSRF token"

        found = self.send(
            reverse("cycles:caseload"),
            {"csrfmiddlewaretoken": token.group(1), "q": NAME, "status": "all"},
        )

        # The search ran: the wanted couple is listed, the other is not.
        assert self.wanted.case_code in found
        assert self.other.case_code not in found
        lines = self.lines.wait_for(r'"POST /couples/ HTTP/1\.1" 200')
        assert re.search(r'"GET /couples/ HTTP/1\.1" 200', lines), lines
        assert NAME not in lines
        assert NAME.lower() not in lines.lower()

    def test_a_search_without_its_csrf_token_is_refused(self) -> None:
        self.send(reverse("cycles:caseload"))
        with self.assertRaisesMessage(urllib.error.HTTPError, "403"):
            self.send(reverse("cycles:caseload"), {"q": NAME})
        assert NAME not in self.lines.wait_for(r'"POST /couples/ HTTP/1\.1" 403')


class SearchIsPostedTests(TestCase):
    @classmethod
    def setUpTestData(cls) -> None:
        practice = make_practice()
        cls.owner = make_user(practice, "Search Therapist", therapist=True)
        cls.wanted = make_couple(cls.owner, partner_a=PartnerDetails(f"Ines {NAME}"))
        cls.other = make_couple(cls.owner)

    def setUp(self) -> None:
        self.client.force_login(self.owner)

    def test_the_search_form_posts_and_pushes_no_url(self) -> None:
        page = self.client.get(reverse("cycles:caseload")).text
        form = re.search(r'<form class="filters" id="caseload-filters"[^>]*>', page)
        assert form is not None
        assert 'method="post"' in form.group(0)
        assert "hx-post=" in form.group(0)
        assert "hx-push-url" not in form.group(0)
        assert "csrfmiddlewaretoken" in page

    def test_a_posted_search_lists_the_matching_couples_and_keeps_the_words(self) -> None:
        response = self.client.post(reverse("cycles:caseload"), {"q": NAME, "status": "all"})
        assert response.status_code == 200
        assert self.wanted.case_code in response.text
        assert self.other.case_code not in response.text
        assert f'value="{NAME}"' in response.text
        assert f"1 couple matching “{NAME}”" in response.text

    def test_a_name_in_an_old_link_is_ignored(self) -> None:
        response = self.client.get(reverse("cycles:caseload"), {"q": NAME})
        assert response.status_code == 200
        assert self.other.case_code in response.text
        assert f'value="{NAME}"' not in response.text

    def test_the_pages_of_a_search_are_posted_with_it(self) -> None:
        for n in range(30):
            make_couple(self.owner, partner_a=PartnerDetails(f"Ada {NAME} {n}"))
        response = self.client.post(reverse("cycles:caseload"), {"q": NAME, "status": "all"})
        assert re.search(
            r'<button type="submit" form="caseload-filters" name="page" value="2"', response.text
        )
        assert "?q=" not in response.text
        second = self.client.post(
            reverse("cycles:caseload"), {"q": NAME, "status": "all", "page": "2"}
        )
        assert "Page 2 of 2" in second.text

    def test_nasty_search_words_never_give_a_500(self) -> None:
        for words in ("\x00", "%", "_", "'; drop table", "x" * 5000, "Ångström ß"):
            response = self.client.post(reverse("cycles:caseload"), {"q": words})
            assert response.status_code == 200
