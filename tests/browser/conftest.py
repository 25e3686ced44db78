"""The browser-test harness: Debian's Chromium driven by Playwright against pytest-django's
live server.

What every browser test gets:

1. `browser`: one headless Chromium for all the tests under tests/browser, launched from the
   `chromium` binary on PATH (never `playwright install`: browser downloads fail on our machines).
2. `page`: a fresh browser context and page per test, watched for console errors, uncaught page
   errors, failed or 4xx/5xx sub-resource loads and Content-Security-Policy violations. Any of
   them fails the test at teardown; a test that provokes one on purpose says so with
   `page_problems.allow(pattern)`. A failed test leaves a full-page screenshot in
   test-results/<module>.<test>.png (git-ignored).
3. `login(page, live_server, user)`: signs in through the real login form.
4. `axe_violations(page)` and `assert_accessible(page)`: axe-core, from the npm registry
   (package.json and package-lock.json beside this file), checks the page against WCAG 2.2 AA.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Generator
from contextlib import suppress
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Response, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.factories import PASSWORD

if TYPE_CHECKING:
    from pytest_django.live_server_helper import LiveServer

    from people.models import User

BROWSER_DIR = Path(__file__).resolve().parent
AXE_PATH = BROWSER_DIR / "node_modules" / "axe-core" / "axe.min.js"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-quic",
    "--disable-sync",
]

# Actions and navigations give up after this long (`expect` keeps its own 5 s): pages on the
# loopback live server answer in milliseconds, so a longer wait only delays a real failure.
TIMEOUT_MS = 10_000

# The WCAG 2.2 AA rule set of axe-core (its tags are cumulative per version and level).
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
BLOCKING_IMPACTS = {"serious", "critical"}

# Runs in every document before the page's own scripts. Init scripts are injected through the
# DevTools protocol, so the page's CSP (no inline script) does not apply to them. Each violation
# goes to Python at once through the exposed binding (the record survives navigation) and into
# `window.__cspViolations` for a test that wants to look at the current document's ones.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const violation = [
    event.effectiveDirective || event.violatedDirective,
    "blocked " + (event.blockedURI || "(inline)"),
    "in " + event.sourceFile + ":" + event.lineNumber,
    event.sample ? "sample " + JSON.stringify(event.sample) : "",
  ].filter(Boolean).join(" ");
  window.__cspViolations.push(violation);
  if (typeof window.__reportCspViolation === "function") {
    window.__reportCspViolation(violation);
  }
});
"""


# -- pytest plumbing ---------------------------------------------------------------------------


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep each phase's report on the item (`rep_setup`, `rep_call`): `page` reads it at
    teardown to decide whether to take a screenshot."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in tests/browser is a browser test, marked or not (`-m "not browser"`)."""
    for item in items:
        if BROWSER_DIR in item.path.parents:
            item.add_marker(pytest.mark.browser)


# -- the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="package")
def browser() -> Generator[Browser]:
    """One headless Debian Chromium for every test under tests/browser.

    Package scope rather than session scope: Playwright's sync API keeps an asyncio event loop
    running on the main thread while it is started, which makes Django refuse ORM calls
    (SynchronousOnlyOperation) and `asyncio.run`/`async_to_sync` fail. Stopping Playwright when
    the browser tests are done keeps the rest of the suite free of that loop, and the
    DJANGO_ALLOW_ASYNC_UNSAFE switch below is set only for as long as the loop runs. pytest-django
    runs all live-server tests together, so this is still one browser per test run.
    """
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(
            "Debian's Chromium is not installed (no `chromium` on PATH): the browser tests need "
            "it. `make test` installs it; by hand: `apt-get install chromium`. "
            "Never `playwright install`: browser downloads fail on these machines.",
            pytrace=False,
        )
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    # The test's own ORM calls (factories, the transactional_db flush) happen on the thread where
    # Playwright's loop runs; they do not run inside that loop, so allowing them is safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        chromium = playwright.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()
    finally:
        playwright.stop()
        if previous is None:
            del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


