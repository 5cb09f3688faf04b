"""Signing in with OpenID Connect (``st.login``) end to end, in a real Chromium against a real provider started
here: oidc-provider from npm (tests/e2e/oidc/, installed by .ci/run with ``npm ci``, or by this test when its
node_modules is missing). The app gets an ``[auth]`` secrets file pointing at the provider, as a deployer would
write it (docs/identity.md). A person signs in, queues a run, and the run belongs to their account.
"""

import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
from e2e.server import HAVE_CHROMIUM, StreamlitServer, free_port, open_page, submit_shortest_comparison, wait_idle

from sslcore.runs import RunStore

NODE, NPM = shutil.which("node"), shutil.which("npm")
pytestmark = [
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian's chromium is not installed"),
    pytest.mark.skipif(
        not (NODE and NPM), reason="node and npm are needed to run the test OpenID Connect provider (oidc-provider)"
    ),
]
OIDC = Path(__file__).resolve().parent / "oidc"
CLIENT_ID, CLIENT_SECRET = "pretext-lab", "test-client-secret"


@pytest.fixture(scope="module")
def provider():
    """oidc-provider on a free loopback port; yields (provider port, the app's port its client redirects to)."""
    if not (OIDC / "node_modules" / "oidc-provider").is_dir():
        subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=OIDC, check=True, timeout=600)
    port, app_port = free_port(), free_port()
    redirect = f"http://127.0.0.1:{app_port}/oauth2callback"
    proc = subprocess.Popen(
        [NODE, "provider.mjs", str(port), redirect, CLIENT_ID, CLIENT_SECRET],
        cwd=OIDC,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/.well-known/openid-configuration", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError(f"the OIDC provider did not start: {proc.stdout.read().decode()[-2000:]}") from None
            time.sleep(0.2)
    yield port, app_port
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture(scope="module")
def server(provider, tmp_path_factory):
    port, app_port = provider
    folder = tmp_path_factory.mktemp("oidc-app")
    secrets = folder / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{app_port}/oauth2callback"\n'
        'cookie_secret = "a-long-random-string-for-the-test-only"\n'
        f'client_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\n'
        f'server_metadata_url = "http://127.0.0.1:{port}/.well-known/openid-configuration"\n'
        'client_kwargs = { prompt = "login" }\n'
    )
    env = {"PRETEXT_LAB_WORKER_IDLE_S": "10"}
    with StreamlitServer(folder / "data", port=app_port, env=env, args=("--secrets.files", str(secrets))) as srv:
        yield srv


def test_an_oidc_sign_in_owns_the_run_it_queues(browser, server, provider):
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(60_000)
    open_page(page, f"{server.url}/train")
    assert page.locator(".st-key-you-name").count() == 0  # with a provider configured, accounts replace typed names
    page.get_by_test_id("stSidebar").get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"127\.0\.0\.1:{provider[0]}/interaction/"))
    page.locator("input[name=login]").fill("ada")
    page.locator("input[name=password]").fill("anything")
    page.get_by_role("button", name="Sign-in").click()
    page.get_by_role("button", name="Continue").click()  # consent to share e-mail and profile
    page.wait_for_url(re.compile(rf"127\.0\.0\.1:{server.port}/"))
    open_page(page, f"{server.url}/train")
    you = page.get_by_test_id("stSidebar").get_by_test_id("stExpander").filter(has_text="You")
    you.locator("summary").click()  # folded once you are signed in
    you.get_by_text("Signed in as Ada (ada@example.org)").wait_for()
    submit_shortest_comparison(page, queued=2)
    store = RunStore(server.data)
    runs = store.list()
    assert {r.owner for r in runs} == {"oidc:ada@example.org"}, [r.owner for r in runs]

    page.reload()  # Streamlit's own cookie keeps the account across a reload
    open_page(page, f"{server.url}/train")
    run = next(r for r in store.list() if r.task == "rotation")
    page.locator(f".st-key-cancel-{run.id} button, .st-key-delete-{run.id} button").click()  # the one its state offers
    deadline = time.monotonic() + 60
    while (left := [r for r in store.list() if r.id == run.id]) and left[0].status != "cancelled":
        assert time.monotonic() < deadline, left[0].status
        time.sleep(0.5)
    wait_idle(page)
    for r in store.list():  # leave the machine quiet
        if not r.done:
            store.cancel(r.id, by="oidc:ada@example.org")
