"""The harness catches what it promises to catch: if these pass, a quiet `page` fixture means a
quiet browser, and a clean `assert_accessible` means axe really ran."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from tests.browser.conftest import PageProblems, assert_accessible, axe_violations

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser


def test_csp_violations_console_errors_page_errors_and_failed_loads_are_recorded(
    page: Page, page_problems: PageProblems
) -> None:
    page.goto("/accounts/login/")
    assert page_problems.unexpected() == []

    # An inline script, as a template might carry by mistake: our CSP blocks it.
    page.evaluate(
        """() => {
          const script = document.createElement("script");
          script.textContent = "window.__ran = true";
          document.body.append(script);
        }"""
    )
    page.wait_for_function("window.__cspViolations.length > 0")
    with page.expect_event("pageerror"):
        page.evaluate("setTimeout(() => { throw new Error('planted page error') })")
    with page.expect_console_message(lambda m: m.type == "error"):
        page.evaluate("console.error('planted console error')")
    with page.expect_response(lambda r: r.url.endswith("/static/css/missing.css")):
        page.evaluate("fetch('/static/css/missing.css')")
    page.evaluate("0")  # let the events reach Python

    assert page.evaluate("window.__ran") is None
    # Once from the securitypolicyviolation listener, once from Chromium's console message.
    assert any("script-src" in text for text in page_problems.csp_violations)
    assert any("Content Security Policy" in text for text in page_problems.csp_violations)
    assert any("planted page error" in text for text in page_problems.page_errors)
    assert any("planted console error" in text for text in page_problems.console_errors)
    assert any(
        "404 GET" in text and "missing.css" in text for text in page_problems.failed_requests
    )

    page_problems.allow("missing.css")
    assert not any("missing.css" in text for text in page_problems.unexpected())
    page_problems.clear()


def test_axe_runs_under_our_csp_and_reports_serious_violations(page: Page) -> None:
    page.goto("/accounts/login/")
    page.evaluate("document.querySelector('main').append(document.createElement('input'))")

    assert "label" in {violation["id"] for violation in axe_violations(page)}
    with pytest.raises(pytest.fail.Exception, match=r"label \(critical\)"):
        assert_accessible(page)
