"""Playwright fixtures for the admin console: Debian's /usr/bin/chromium, headless.

No browser download happens here: without /usr/bin/chromium the browser tests fail in CI
(CI set) and are skipped elsewhere, with the same message saying how to install it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MISSING = (
    f"Debian's chromium is missing at {CHROMIUM}: install it with `make browser` "
    "(apt-get install -y --no-install-recommends chromium) to run the admin UI tests."
)
# The committed screenshots are refreshed with UPDATE_SCREENSHOTS=1; ordinary runs write them
# to a temporary directory so the work tree stays clean.
SCREENSHOTS = (
    Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "pg-gateway-screenshots"
)


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, live_server: Any) -> Iterator[Any]:
    """A fresh 1280x800 page in a headless chromium; `page.base_url` is the live server."""
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(MISSING)
        pytest.skip(MISSING)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an asyncio loop running in this thread; the test's own ORM
    # calls are still plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 800}, base_url=live_server.url
            )
            context.set_default_timeout(15_000)
            yield context.new_page()
            context.close()
        finally:
            browser.close()


@pytest.fixture
def screenshot(page: Any) -> Any:
    """Save the visible viewport as docs/screenshots/<name>.png."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path))
        return path

    return take


def log_in(page: Any) -> None:
    """Sign in to the admin console as the `admin_user` fixture's admin."""
    page.goto("/admin/")
    page.fill("#id_username", "admin@example.com")
    page.fill("#id_password", "correct-horse-battery")
    page.click("input[type=submit]")
    page.wait_for_selector("#dashboard-services")


def open_operation(page: Any, tag: str, operation_id: str) -> Any:
    """The expanded Swagger UI operation `operation_id` (under `tag`). Swagger UI renders tag
    sections lazily as they scroll into view, so scroll until the tag is there, then open it."""
    section = page.locator(f"#operations-tag-{tag}")
    for _ in range(80):
        if section.count():
            break
        page.mouse.wheel(0, 1500)
        page.wait_for_timeout(100)
    page.evaluate(f"ui.layoutActions.show(['operations', '{tag}', '{operation_id}'], true)")
    operation = page.locator(f"#operations-{tag}-{operation_id}")
    operation.wait_for()
    operation.scroll_into_view_if_needed()
    return operation


def try_it_out(operation: Any, parameter: str) -> Any:
    """Press "Try it out" until the operation's inputs are editable; the input of `parameter`.

    Swagger UI re-renders an operation just opened by a deep link, and a click landing on the
    outgoing render is lost (the inputs stay disabled), so press again when that happened."""
    field = operation.locator(f"tr[data-param-name='{parameter}'] input")
    for _ in range(5):
        if field.is_enabled():
            break
        button = operation.locator("button.try-out__btn")
        if button.count() and "cancel" not in (button.get_attribute("class") or ""):
            button.click()
        try:
            field.wait_for(state="visible", timeout=2000)
            operation.page.wait_for_function(
                "el => !el.disabled", arg=field.element_handle(), timeout=2000
            )
        except Exception:  # noqa: S112 (lost click: try again)
            continue
    return field
