"""How fast Results answers in a real browser, for two quick comparisons of 9 runs each.

    python benchmarks/results_load.py --prepare DIR             # queue and train two quick comparisons into DIR
    python benchmarks/results_load.py --data DIR [--repeats 5] [--checkout NAME=PATH ...]

Each checkout (default: this one, named "now"; e.g. ``--checkout before=/tmp/old --checkout after=.``, a
git worktree of an older commit beside this one) is started as `make run` does (`streamlit run serve.py`,
its own code on PYTHONPATH) on the same prepared data folder, and timed in Debian's Chromium with Playwright,
a fresh browser context per repeat, from the action until what it asked for is on screen and the page is idle
(no element left stale, no running-status widget):

- **load**: open /results (the newest comparison) until the Downloads section is drawn;
- **switch comparison**: pick the other comparison in "Comparison" (until its maps are drawn);
- **switch predictions**: pick another run in the predictions' "Run" box (until its confusion matrix is);
- **t-SNE click**: click a point of the first map until its neighbours are shown.

The named baseline is a one-line Streamlit page's first visit, measured in the same run. Targets (issue 21):
each ≤ 2 s, the t-SNE click ≤ 1 s. Prints Markdown for docs/benchmarks.md; medians of the repeats.
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.app_load import FLAGS, first_visit, serve  # noqa: E402
from benchmarks.common import machine  # noqa: E402

PLOT = ".js-plotly-plot"
# the page position of one point of a plotly chart: plotly's own axis maps, so a click lands on the point
POINT_XY = """(gd) => {
    const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, trace = gd._fullData[0];
    const box = gd.getBoundingClientRect();
    return [box.left + xa._offset + xa.l2p(trace.x[0]), box.top + ya._offset + ya.l2p(trace.y[0])];
}"""


def prepare(data: Path, seeds: int) -> None:
    """Queue ``seeds`` quick comparisons (Home's plan: 4 runs, random init, 4 fine-tunes) and train them all."""
    from sslcore.plans import quick_finetunes, quick_runs
    from sslcore.runs import RunStore

    store = RunStore(data)
    for seed in range(seeds):
        runs = quick_runs(seed)
        group, ids = store.submit_group(runs)
        for config in quick_finetunes(runs, ids):
            store.submit(config, group)
    subprocess.run(
        [sys.executable, "-m", "sslcore", "worker", "--idle-exit", "5", "--data-dir", str(data)], cwd=ROOT, check=True
    )
    failed = [r.id for r in store.list() if r.status != "succeeded"]
    print(f"{len(store.list())} runs in {data}; not succeeded: {failed or 'none'}")


IDLE = """() => !document.querySelector("[data-stale='true'], [data-testid='stStatusWidget']")"""
# the st-key-<prefix>… classes on the page: the keys of the elements drawn, e.g. map-<run id>
KEYS = """(prefix) => [...document.querySelectorAll(`[class*='st-key-${prefix}']`)]
    .map(e => [...e.classList].find(c => c.startsWith('st-key-' + prefix)))"""
CHANGED = f"""({{prefix, before}}) => {{ const now = ({KEYS})(prefix);
    return now.length > 0 && JSON.stringify(now) !== JSON.stringify(before); }}"""


def settled(page, done: str, arg=None, timeout: float = 60_000) -> None:
    """Wait until what the action asked for is on screen (``done``: a JavaScript predicate of ``arg``), then until
    the page is idle: no element left stale (Streamlit marks what a running rerun has not redrawn yet) and no
    running-status widget (it leaves with a 0.2 s fade, the same for every checkout). The status widget alone
    cannot be waited for: a rerun shorter than its appearance never shows it."""
    page.wait_for_function(done, arg=arg, timeout=timeout)
    page.wait_for_function(IDLE, timeout=timeout)


def pick(page, label: str, index: int, result_prefix: str) -> float:
    """Open the select box called ``label``, choose its ``index``-th option, and time until the elements keyed
    ``result_prefix`` (what the choice redraws) have changed and the page is idle."""
    box = page.get_by_test_id("stSelectbox").filter(has=page.get_by_text(label, exact=True)).first
    box.scroll_into_view_if_needed()
    box.click()
    options = page.get_by_role("option")
    options.first.wait_for()
    before = page.evaluate(KEYS, result_prefix)
    start = time.perf_counter()
    options.nth(index).click()
    settled(page, CHANGED, {"prefix": result_prefix, "before": before})
    return time.perf_counter() - start


def one_visit(browser, url: str) -> dict[str, float]:
    """Load Results, switch comparison and back, switch the predictions' run, click a map point."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    out = {}
    start = time.perf_counter()
    page.goto(f"{url}/results")
    settled(
        page,
        "() => [...document.querySelectorAll('h3')].some(h => h.textContent.includes('Downloads'))",
        timeout=120_000,
    )
    out["load"] = time.perf_counter() - start
    out["switch comparison"] = pick(page, "Comparison", 1, "map-")  # other runs: other maps
    pick(page, "Comparison", 0, "map-")
    out["switch predictions"] = pick(page, "Run", 1, "confusion-")  # another run's confusion matrix
    target = page.locator(f"[class*='st-key-map-'] {PLOT}").first  # st.plotly_chart(key="map-<run id>")
    target.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # plotly draws the WebGL points after the element is on screen
    x, y = target.evaluate(POINT_XY)
    start = time.perf_counter()
    page.mouse.click(x, y)
    settled(page, "() => document.body.innerText.includes('neighbour 1')")
    out["t-SNE click"] = time.perf_counter() - start
    context.close()
    return out


def measure(browser, checkout: Path, data: Path, repeats: int) -> dict[str, list[float]]:
    # a worker the app starts (the queue is empty) leaves after 5 s instead of lingering on the data folder
    env = {"PYTHONPATH": str(checkout), "PRETEXT_LAB_WORKER_IDLE_S": "5"}
    proc, url, _ = serve("serve.py", str(data), cwd=checkout, env=env)
    try:
        one_visit(browser, url)  # warm-up: imports and the first caches, as after anyone's first visit
        visits = [one_visit(browser, url) for _ in range(repeats)]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return {key: [v[key] for v in visits] for key in visits[0]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prepare", metavar="DIR", help="queue and train the comparisons into this data folder")
    parser.add_argument("--seeds", type=int, default=2, help="with --prepare: comparisons to train (seeds 0..)")
    parser.add_argument("--data", metavar="DIR", help="a prepared data folder to time Results on")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--checkout", action="append", metavar="NAME=PATH", help="code to time (repeatable)")
    args = parser.parse_args(argv)
    if args.prepare:
        prepare(Path(args.prepare), args.seeds)
        return 0
    if not args.data:
        parser.error("give --prepare DIR or --data DIR")
    from playwright.sync_api import sync_playwright

    checkouts = dict(c.split("=", 1) for c in args.checkout or [f"now={ROOT}"])
    print(f"Machine: {machine()}; data {args.data}; {args.repeats} visits per checkout after one warm-up\n")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS, headless=True)
        bare, bare_url, _ = serve("benchmarks/bare_app.py", str(args.data))
        try:
            baseline = statistics.median(first_visit(browser, bare_url, "Bare Streamlit page")[1] for _ in range(5))
        finally:
            bare.terminate()
            bare.wait(timeout=30)
        timings = {
            name: measure(browser, Path(path).resolve(), Path(args.data), args.repeats)
            for name, path in checkouts.items()
        }
        browser.close()
    print(f"Baseline: a one-line Streamlit page's first visit, median of 5: {baseline:.2f} s\n")
    print("| checkout | action | median (s) | all (s) | vs baseline |")
    print("|---|---|---:|---|---:|")
    for name, results in timings.items():
        for action, values in results.items():
            m = statistics.median(values)
            print(f"| {name} | {action} | {m:.2f} | {', '.join(f'{v:.2f}' for v in values)} | {m / baseline:.1f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
