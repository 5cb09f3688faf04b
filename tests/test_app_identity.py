"""The pages and who you are (AppTest): a typed name or a link grants nothing without the name's secret, and
queueing asks who you are first. The browser half (a reload keeps you signed in; OpenID Connect) is in
tests/e2e/test_identity_browser.py."""

import os
from pathlib import Path

import pytest
from signing import SIGN_IN, sign_in
from streamlit.testing.v1 import AppTest

from sslcore.runs import RunStore
from sslcore.runs.owners import Owners
from sslcore.train import TrainConfig

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 90


@pytest.fixture
def adas_run():
    """A run of Ada's, who claimed her name with a secret."""
    store = RunStore()  # the test's data folder, as the app sees it
    Owners(store).claim("Ada", "ada's secret")
    run_id = store.submit(TrainConfig(task="rotation", dataset="shapes", n=64, batch_size=16, budget=1.0), owner="Ada")
    store.register_worker("busy-elsewhere", os.getpid(), "")  # a live worker: the page starts none
    return store, run_id


def train_page(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    return at


def buttons_for(at: AppTest, run_id: str) -> list[str]:
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    return [b.label for b in at.button if b.key in (f"cancel-{run_id}", f"delete-{run_id}")]


def test_a_link_naming_ada_grants_nothing(adas_run):
    store, run_id = adas_run
    at = train_page({"me": "Ada"})
    assert "me" not in at.query_params  # dropped, not read
    assert buttons_for(at, run_id) == []
    assert not any("Signed in" in m.value for m in at.sidebar.markdown)
    assert at.sidebar.text_input(key="you.name").value == ""
    assert store.get(run_id).status == "queued"


def test_typing_ada_without_her_secret_grants_nothing_and_says_why(adas_run):
    store, run_id = adas_run
    for secret in ("", "a guess!"):
        at = sign_in(train_page(), "Ada", secret)
        assert [e.value for e in at.sidebar.error] == ["That name is taken: enter its secret, or pick another name."]
        assert buttons_for(at, run_id) == []
    at = sign_in(train_page(), "ada", "ada's secret")  # her secret, whatever the case she types
    assert any(m.value == "Signed in as **Ada**." for m in at.sidebar.markdown)
    assert buttons_for(at, run_id) == ["Cancel"]
    at.button(key=f"cancel-{run_id}").click().run()
    assert store.get(run_id).status == "cancelled"


def test_a_new_name_is_claimed_and_its_made_secret_shown_once():
    at = sign_in(train_page(), "Grace", "")
    secret = at.sidebar.code[0].value
    assert "shown only now" in at.sidebar.success[0].value
    assert Owners(RunStore()).sign_in("Grace", secret).owner == "Grace"
    at.run()
    assert not at.sidebar.code  # once
    assert any(m.value == "Signed in as **Grace**." for m in at.sidebar.markdown)
    short = sign_in(train_page(), "Linus", "123")
    assert "at least 6 characters" in short.sidebar.error[0].value
    assert not Owners(RunStore()).is_claimed("Linus")


def test_queueing_asks_who_you_are_first_and_queues_nothing_until_then():
    at = train_page()
    at.switch_page("views/train.py").run()
    at.multiselect(key="tasks_image").set_value(["rotation"])
    at.checkbox[0].set_value(False)
    next(b for b in at.button if b.label == "Start").click().run()
    assert not at.exception, at.exception
    assert RunStore().list() == []
    assert any("Sign in first, then press the button again" in m.value for m in at.markdown)
    at.text_input(key="ask.name").input("Ada")
    at.text_input(key="ask.secret").input("ada's secret")
    at.button(key=SIGN_IN.replace("you.", "ask.")).click().run()
    assert any(m.value == "Signed in as **Ada**." for m in at.sidebar.markdown)
    next(b for b in at.button if b.label == "Start").click().run()
    assert {r.owner for r in RunStore().list()} == {"Ada"} and len(RunStore().list()) == 2  # rotation, random init


def test_signing_out_forgets_you_on_this_page():
    at = sign_in(train_page(), "Ada")
    at.sidebar.button(key="sign_out").click().run()
    assert not any("Signed in" in m.value for m in at.sidebar.markdown)
    assert at.sidebar.text_input(key="you.name").value == ""
