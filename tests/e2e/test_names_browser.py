"""Acceptance, in a real Chromium: after a quick comparison has finished (Home's plan, smaller: its tasks, the
supervised reference, random init, each task fine-tuned on 2 labels per class and supervised from scratch on
them), every run name on Train and Results reads as words: no run id, no bare "finetune".

Read: Train's card headings; Results' tables, pickers (their options too), chart legends, titles, axis labels and
annotations, headings, messages and expanders. Captions are not read: a run's details line keeps its id there.
"""

import re

import pytest
from e2e.server import HAVE_CHROMIUM, StreamlitServer, open_page, wait_for_images, wait_idle
from seeded import small_quick_comparison

from sslcore.runs import RunStore

pytestmark = [
    pytest.mark.skipif(not HAVE_CHROMIUM, reason="Debian's chromium is not installed"),
    pytest.mark.timeout(1200),
]
RUN_ID = re.compile(r"\b[0-9a-f]{12}\b")
BARE_KIND = re.compile(r"\bfinetune\b|\brandom_init\b")
NAMED = """() => {
    const main = document.querySelector("[data-testid='stMain']") || document.body;
    const out = [];
    const add = (kind, el) => out.push([kind, (el.innerText || el.textContent || "").trim()]);
    main.querySelectorAll("[data-testid='stMarkdownContainer']").forEach(el => {
        if (!el.closest("[data-testid='stCaptionContainer']")) add("text", el);
    });
    main.querySelectorAll("[data-testid='stDataFrame']").forEach(el => add("table", el));
    main.querySelectorAll("[data-testid='stDataFrame'] [role='gridcell'], [data-testid='stDataFrame'] td")
        .forEach(el => add("cell", el));
    main.querySelectorAll("[data-testid='stSelectbox'], [data-testid='stMultiSelect']").forEach(el => add("picker", el));
    main.querySelectorAll("[data-testid='stExpander'] summary").forEach(el => add("expander", el));
    main.querySelectorAll(".js-plotly-plot .legendtext").forEach(el => add("legend", el));
    main.querySelectorAll(".js-plotly-plot .gtitle, .js-plotly-plot .annotation-text, .js-plotly-plot .xtick text")
        .forEach(el => add("chart", el));
    return out;
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("names-e2e")
    small_quick_comparison(RunStore(data), owner="ada", k=2)
    with StreamlitServer(data, env={"PRETEXT_LAB_WORKER_IDLE_S": "10"}) as srv:
        yield srv.url, data


def unreadable(texts: list[list[str]]) -> list:
    return [(kind, t) for kind, t in texts if RUN_ID.search(t) or BARE_KIND.search(t)]


def picker_options(page) -> list[list[str]]:
    """Open every selectbox and multiselect on the page and read its options (a closed picker shows one)."""
    found = []
    for picker in page.locator("[data-testid='stMain'] [data-testid='stSelectbox']").all():
        picker.scroll_into_view_if_needed()
        picker.locator("input").click()
        options = page.locator("[role='option']")
        try:
            options.first.wait_for(timeout=5_000)
        except Exception:  # noqa: BLE001 - a picker whose list did not open: its shown value was read already
            pass
        found += [["option", t] for t in options.all_inner_texts()]
        page.keyboard.press("Escape")
    return found


def test_every_run_name_on_train_and_results_reads_as_words(browser, server):
    url, data = server
    runs = RunStore(data).list()
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(120_000)

    open_page(page, f"{url}/train")
    page.get_by_text("jigsaw → fine-tuned on 2 labels/class").first.wait_for()
    train = page.evaluate(NAMED)
    headings = [t for kind, t in train if "· succeeded ·" in t]
    assert len(headings) == len(runs), headings
    assert not unreadable(train), unreadable(train)
    assert any("supervised from scratch on 2 labels/class" in t for t in headings)
    assert any(run.id in page.inner_text("body") for run in runs)  # the ids are still there, in details lines

    open_page(page, f"{url}/results")
    page.get_by_text("What did it learn?").first.wait_for()
    page.get_by_text("Labels per class").first.wait_for()
    wait_idle(page, timeout=120_000)
    page.locator("[data-testid='stDataFrame']").first.wait_for()  # the tables, read while on screen
    top = page.evaluate(NAMED)
    page.mouse.wheel(0, 20_000)  # charts below the fold draw too
    wait_for_images(page)
    page.locator(".js-plotly-plot .legendtext").first.wait_for()
    results = top + page.evaluate(NAMED) + picker_options(page)
    names = " | ".join(t for _, t in results)
    for name in ("jigsaw", "relative position", "simclr", "supervised", "random init",
                 "jigsaw → fine-tuned on 2 labels/class", "supervised from scratch"):  # fmt: skip
        assert name in names, name
    # the tables were on the page (glide's grid puts its cells in the DOM only once drawn: whatever it has is read
    # above; tests/test_names.py reads every cell of both tables through AppTest)
    assert any(kind == "legend" for kind, _ in results) and any(kind == "table" for kind, _ in results)
    options = [t for kind, t in results if kind == "option"]
    assert "jigsaw → fine-tuned on 2 labels/class" in options  # the predictions' run picker, opened
    assert not unreadable(results), unreadable(results)
    page.close()