# -- the page and what goes wrong on it ----------------------------------------------------------


def _is_favicon(url: str) -> bool:
    """Chromium asks for /favicon.ico by itself on every page that names no icon: that request
    is the browser's, not the page's, and its 404 says nothing about the screen under test."""
    return urlsplit(url).path == "/favicon.ico"


@dataclass
class PageProblems:
    """Everything that went wrong in the browser during one test."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    allowed: list[re.Pattern[str]] = field(default_factory=list)

    def allow(self, pattern: str) -> None:
        """Let problems matching `pattern` (a regular expression) pass: for a test that expects
        them, such as one that visits someone else's record and gets a 404 on purpose."""
        self.allowed.append(re.compile(pattern))

    def clear(self) -> None:
        for found in (
            self.console_errors,
            self.page_errors,
            self.failed_requests,
            self.csp_violations,
        ):
            found.clear()

    def unexpected(self) -> list[str]:
        found = [
            *(f"CSP violation: {text}" for text in self.csp_violations),
            *(f"console error: {text}" for text in self.console_errors),
            *(f"uncaught page error: {text}" for text in self.page_errors),
            *(f"failed request: {text}" for text in self.failed_requests),
        ]
        return [text for text in found if not any(p.search(text) for p in self.allowed)]

    def on_console(self, message: ConsoleMessage) -> None:
        location = message.location
        if message.type != "error" or _is_favicon(location.get("url", "")):
            return
        text = f"{message.text} (at {location.get('url')}:{location.get('lineNumber')})"
        if "Content Security Policy" in message.text:
            self.csp_violations.append(text)
        else:
            self.console_errors.append(text)

    def on_csp_violation(self, text: str) -> None:
        self.csp_violations.append(text)

    def on_page_error(self, error: PlaywrightError) -> None:
        self.page_errors.append(error.stack or error.message)

    def on_response(self, response: Response) -> None:
        # Documents are left out: a page may rightly answer 404 and tests assert on that;
        # a style sheet, a script or an htmx request that fails is always a problem.
        if (
            response.status >= 400
            and response.request.resource_type != "document"
            and not _is_favicon(response.url)
        ):
            self.failed_requests.append(
                f"{response.status} {response.request.method} {response.url}"
            )

    def on_request_failed(self, request: Request) -> None:
        # A load the browser itself abandons (ERR_ABORTED, when a form post navigates away
        # before the icon or a style sheet arrived) is not a failure of the page; an error
        # response is caught by on_response.
        if request.failure and "ERR_ABORTED" in request.failure:
            return
        self.failed_requests.append(f"{request.failure} {request.method} {request.url}")


@pytest.fixture
def page_problems() -> PageProblems:
    return PageProblems()


def _screenshot_path(item: pytest.Item) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{item.path.stem}.{item.name}")
    return item.config.rootpath / "test-results" / f"{name}.png"


@pytest.fixture
def page(
    request: pytest.FixtureRequest,
    browser: Browser,
    live_server: LiveServer,
    page_problems: PageProblems,
) -> Generator[Page]:
    """A page in a fresh browser context, with relative URLs resolved against the live server.

    At teardown: a full-page screenshot if the test failed, and a failure if the browser
    reported a console error, an uncaught error, a failed load or a CSP violation.
    """
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(TIMEOUT_MS)
    context.add_init_script(script=CSP_LISTENER)
    context.expose_function("__reportCspViolation", page_problems.on_csp_violation)
    new_page = context.new_page()
    new_page.on("console", page_problems.on_console)
    new_page.on("pageerror", page_problems.on_page_error)
    new_page.on("response", page_problems.on_response)
    new_page.on("requestfailed", page_problems.on_request_failed)
    try:
        yield new_page
        # A round trip to the page lets events already fired in it reach Python. A page that
        # crashed or is mid-navigation may refuse: the test's own failure then says enough.
        with suppress(PlaywrightError):
            new_page.evaluate("0")
        problems = page_problems.unexpected()
        rep_call = getattr(request.node, "rep_call", None)
        if (rep_call is not None and rep_call.failed) or problems:
            path = _screenshot_path(request.node)
            path.parent.mkdir(exist_ok=True)
            with suppress(PlaywrightError):
                new_page.screenshot(path=path, full_page=True)
        if problems:
            pytest.fail(
                "The browser reported problems during the test:\n  " + "\n  ".join(problems),
                pytrace=False,
            )
    finally:
        context.close()


