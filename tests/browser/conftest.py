"""Browser tests: the desk's pages in a real, headless Chromium, driven by Playwright's sync API
against Django's live server (pytest-django's `live_server`).

- The browser is Debian's Chromium at /usr/bin/chromium (`apt-get install chromium
  fonts-noto-cjk`); Playwright never downloads one and `playwright install` is never needed.
  Without it the tests are skipped locally, and fail in CI (REQUIRE_POSTGRES is set by .ci/run,
  which installs it).
- The browser enforces the desk's Content-Security-Policy: a violation it reports on the console,
  or an uncaught script error, fails the test.
- A failed test leaves a screenshot and the page's HTML in var/browser-failures/ (the paths are
  printed with the failure).
- Each test runs on a transactional database (the live server answers from its own threads and
  connections): emptied after the test, and filled again with the migrations' data (the roles,
  the system user, the buckets) before the next.
"""

import os
import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

# Playwright's sync API runs an event loop in the test's thread, and Django refuses its ORM in a
# thread with a running loop (SynchronousOnlyOperation): the test's factories would fail. The
# standard recipe for Playwright with Django: allow it. Set on importing this conftest, so for the
# whole session when the browser tests are collected.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
HERE = Path(__file__).parent
FAILURES_DIR = Path("var") / "browser-failures"
# The password UserFactory gives every user (tests/accounts/factories.py).
PASSWORD = "password"
# Long enough for a page of the live server on a busy CI machine, short enough that a missing
# element fails the test in seconds rather than Playwright's default 30.
TIMEOUT_MS = 10_000

_problems_key = pytest.StashKey[list]()


def _in_ci() -> bool:
    return bool(os.environ.get("REQUIRE_POSTGRES"))


def pytest_collection_modifyitems(config, items):
    """Mark this folder's tests `browser`, run each on a transactional database restored after it,
    and skip them when Chromium is absent, outside CI only."""
    missing = not CHROMIUM.exists()
    for item in items:
        if HERE not in Path(item.path).parents:
            continue
        item.add_marker(pytest.mark.browser)
        item.add_marker(pytest.mark.django_db(transaction=True, serialized_rollback=True))
        if missing and not _in_ci():
            item.add_marker(pytest.mark.skip(reason=f"needs Chromium at {CHROMIUM}: apt-get install chromium"))


@pytest.fixture(scope="session")
def playwright():
    """Playwright's sync API, started once. While it runs, asyncio sees an event loop running in
    the test's thread, and Django then keeps a second set of database connections apart for
    "async" code (a thread-critical asgiref Local): fresh ones, without the test database's
    serialized contents, so that every transactional test after it, browser or not, would start
    on an empty database and leave broken permissions behind. The thread's own connections are
    handed to that second set, so that Django uses the same ones whether the loop runs or not."""
    from django.db import connections
    from playwright.sync_api import sync_playwright

    ours = {alias: connections[alias] for alias in connections}
    playwright = sync_playwright().start()
    for alias, connection in ours.items():
        setattr(connections._connections, alias, connection)
    yield playwright
    playwright.stop()


@pytest.fixture(scope="session")
def browser(launch_browser, pytestconfig):
    """One headless Chromium for the session: Debian's, never a browser Playwright downloads.
    (pytest-playwright's --headed and --slowmo still apply, for watching a test locally.) The
    failures of an earlier run are cleared, so that var/browser-failures/ holds this run's only."""
    if not CHROMIUM.exists():
        pytest.fail(f"CI needs Chromium at {CHROMIUM} for the browser tests (.ci/run installs it)", pytrace=False)
    shutil.rmtree(Path(pytestconfig.rootpath) / FAILURES_DIR, ignore_errors=True)
    browser = launch_browser(executable_path=str(CHROMIUM))
    yield browser
    browser.close()


@pytest.fixture(scope="session")
def base_url(live_server):
    """Every page is on the live server: `page.goto("/queue/")`."""
    return live_server.url


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    """A collector's browser: a desktop screen, in China, in the desk's time zone."""
    return {
        **browser_context_args,
        "viewport": {"width": 1280, "height": 900},
        "locale": "zh-CN",
        "timezone_id": settings.TIME_ZONE,
    }


@pytest.fixture
def page(context, request):
    """A page that records what the browser says went wrong: a Content-Security-Policy violation
    on the console, an uncaught script error. Either fails the test (pytest_runtest_call)."""
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    problems = request.node.stash.setdefault(_problems_key, [])

    def on_console(message):
        if "Content Security Policy" in message.text:
            problems.append(f"CSP violation on {page.url}: {message.text}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"script error on {page.url}: {error}"))
    return page


@pytest.fixture
def log_in(page):
    """`log_in(user)`: log `user` in through the desk's real login form; returns the page, on
    wherever the login led (the home page unless the form was opened with a `next`)."""

    def log_in(user, password=PASSWORD, next_url=None):
        url = reverse("login") + (f"?next={next_url}" if next_url else "")
        page.goto(url)
        page.locator("#id_username").fill(user.username)
        page.locator("#id_password").fill(password)
        with page.expect_navigation():
            page.locator("form button[type=submit]").click()
        assert not page.url.endswith(url), f"still on the login page after logging {user.username} in"
        return page

    return log_in


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """A test whose page reported a CSP violation or a script error fails, with the reports."""
    result = yield
    problems = item.stash.get(_problems_key, [])
    if problems:
        raise AssertionError("the browser reported:\n" + "\n".join(problems))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A failed browser test saves a screenshot and the HTML of its page in var/browser-failures/
    (taken before the page's fixtures are torn down) and prints where."""
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.failed and report.when in ("setup", "call") and page is not None and not page.is_closed():
        folder = Path(item.config.rootpath) / FAILURES_DIR
        folder.mkdir(parents=True, exist_ok=True)
        stem = re.sub(r"[^\w.-]+", "_", item.nodeid).strip("_")[-150:]
        saved = []
        try:
            screenshot = folder / f"{stem}.png"
            page.screenshot(path=str(screenshot), full_page=True)
            saved.append(f"screenshot: {screenshot}")
            html = folder / f"{stem}.html"
            html.write_text(page.content(), encoding="utf-8")
            saved.append(f"page HTML:  {html}")
        except Exception as error:  # the page may be mid-navigation or its browser gone
            saved.append(f"could not save the page ({error})")
        saved.insert(0, f"URL: {page.url}")
        report.sections.append(("browser failure", "\n".join(saved)))
        terminal = item.config.pluginmanager.get_plugin("terminalreporter")
        if terminal is not None:
            terminal.write_line("")
            for line in saved:
                terminal.write_line(f"[browser failure] {item.nodeid}: {line}")
    return report
