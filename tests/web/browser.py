"""What the web apps' browser tests share: Debian's Chromium driven by Playwright, the errors a
page logs, and the steps of the event web app that every test takes the same way.

CI installs the tools and sets ``BLUEPRINTS_WEB_TOOLS_REQUIRED=1``, so that a missing tool fails
instead of skipping."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

TOOLS_REQUIRED = os.environ.get("BLUEPRINTS_WEB_TOOLS_REQUIRED") == "1"
CHROMIUM = shutil.which("chromium")


def missing(tool: str) -> None:
    if TOOLS_REQUIRED:
        pytest.fail(f"{tool} is not installed, and BLUEPRINTS_WEB_TOOLS_REQUIRED=1")
    pytest.skip(f"{tool} is not installed")


@contextmanager
def chromium_page(*, timeout_ms: int, prepare: Callable[[Any], None] = lambda _: None
                  ) -> Iterator[tuple[Any, list[str]]]:
    """A page of headless Chromium, and the errors it logs (a CSP violation among them; not
    Chromium's own line for each 4xx answer, which the tests provoke). ``prepare`` gets the
    browser context before the page opens (to route requests)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("Playwright")
    if CHROMIUM is None:
        missing("Debian's chromium")
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            context = browser.new_context(viewport={"width": 1000, "height": 900})
            prepare(context)
            page = context.new_page()
            page.on("console", lambda message: problems.append(message.text)
                    if message.type == "error"
                    and not message.text.startswith("Failed to load resource") else None)
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.set_default_timeout(timeout_ms)
            yield page, problems
        finally:
            browser.close()


# --- the event web app -------------------------------------------------------------------------

def ready(page: Any, view: str) -> None:
    """Waits for a view to show with its data loaded."""
    page.wait_for_selector(f"#{view}[data-ready='true']:not([hidden])")


def sign_in(page: Any, site: str, email: str, password: str) -> None:
    page.goto(f"{site}/#/sign-in")
    ready(page, "view-sign-in")
    page.fill("#sign-in-email", email)
    page.fill("#sign-in-password", password)
    page.click("#sign-in-submit")


def file_request(page: Any, request_type: str, session_id: str, note: str) -> str:
    """Files a request on the request page; answers the request id the page shows."""
    page.click("#nav-request")
    ready(page, "view-request")
    page.select_option("#request-type", request_type)
    page.select_option("#request-session", session_id)
    page.fill("#request-note", note)
    page.click("#request-submit")
    page.wait_for_selector("#request-result[data-request-id]:not([hidden])")
    return str(page.get_attribute("#request-result", "data-request-id"))
