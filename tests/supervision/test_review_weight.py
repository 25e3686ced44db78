"""The caseload review stays light whatever the flag count (issue 17): a page of 25 couples
with dozens of open flags each is at most 100 KB, because the review lists each couple's most
recent open flags only, with a count of the rest, and renders no acknowledgement form until
one is asked for; fetching one flag's form (htmx, or a plain page without JavaScript) and
posting it acknowledges that flag."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass
from html import unescape
from typing import TYPE_CHECKING

import pytest
from django.db import transaction
from django.urls import reverse

from people.models import Supervision
from ruptures.models import Flag, FlagAcknowledgement, FlagKind
from supervision import review as supervision
from supervision.views import REVIEW_PAGE_SIZE
from tests.factories import make_couple, make_practice, make_session, make_user
from tests.supervision import request_overhead, sign_in

if TYPE_CHECKING:
    from collections.abc import Iterator

    from django.test import Client

    from cycles.models import Couple
    from people.models import User

pytestmark = pytest.mark.django_db

HTMX = {"HX-Request": "true"}
MAX_BYTES = 100_000
FLAGS_PER_COUPLE = 40  # the large practice of issue 17 averages 26 open flags a listed couple
FORM_QUERIES = 2  # the flag (with its couple's practice) and the access event it writes


@dataclass
class Heavy:
    supervisor: User
    couples: list[Couple]
    today: datetime.date


def heavy_caseload(flags_per_couple: int = FLAGS_PER_COUPLE) -> Heavy:
    """A supervisee with a page of couples, each with a session this week and
    `flags_per_couple` open flags (one opened each day back from today, every third one
    acknowledged), bulk-created as the nightly run would leave them."""
    practice = make_practice()
    supervisor = make_user(practice, "Weighed Supervisor", supervisor=True)
    therapist = make_user(practice, "Weighed Therapist", therapist=True)
    Supervision.objects.create(practice=practice, supervisor=supervisor, therapist=therapist)
    today = supervision.practice_today(supervisor)
    kinds = list(FlagKind.values)
    couples = []
    flags = []
    for _ in range(REVIEW_PAGE_SIZE):
        couple = make_couple(therapist)
        make_session(couple, days_ago=1)
        couples.append(couple)
        flags += [
            Flag(
                couple=couple,
                kind=kinds[n % len(kinds)],
                key=f"rupture:{n}",
                opened_on=today - datetime.timedelta(days=n),
                detail="Coded detail only.",
            )
            for n in range(flags_per_couple)
        ]
    flags = Flag.objects.bulk_create(flags)
    FlagAcknowledgement.objects.bulk_create(
        FlagAcknowledgement(flag=flag, by=supervisor, comment="Seen.") for flag in flags[::3]
    )
    return Heavy(supervisor=supervisor, couples=couples, today=today)


@pytest.fixture(scope="module")
def heavy(django_db_setup, django_db_blocker) -> Iterator[Heavy]:
    with django_db_blocker.unblock(), transaction.atomic():
        yield heavy_caseload()
        transaction.set_rollback(True)


def the_review(client: Client, heavy: Heavy, headers: dict[str, str] | None = None) -> str:
    sign_in(client, heavy.supervisor)
    response = client.get(reverse("supervision:review"), {"period": "all"}, headers=headers)
    assert response.status_code == 200
    assert len(response.context["couples"]) == REVIEW_PAGE_SIZE
    return response.content.decode()


def form_links(page: str) -> dict[int, tuple[str, str]]:
    """Each listed flag's "Acknowledge…" link: flag pk -> (its plain address, which names the
    page to return to, and the address htmx fetches)."""
    pattern = r'<a class="ack-open" href="([^"]+)" hx-get="(/supervision/flags/(\d+)/[^"]+)">'
    return {int(pk): (unescape(href), unescape(hx)) for href, hx, pk in re.findall(pattern, page)}


def form_data(html: str, pk: int) -> dict[str, str]:
    """The hidden inputs of flag `pk`'s one acknowledgement form in `html`, as a browser would
    send them."""
    region = html[html.index(f'<div id="ack-{pk}"') :]
    region = region[: region.index("</form>")]
    assert region.count("<form") == 1
    inputs = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', region)
    return {name: unescape(value) for name, value in inputs}


# Every filter set (all of them match every couple here), so each flag's link carries the
# longest `next` the review makes.
EVERY_FILTER = {
    "period": "all",
    "kind": FlagKind.CONFRONTATION_THEN_ABSENCE,
    "status": "active",
    "ack": "pending",
    "sort": "-flag_age",
}


@pytest.mark.parametrize("headers", [{}, HTMX], ids=["page", "htmx"])
def test_a_page_of_heavily_flagged_couples_stays_under_100_kb(client, heavy, headers):
    page = the_review(client, heavy, headers)
    assert len(page.encode()) <= MAX_BYTES


def test_the_page_stays_under_100_kb_with_every_filter_set(client, heavy):
    sign_in(client, heavy.supervisor)
    therapist = heavy.couples[0].therapist_id
    params = EVERY_FILTER | {"therapist": str(therapist)}
    response = client.get(reverse("supervision:review"), params)
    assert len(response.context["couples"]) == REVIEW_PAGE_SIZE
    assert len(response.content) <= MAX_BYTES


def test_the_review_renders_no_acknowledgement_form_until_one_is_asked_for(client, heavy):
    page = the_review(client, heavy)
    assert "<textarea" not in page
    assert 'name="comment"' not in page
    assert 'name="request_token"' not in page
    assert "hx-post" not in page
    links = form_links(page)
    assert len(links) == REVIEW_PAGE_SIZE * supervision.REVIEW_FLAGS_SHOWN
    for pk, (href, hx) in links.items():
        assert hx == reverse("supervision:acknowledge", args=[pk])
        assert href.startswith(f"{hx}?next=")
        assert f'id="ack-state-{pk}"' in page  # where an htmx acknowledgement marks it


def test_each_row_lists_its_most_recent_flags_and_counts_the_rest(client, heavy):
    sign_in(client, heavy.supervisor)
    response = client.get(reverse("supervision:review"), {"period": "all"})
    shown = supervision.REVIEW_FLAGS_SHOWN
    for couple in response.context["couples"]:
        assert couple.open_flag_count == FLAGS_PER_COUPLE
        dates = [flag.opened_on for flag in couple.review_flags]
        assert dates == [heavy.today - datetime.timedelta(days=n) for n in range(shown)]
        assert couple.more_flag_count == FLAGS_PER_COUPLE - shown
    more = FLAGS_PER_COUPLE - shown
    assert response.text.count(f"{more} more open flags") == REVIEW_PAGE_SIZE
    couple = heavy.couples[0]
    assert f'href="{reverse("cycles:detail", args=[couple.case_code])}#flags-head"' in (
        response.text
    )


def test_the_review_runs_the_same_queries_however_many_flags(
    client, heavy, django_assert_num_queries
):
    sign_in(client, heavy.supervisor)
    url = reverse("supervision:review")
    client.get(url)
    overhead = request_overhead(client)
    # As tests/supervision/test_review.py's REVIEW_QUERIES: the therapist filter's options,
    # the paginator's count, the access event and the page of rows.
    with django_assert_num_queries(overhead + 4):
        client.get(url, {"period": "all"})


def test_one_flags_form_is_fetched_with_htmx_and_posting_it_acknowledges_that_flag(
    client, heavy, django_assert_num_queries
):
    page = the_review(client, heavy)
    links = form_links(page)
    pk = next(pk for pk in links if not FlagAcknowledgement.objects.filter(flag=pk).exists())
    review_url = reverse("supervision:review") + "?period=all"
    # htmx sends the page's address, where the form returns a plain POST.
    headers = HTMX | {"HX-Current-URL": f"http://testserver{review_url}"}
    overhead = request_overhead(client)
    with django_assert_num_queries(overhead + FORM_QUERIES):
        fetched = client.get(links[pk][1], headers=headers)
    assert fetched.status_code == 200
    html = fetched.text
    assert html.lstrip().startswith(f'<div id="ack-{pk}"')  # the region that replaces the link
    assert "<html" not in html
    assert f'for="ack-{pk}-comment"' in html
    assert "autofocus" in html  # the keyboard lands in the form htmx swapped in
    data = form_data(html, pk)
    assert data["request_token"]  # the write guard (core/templatetags/write_guards.py)
    assert data["next"] == review_url

    data |= {"comment": "Seen; let's talk on Thursday."}
    posted = client.post(reverse("supervision:acknowledge", args=[pk]), data, headers=HTMX)
    assert posted.status_code == 200
    assert f'id="ack-state-{pk}" class="badge ok" hx-swap-oob="true"' in posted.text
    assert "flagAcknowledged" in posted["HX-Trigger"]
    assert acknowledged_by(heavy.supervisor, data["comment"]) == [pk]


def test_without_javascript_the_link_is_a_page_with_that_one_form(
    client, heavy, django_assert_num_queries
):
    sign_in(client, heavy.supervisor)
    params = {"period": "all", "sort": "case"}
    page = client.get(reverse("supervision:review"), params).text
    links = form_links(page)
    pk = next(pk for pk in links if not FlagAcknowledgement.objects.filter(flag=pk).exists())
    overhead = request_overhead(client)
    with django_assert_num_queries(overhead + FORM_QUERIES):
        fetched = client.get(links[pk][0])
    assert fetched.status_code == 200
    html = fetched.text
    assert "<html" in html
    assert "Acknowledge the " in html  # the page's heading names the flag
    assert "autofocus" not in html
    assert html.count(f'for="ack-{pk}-comment"') == 1
    data = form_data(html, pk)
    review_url = reverse("supervision:review") + "?period=all&sort=case"
    assert data["next"] == review_url  # back to the review as it was filtered

    data |= {"comment": "Seen; let's talk on Thursday."}
    posted = client.post(reverse("supervision:acknowledge", args=[pk]), data)
    assert posted.status_code == 302
    assert posted["Location"] == review_url
    assert acknowledged_by(heavy.supervisor, data["comment"]) == [pk]
    # Sent twice (a double click, a retry): the request token acknowledges once.
    client.post(reverse("supervision:acknowledge", args=[pk]), data)
    assert acknowledged_by(heavy.supervisor, data["comment"]) == [pk]


def acknowledged_by(supervisor: User, comment: str) -> list[int]:
    found = FlagAcknowledgement.objects.filter(by=supervisor, comment=comment)
    return list(found.values_list("flag_id", flat=True))
