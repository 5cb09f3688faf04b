"""Runs belong to someone, in a real Chromium: two students in two browser contexts and a teacher.

B cannot cancel or delete A's run (no buttons, and the run store itself refuses), each opens Results on
their own comparison, and the teacher's token deletes everything.
"""

import re
import time

import pytest
from e2e.server import HAVE_CHROMIUM, StreamlitServer, open_page, sign_in, submit_shortest_comparison, wait_idle
from playwright.sync_api import expect

from sslcore.runs import NotAllowed, RunStore

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian's chromium is not installed")
TOKEN = "e2e-teacher-token"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("owners-data")
    env = {"PRETEXT_LAB_WORKER_IDLE_S": "10", "PRETEXT_LAB_TEACHER_TOKEN": TOKEN}
    with StreamlitServer(data, env=env) as srv:
        yield srv


def new_page(browser):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    return page


def start_comparison(page, url: str, name: str) -> None:
    """Open Train, sign in as ``name`` and start the shortest rotation comparison (rotation + random init)."""
    open_page(page, f"{url}/train")
    sign_in(page, name, f"{name}'s secret")
    submit_shortest_comparison(page, queued=2)


def wait_all_done(store: RunStore, count: int, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while (runs := store.list()) and not (len(runs) == count and all(r.done for r in runs)):
        assert time.monotonic() < deadline, [(r.task, r.status) for r in runs]
        time.sleep(1)
    assert {r.status for r in store.list()} == {"succeeded"}, [(r.task, r.error) for r in store.list()]


def delete_button(page, run_id: str):
    return page.locator(f".st-key-delete-{run_id} button")


def test_two_students_and_a_teacher(browser, server):
    store = RunStore(server.data)
    alice, bob = new_page(browser), new_page(browser)
    start_comparison(alice, server.url, "alice")
    start_comparison(bob, server.url, "bob")
    wait_all_done(store, 4)
    by = {name: [r for r in store.list() if r.owner == name] for name in ("alice", "bob")}
    assert len(by["alice"]) == len(by["bob"]) == 2

    # B sees every run, but the buttons only on its own; A likewise
    for page, mine, theirs in ((bob, by["bob"], by["alice"]), (alice, by["alice"], by["bob"])):
        open_page(page, f"{server.url}/train")  # the same browser: still signed in
        for run in mine:
            delete_button(page, run.id).wait_for()
        for run in theirs:
            assert delete_button(page, run.id).count() == 0
    # ... and the store itself refuses, whatever a page shows
    for verb in ("cancel", "delete"):
        with pytest.raises(NotAllowed):
            getattr(store, verb)(by["alice"][0].id, by="bob")
    assert len(store.list()) == 4

    # each opens Results on their own comparison
    for page, name in ((alice, "alice"), (bob, "bob")):
        open_page(page, f"{server.url}/results")
        group = by[name][0].group_id
        picker = page.locator(".st-key-comparison input")
        expect(picker).to_have_value(re.compile(f"^you · .*{group[:6]}$"), timeout=60_000)

    # the teacher's token deletes everything, Alice's and Bob's alike
    teacher = new_page(browser)
    open_page(teacher, f"{server.url}/train")
    token = teacher.locator(".st-key-teacher_token input")
    token.fill(TOKEN)
    token.press("Enter")
    teacher.get_by_text("Teacher mode").wait_for()
    for run in store.list():
        delete_button(teacher, run.id).wait_for()
    while store.list():
        run = store.list()[0]
        delete_button(teacher, run.id).click()
        wait_idle(teacher)
        deadline = time.monotonic() + 30
        while run.id in {r.id for r in store.list()}:
            assert time.monotonic() < deadline, f"the teacher could not delete {run.id}"
            time.sleep(0.3)
    assert store.list() == []
