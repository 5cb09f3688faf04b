"""The Streamlit server restarts while a run is queued or running: the open page reconnects by itself, the
run is still listed and finishes, and it executes exactly once (the worker is its own process; the run
store is the only shared state). Real headless Chromium against `streamlit run app.py`.
"""

import time

import pytest
from e2e.server import (
    CONNECTED,
    HAVE_CHROMIUM,
    StreamlitServer,
    launch_browser,
    open_page,
    sign_in,
    stop_workers,
    submit_shortest_comparison,
)

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian's chromium is not installed")

BUDGET_S = 6  # long enough that the run cannot be over before the server is stopped


def test_run_survives_a_server_restart(tmp_path):
    from playwright.sync_api import sync_playwright

    from sslcore.runs import RunStore

    data = tmp_path / "data"
    server = StreamlitServer(data, env={"PRETEXT_LAB_WORKER_IDLE_S": "20"})
    server.start()
    try:
        with sync_playwright() as pw:
            browser = launch_browser(pw)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            open_page(page, f"{server.url}/train")
            sign_in(page, "ada", "ada's secret")
            submit_shortest_comparison(page, queued=2, seconds=BUDGET_S)
            store = RunStore(data)
            [run] = [r for r in store.list() if r.task == "rotation"]
            # "about BUDGET_S seconds here", queued as compute with a wall-clock safety cap above it
            assert run.config["budget"] is None and run.config["compute"] > 0, run.config
            assert run.config["max_seconds"] > BUDGET_S
            page.get_by_text(run.id).first.wait_for()

            server.stop()  # while the run is queued or running
            assert store.get(run.id).status in ("queued", "running"), store.get(run.id).status
            page.wait_for_selector(CONNECTED, state="detached", timeout=30_000)  # the page noticed
            server.start()  # same port, same data directory
            page.wait_for_selector(CONNECTED, timeout=60_000)  # the page reconnects by itself
            page.get_by_text(run.id).first.wait_for()
            deadline = time.monotonic() + 75
            while (body := page.inner_text("body")).count("· succeeded") < 2:
                assert time.monotonic() < deadline, "runs did not finish after the restart:\n" + body
                assert "· failed" not in body, body
                page.wait_for_timeout(500)
            assert run.id in body
    finally:
        server.stop()
        stop_workers(data)

    runs = RunStore(data).list()
    assert sorted((r.task, r.status) for r in runs) == [("random_init", "succeeded"), ("rotation", "succeeded")], [
        (r.task, r.status, r.error) for r in runs
    ]  # nothing submitted twice when the page reconnected and reran
    for r in runs:
        kinds = [e["kind"] for e in RunStore(data).events_since(r.id)]
        assert kinds.count("start") == 1 and kinds.count("end") == 1, (r.task, kinds)  # executed exactly once
        assert r.results["status"] == "finished" and r.worker_id