# -- helpers for tests ---------------------------------------------------------------------------


def login(page: Page, live_server: LiveServer, user: User, password: str = PASSWORD) -> None:
    """Sign `user` in through the real login form and the authenticator step, and wait until
    the app has let them in. The user is enrolled with the suite's test secret first."""
    from people.totp import enrol
    from tests.conftest import TEST_TOTP_SECRET

    enrol(user, TEST_TOTP_SECRET)
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Username").fill(user.get_username())
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    if "/accounts/2fa/authenticate/" in page.url:
        page.get_by_label("Code").fill(fresh_code(user.pk, TEST_TOTP_SECRET))
        with page.expect_navigation():
            page.get_by_role("button", name="Continue").click()
    if "/accounts/" in page.url:
        errors = page.locator(".form-errors, .error").all_inner_texts()
        pytest.fail(f"Signing in as {user.get_username()} failed: {errors}", pytrace=False)


# The time step each user last signed in with: allauth accepts a code once.
_LAST_STEP: dict[int, int] = {}


def fresh_code(user_id: int, secret: str) -> str:
    """A code the server will accept: not the one this user just used (allauth refuses a
    replay), and not one about to expire on its way there (allauth allows no drift)."""
    from people.totp import PERIOD_SECONDS, current_code

    while True:
        now = time.time()
        step, left = int(now // PERIOD_SECONDS), PERIOD_SECONDS - now % PERIOD_SECONDS
        if left > 3 and _LAST_STEP.get(user_id) != step:
            _LAST_STEP[user_id] = step
            return current_code(secret, now)
        time.sleep(left + 0.05)


@cache
def _axe_source() -> str:
    """axe-core's source, installed with `npm ci` from the lockfile on first use."""
    if not AXE_PATH.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(
                "npm is not installed: the accessibility checks need axe-core from the npm "
                "registry (`apt-get install npm`, then `npm ci --prefix tests/browser`).",
                pytrace=False,
            )
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=BROWSER_DIR,
            check=True,
        )
    return AXE_PATH.read_text(encoding="utf-8")


def axe_violations(page: Page, *, tags: list[str] | None = None) -> list[dict[str, Any]]:
    """Run axe-core on the page as it is now and return its violations (all impacts).

    The source is evaluated through the DevTools protocol, to which the page's CSP does not
    apply; `add_script_tag` would add an inline <script> that our CSP rightly blocks.
    """
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(_axe_source())
    result: dict[str, Any] = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})",
        tags or AXE_TAGS,
    )
    violations: list[dict[str, Any]] = result["violations"]
    return violations


def describe_violation(violation: dict[str, Any]) -> str:
    nodes = "\n".join(
        f"      {json.dumps(node['target'])}: {node['html']}\n"
        f"        {node.get('failureSummary', '').replace(chr(10), ' ')}"
        for node in violation["nodes"]
    )
    return (
        f"  {violation['id']} ({violation['impact']}): {violation['help']}\n"
        f"    {violation['helpUrl']}\n{nodes}"
    )


def assert_accessible(page: Page) -> None:
    """Fail, listing each rule and element, if axe finds a serious or critical WCAG 2.2 AA
    violation on the page."""
    blocking = [v for v in axe_violations(page) if v["impact"] in BLOCKING_IMPACTS]
    if blocking:
        pytest.fail(
            f"axe-core found serious or critical violations on {page.url}:\n"
            + "\n".join(describe_violation(v) for v in blocking),
            pytrace=False,
        )
