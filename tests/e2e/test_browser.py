"""End to end in a real headless Chromium (Debian's package) driven by Playwright, against `streamlit run serve.py`:
the way `make run` starts the app (app.py behind st.App, the library imported in the background at start).

Screenshots of every page are written to $PRETEXT_LAB_SCREENSHOTS (default: tests/e2e/screenshots/).
"""

import os
import time
from pathlib import Path

import pytest
from e2e.server import (
    HAVE_CHROMIUM,
    ROOT,
    StreamlitServer,
    launch_browser,
    open_page,
    shape_png,
    sign_in,
    submit_shortest_comparison,
    wait_for_images,
)

SHOTS = Path(os.environ.get("PRETEXT_LAB_SCREENSHOTS", ROOT / "tests" / "e2e" / "screenshots"))

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("e2e-data")
    with StreamlitServer(data, env={"PRETEXT_LAB_WORKER_IDLE_S": "10"}, script="serve.py") as srv:
        yield srv.url, data


@pytest.fixture(scope="module")
def page(server):  # noqa: ARG001 - the server must be up first
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = launch_browser(pw)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(60_000)
        yield page
        browser.close()


def test_home(page, server):
    open_page(page, server[0])
    page.get_by_text("Pretext Lab", exact=False).first.wait_for()
    page.get_by_text("Rotation prediction").first.wait_for()
    wait_for_images(page)
    page.screenshot(path=str(SHOTS / "home.png"), full_page=True)


def test_explore_upload_shows_preview(page, server):
    open_page(page, f"{server[0]}/explore")
    page.get_by_text("Your own images").click()
    page.locator("input[type='file']").set_input_files(
        [{"name": "my-picture.png", "mimeType": "image/png", "buffer": shape_png()}]
    )
    page.get_by_text("rotated 90° counter-clockwise").first.wait_for()
    wait_for_images(page)
    page.screenshot(path=str(SHOTS / "explore.png"), full_page=True)


def test_train_two_tasks_then_results(page, server):
    url, data = server
    open_page(page, f"{url}/train")
    sign_in(page, "ada", "ada's secret")  # queueing asks who you are first
    tasks = page.get_by_test_id("stMultiSelect").first
    tasks.click()
    page.keyboard.type("Jigsaw")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    submit_shortest_comparison(page, queued=3)
    deadline = time.monotonic() + 240
    while (body := page.inner_text("body")).count("· succeeded") < 3:
        assert time.monotonic() < deadline, "runs did not finish in time:\n" + body
        assert "· failed" not in body, body
        time.sleep(1)
    page.screenshot(path=str(SHOTS / "train.png"), full_page=True)

    from sslcore.runs import RunStore

    runs = RunStore(data).list()
    assert sorted((r.task, r.status) for r in runs) == [
        ("jigsaw", "succeeded"), ("random_init", "succeeded"), ("rotation", "succeeded")
    ], [(r.task, r.status, r.error) for r in runs]
    open_page(page, f"{url}/results")
    chart = page.locator(".js-plotly-plot").first
    chart.wait_for()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(SHOTS / "results.png"), full_page=True)
    text = chart.inner_text()
    for name in ("random init (baseline)", "rotation", "jigsaw"):
        assert name in text, text
    page.screenshot(path=str(SHOTS / "results.png"), full_page=True)

    # "What did it learn?": the few-label curve and the factor map render from these runs' results
    section = page.get_by_text("What did it learn?", exact=True)
    section.scroll_into_view_if_needed()
    page.get_by_text("labels per class (log)").first.wait_for()
    page.get_by_text("raw pixels").first.wait_for()  # the factor map's reference row
    page.get_by_text("No fine-tunes at k = 10 yet").first.wait_for()
    page.get_by_role("button", name="What did it learn? (CSV)").wait_for()
    section.scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "results-learned.png"), full_page=True)
