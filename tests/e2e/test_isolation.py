"""Two students on one server: uploads stay in their own browser session, the run queue is shared (by
design, a class-wide queue), and the upload endpoint refuses forged (no XSRF token) and oversized requests.

Each browser context is its own Streamlit session. Real headless Chromium against `streamlit run app.py`.
"""

import http.client
import io
import time

import pytest
from e2e.server import (
    CHANGES,
    HAVE_CHROMIUM,
    ROOT,
    ScriptRuns,
    StreamlitServer,
    open_page,
    png,
    settle,
    sign_in,
)
from PIL import Image, ImageStat

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian's chromium is not installed")

RED, BLUE = (200, 30, 30), (30, 30, 200)
ORIGINALS = """() => [...document.querySelectorAll("[data-testid='stImageCaption']")]
    .filter(c => c.textContent.trim() === 'original')
    .map(c => c.closest("[data-testid='stImage']").querySelector('img').src)"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with StreamlitServer(tmp_path_factory.mktemp("isolation-data"), env={"PRETEXT_LAB_WORKER_IDLE_S": "10"}, script="serve.py") as srv:
        yield srv


class Student:
    """One browser context = one Streamlit session; remembers the upload requests its page made."""

    def __init__(self, browser, url: str):
        self.context = browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.add_init_script(CHANGES)
        self.page = self.context.new_page()
        self.page.set_default_timeout(60_000)
        self.url = url
        self.uploads: list[tuple[str, int]] = []  # (request url, response status)
        self.page.on("response", self._response)
        self.runs = ScriptRuns(self.page)

    def _response(self, response) -> None:
        if "/_stcore/upload_file/" in response.url and response.request.method == "PUT":
            self.uploads.append((response.url, response.status))

    def open_uploads(self) -> None:
        self.after(lambda: self.page.goto(f"{self.url}/explore?source=upload"), "Upload a few images")

    def after(self, action, needle: str) -> None:
        """Do ``action``; wait for the script run it causes to finish and the page to show ``needle``."""
        finished = len(self.runs.finished)
        action()
        self.runs.wait_sync(self.page, finished)
        settle(self.page, needle, self.runs, finished)

    def upload(self, files: dict[str, bytes]) -> None:
        self.after(lambda: self.page.locator("input[type='file']").set_input_files(
            [{"name": name, "mimeType": "image/png", "buffer": data} for name, data in files.items()]
        ), f"from {len(files)} image{'s' * (len(files) != 1)}")

    def rerun(self, seed: int) -> None:
        """Change the seed: a new script run of this session, which must still show only its own files."""
        box = self.page.get_by_label("Seed")
        box.fill(str(seed))
        self.after(lambda: box.press("Enter"), f"seed {seed}")

    def file_names(self) -> list[str]:
        return self.page.get_by_test_id("stFileChipName").all_inner_texts()

    def original_colours(self) -> list[tuple[float, float, float]]:
        """Mean RGB of each distinct preview image captioned "original", fetched as this browser fetches it."""
        return [
            tuple(ImageStat.Stat(Image.open(io.BytesIO(self.context.request.get(src).body())).convert("RGB")).mean)
            for src in sorted(set(self.page.evaluate(ORIGINALS)))
        ]

    def close(self) -> None:
        self.context.close()


def reddish(rgb) -> bool:
    return rgb[0] > rgb[2] + 60


def bluish(rgb) -> bool:
    return rgb[2] > rgb[0] + 60


def test_uploads_stay_in_their_own_session(server, browser):
    a, b = Student(browser, server.url), Student(browser, server.url)
    try:
        a.open_uploads()
        a.upload({"alpha-only-in-A.png": png(RED, 96, 1), "photo.png": png(RED, 96, 5)})
        assert sorted(a.file_names()) == ["alpha-only-in-A.png", "photo.png"]
        a_images = set(a.page.evaluate(ORIGINALS))  # each original appears once per rotation
        assert len(a_images) == 2 and all(reddish(c) for c in a.original_colours()), a.original_colours()

        b.open_uploads()  # same server, same page, same URL: a fresh session sees nothing of A's
        assert b.file_names() == []
        assert b.page.evaluate(ORIGINALS) == []
        assert "alpha-only-in-A" not in b.page.content()
        assert not set(a_images) & set(b.page.evaluate("() => [...document.images].map(i => i.src)"))

        b.upload({"bravo-only-in-B.png": png(BLUE, 96, 2), "photo.png": png(BLUE, 96, 7)})  # same name as A's
        a.rerun(seed=5)
        b.rerun(seed=5)
        for student, own, other, colour in ((a, "alpha-only-in-A.png", "bravo", reddish),
                                            (b, "bravo-only-in-B.png", "alpha", bluish)):
            assert sorted(student.file_names()) == [own, "photo.png"]
            assert other not in student.page.content()
            colours = student.original_colours()
            assert len(colours) == 2 and all(colour(c) for c in colours), colours  # photo.png too: no mix-up
        assert not set(a.page.evaluate(ORIGINALS)) & set(b.page.evaluate(ORIGINALS))
        assert a.uploads and b.uploads and all(status == 204 for _, status in a.uploads + b.uploads)
    finally:
        a.close()
        b.close()


def test_run_queue_is_shared_by_design(server, browser):
    from sslcore.runs import RunStore

    a, b = Student(browser, server.url), Student(browser, server.url)
    try:
        open_page(a.page, f"{server.url}/train")
        sign_in(a.page, "student-a", "a's secret")
        a.page.get_by_text("Add the supervised reference").click()
        a.page.get_by_role("slider").first.focus()
        a.page.keyboard.press("Home")  # 2 s
        a.page.get_by_text("Advanced").click()
        size = a.page.get_by_label("Dataset size (shapes)")
        size.fill("100")
        size.press("Tab")
        a.page.get_by_role("button", name="Start").click()
        a.page.get_by_text("Queued 2 runs").wait_for()
        runs = RunStore(server.data).list()
        assert sorted(r.task for r in runs) == ["random_init", "rotation"]
        open_page(b.page, f"{server.url}/train")
        for run in runs:  # B never submitted anything, and sees A's runs in the class-wide queue
            b.page.get_by_text(run.id).first.wait_for()
        deadline = time.monotonic() + 90
        while (runs := RunStore(server.data).list()) and not all(r.done for r in runs):
            assert time.monotonic() < deadline, [(r.task, r.status) for r in runs]
            time.sleep(1)
        assert [r.status for r in runs] == ["succeeded", "succeeded"], [(r.task, r.status, r.error) for r in runs]
    finally:
        a.close()
        b.close()


# -- the upload endpoint: XSRF and the size cap, checked against the running server ------------------------
def server_cap_mb() -> int:
    import tomllib

    return tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]


def put(server, path: str, body: bytes, headers: dict | None = None, chunked: bool = False, method: str = "PUT"):
    """A multipart upload the way Streamlit's frontend sends it, but from outside the browser."""
    boundary = "pretextlabboundary"
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
            "Content-Type: image/png\r\n\r\n").encode()
    payload = head + body + f"\r\n--{boundary}--\r\n".encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        conn.putrequest(method, path)
        conn.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
        conn.putheader("Transfer-Encoding" if chunked else "Content-Length", "chunked" if chunked else str(len(payload)))
        for key, value in (headers or {}).items():
            conn.putheader(key, value)
        conn.endheaders()
        try:
            for i in range(0, len(payload), 1 << 20):
                part = payload[i : i + (1 << 20)]
                conn.send(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
            if chunked:
                conn.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server may answer (413) and close before the whole body is sent
        return conn.getresponse().status
    finally:
        conn.close()


def test_upload_endpoint_needs_the_xsrf_token_and_enforces_the_size_cap(server, browser):
    student = Student(browser, server.url)
    try:
        student.open_uploads()
        student.upload({"mine.png": png(RED)})
        [(url, status)] = student.uploads
        assert status == 204  # the browser's own upload carries the token and works
        session = url.split("/_stcore/upload_file/")[1].split("/")[0]
        tokens = [c["value"] for c in student.context.cookies() if c["name"] == "_streamlit_xsrf"]
        assert tokens, "the page got no XSRF cookie: is XSRF protection off?"
        token = tokens[0]
        path = f"/_stcore/upload_file/{session}/00000000-0000-4000-8000-000000000001"
        small = png(BLUE)
        with_token = {"Cookie": f"_streamlit_xsrf={token}", "X-Xsrftoken": token}

        assert put(server, path, small) == 403  # no cookie, no token: a forged request
        assert put(server, path, small, {"Cookie": f"_streamlit_xsrf={token}"}) == 403  # cookie alone (cross-site)
        assert put(server, path, small, {"X-Xsrftoken": token}) == 403  # token without the cookie
        assert put(server, path, small, {"Cookie": "_streamlit_xsrf=2|00000000|" + "0" * 32 + "|1",
                                         "X-Xsrftoken": token}) == 403  # cookie and token do not match
        assert put(server, path, small, with_token, method="POST") == 405  # uploads are PUT only
        assert put(server, path, small, with_token) == 204  # the same request with the token: accepted

        cap = server_cap_mb()
        too_big = bytes(cap * 2**20 + 1)
        status = put(server, path, too_big, with_token)
        assert status == 413, f"{cap} MB + 1 byte: {status}"  # refused by the server, not only by the widget
        status = put(server, path, too_big, with_token, chunked=True)
        assert status == 413, f"{cap} MB + 1 byte, chunked: {status}"  # no Content-Length to trust either
        assert put(server, path, small, with_token) == 204  # and the server is still fine
    finally:
        student.close()
