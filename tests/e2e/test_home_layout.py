"""Issue 21 (12): Home's quick-comparison button text was cut off ("⚡ Quick comparison (about t…") where the
column is narrow. In a real Chromium at a wide, a middle and a phone width, the label fits inside its button."""

import pytest
from e2e.server import HAVE_CHROMIUM, StreamlitServer, open_page

pytestmark = pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian's chromium is not installed")

LABEL_FITS = """box => {
    const label = box.querySelector('[data-testid="stMarkdownContainer"]') || box;
    const text = document.createRange();
    text.selectNodeContents(label);
    const inner = box.getBoundingClientRect(), drawn = text.getBoundingClientRect();
    return {fits: drawn.left >= inner.left - 0.5 && drawn.right <= inner.right + 0.5, text: label.innerText,
            box: inner.width, label: drawn.width};
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with StreamlitServer(tmp_path_factory.mktemp("e2e-home"), script="serve.py") as srv:
        yield srv.url


@pytest.mark.parametrize("width", [1280, 900, 700, 390])
def test_the_quick_comparison_button_and_the_explore_link_show_their_whole_labels(browser, server, width):
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.set_default_timeout(120_000)
    try:
        open_page(page, server)
        button = page.get_by_role("button", name="Quick comparison")
        button.wait_for()
        seen = button.evaluate(LABEL_FITS)
        assert seen["fits"], f"at {width} px the button's label is cut off: {seen}"
        assert "Quick comparison" in seen["text"]
        link = page.locator("[data-testid='stPageLink-NavLink']", has_text="Explore a pretext task")
        seen = link.evaluate(LABEL_FITS)  # its neighbour in that row was cut off too
        assert seen["fits"], f"at {width} px the Explore link is cut off: {seen}"
    finally:
        page.close()
