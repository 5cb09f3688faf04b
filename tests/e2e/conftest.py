"""The browser the e2e modules share: one Chromium per module, started after that module's ``server`` fixture."""

import pytest
from e2e.server import launch_browser


@pytest.fixture(scope="module")
def browser(server):  # noqa: ARG001 - the server must be up first
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = launch_browser(pw)
        yield browser
        browser.close()
