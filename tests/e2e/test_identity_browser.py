"""Identity a class can trust, in a real Chromium (issue 21's acceptance): student B cannot act as Ada by typing
"Ada" or by opening a link with any query string, and Ada, after a reload, can still cancel her run.

The OpenID Connect half (a sign-in against a real provider owns a run) is tests/e2e/test_oidc_browser.py.
"""

import time
from urllib.parse import parse_qs, urlparse

import pytest
from e2e.server import HAVE_CHROMIUM, StreamlitServer, open_page, sign_in, submit_shortest_comparison, wait_idle

from sslcore.runs import RunStore

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian's chromium is not installed")
ADA_SECRET = "ada's own secret"
TAKEN = "That name is taken: enter its secret, or pick another name."
LINKS = ("?me=Ada", "?me=ada&owner=Ada&user=Ada&name=Ada&secret=x", "?task=rotation&me=Ada")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("identity-data")
    with StreamlitServer(data, env={"PRETEXT_LAB_WORKER_IDLE_S": "10"}) as srv:
        yield srv


def new_page(browser):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    return page


def cancel_button(page, run_id: str):
    return page.locator(f".st-key-cancel-{run_id} button")


def test_student_b_cannot_act_as_ada_and_ada_keeps_her_run_after_a_reload(browser, server):
    store = RunStore(server.data)
    ada = new_page(browser)
    open_page(ada, f"{server.url}/train")
    sign_in(ada, "Ada", ADA_SECRET)  # the first use claims the name with her secret
    ada.get_by_text("You: Ada").wait_for()  # the box folds, and names her
    submit_shortest_comparison(ada, queued=2, seconds=60)  # long enough to be unfinished when she cancels it
    runs = store.list()
    assert {r.owner for r in runs} == {"Ada"}, [r.owner for r in runs]
    target = next(r for r in runs if r.task == "rotation")
    assert "Ada" not in ada.url and not urlparse(ada.url).query  # nothing about her travels in the address

    bob = new_page(browser)
    for query in LINKS:  # a link names Ada: it shows the view, never her runs' buttons
        open_page(bob, f"{server.url}/train{query}")
        bob.get_by_text("by Ada").first.wait_for()
        assert cancel_button(bob, target.id).count() == 0, query
        assert bob.get_by_text("You: ").count() == 0, query
        assert "me" not in parse_qs(urlparse(bob.url).query), query  # the old name parameter is dropped
    for guess in ("", "ada", "a guess!"):  # typing her name, without her secret
        sign_in(bob, "Ada", guess)
        bob.get_by_text(TAKEN).wait_for()
        wait_idle(bob)
        assert cancel_button(bob, target.id).count() == 0, guess
        assert bob.get_by_text("You: ").count() == 0, guess
    assert not any(c["name"] == "pretext_lab_pass" for c in bob.context.cookies())
    assert store.get(target.id).status in ("queued", "running")

    ada.reload()  # the same browser, a new session: her pass, not the URL, says who she is
    open_page(ada, f"{server.url}/train")
    cancel_button(ada, target.id).click()
    deadline = time.monotonic() + 60
    while store.get(target.id).status != "cancelled":
        assert time.monotonic() < deadline, store.get(target.id).status
        time.sleep(0.5)
    for run in store.list():  # leave the machine quiet for the next test
        if not run.done:
            store.cancel(run.id, by="Ada")
