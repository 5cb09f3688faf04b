"""Where Results spends its time, in-process: the page's reruns under AppTest, timed and profiled per section.

    python benchmarks/results_sections.py --data DIR [--checkout PATH ...] [--repeats 3] [--top 25]

The browser benchmark (benchmarks/results_load.py) says how long a person waits; this one says why. Each
checkout (default: this one) runs in its own Python process on a copy of DIR (a data folder with finished
comparisons, e.g. one made by ``results_load.py --prepare``), and AppTest plays what a person does:

- **first visit**: the process's first Results page (imports, cold caches), and each action's first time
  (what the first person to open a comparison waits for): reported apart;
- **load**: a new session opens Results (process caches warm, as after anyone's first visit);
- **switch comparison**: pick the other comparison in "Comparison" (when DIR has two);
- **switch predictions**: pick another run in the predictions' "Run" box;
- **t-SNE click**: select a point of the first map (the selection a plotly click sends, injected as the
  widget's state: AppTest cannot click a chart).

An action whose widget sits in an ``st.fragment`` is replayed the way the server replays it, as a rerun of
that fragment alone. Times are the script thread's wall and CPU seconds (``time.thread_time``), medians of
``--repeats``; with ``--top`` each action is profiled once more (cProfile) and the functions of the page and
``sslcore`` that took the most cumulative time are listed, which is what docs/benchmarks.md quotes.
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Streamlit's own share of a rerun, listed beside the page's functions: drawing charts (plotly's to_dict and
# to_json), images, tables, download payloads
STREAMLIT_CALLS = {"plotly_chart", "image", "dataframe", "download_button", "to_json", "_run_fragment"}


def _instrument(record: dict) -> None:
    """Time (and, when ``record["profile"]`` is set, profile) every script run and remember the fragments."""
    import streamlit.runtime.fragment as fragment_module
    import streamlit.runtime.scriptrunner.script_runner as runner_module

    run_script = runner_module.exec_func_with_error_handling

    def timed(func, ctx):
        profile = cProfile.Profile() if record.get("profile") else None
        cpu, wall = time.thread_time(), time.perf_counter()
        if profile:
            profile.enable()
        try:
            return run_script(func, ctx)
        finally:
            if profile:
                profile.disable()
                record["stats"] = profile
            record["cpu"], record["wall"] = time.thread_time() - cpu, time.perf_counter() - wall

    runner_module.exec_func_with_error_handling = timed
    identity = fragment_module._make_fragment_identity

    def named(func, *args, **kwargs):
        made = identity(func, *args, **kwargs)
        record.setdefault("fragments", {}).setdefault(func.__qualname__, {})[made.fragment_id] = None  # in order
        return made

    fragment_module._make_fragment_identity = named


def _rerun(at, record: dict, fragment: str | None = None, extra=None):
    """Rerun ``at`` with its widgets' states (plus ``extra``, a WidgetState); as a rerun of the fragment named
    ``fragment`` alone (its first call on the page) when the page draws one by that name, as the server does for
    a widget inside it."""
    import streamlit.testing.v1.local_script_runner as local

    states = at._tree.get_widget_states()
    if extra is not None:
        states.widgets.append(extra)
    fragment_id = next(iter(record.get("fragments", {}).get(fragment, {})), None) if fragment else None  # the first
    plain = local.RerunData
    if fragment_id:
        local.RerunData = functools.partial(plain, fragment_id_queue=[fragment_id])
    page = at._tree
    try:
        at._run(states)
    finally:
        local.RerunData = plain
    assert not at.exception, at.exception
    if fragment_id:  # what the browser still shows: the page, with the fragment redrawn
        at._tree = page
    return bool(fragment_id)


def _selection(at):
    """The widget state a click on a point of the first t-SNE map sends (its ``customdata``: an embedding row)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetState

    chart = next(c for c in at.get("plotly_chart") if "map-" in c.proto.id)
    point = {"curve_number": 0, "point_number": 0, "point_index": 0, "customdata": 0}  # row 0 of the embedding
    state = WidgetState(id=chart.proto.id)
    state.string_value = json.dumps({"selection": {"points": [point], "point_indices": [0], "box": [], "lasso": []}})
    return state


def _choose(box, ids: set[str]):
    """Pick another option of a select box whose options are run or group ids shown by their names (AppTest's
    ``select_index`` hands the shown name back as the value)."""
    other = next(i for i in ids if i != box.value and box.format_func(i) in box.options)
    return box.set_value(other)


def _actions(data: Path, record: dict):
    """Yield (action name, what it rerun) after each action of one visit, on a fresh AppTest session."""
    from streamlit.testing.v1 import AppTest

    from sslcore.runs import RunStore

    ids = {i for r in RunStore(data).list() for i in (r.id, r.group_id)}
    at = AppTest.from_file(str(Path.cwd() / "app.py"), default_timeout=600).run()
    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    yield "load", "page"
    box = at.selectbox(key="comparison")
    if len(box.options) > 1:
        first = box.value
        _choose(box, ids).run()
        assert not at.exception, at.exception
        yield "switch comparison", "page"
        at.selectbox(key="comparison").set_value(first).run()
    _choose(at.selectbox(key="predict-run"), ids)
    fragment = _rerun(at, record, "predictions_section")
    yield "switch predictions", "fragment" if fragment else "page"
    fragment = _rerun(at, record, "map_panel", _selection(at))
    yield "t-SNE click", "fragment" if fragment else "page"


def one_checkout(data: Path, repeats: int, top: int) -> dict:
    """Run in a checkout's own process (cwd = the checkout): every action's times, and its profile."""
    record: dict = {}
    _instrument(record)
    times: dict[str, list] = {}
    scopes: dict[str, str] = {}
    for visit in range(repeats + 1):
        for action, scope in _actions(data, record):
            # the first visit fills the caches: its actions are reported apart from the later visits'
            name = ("first visit" if action == "load" else f"{action}, first time") if visit == 0 else action
            times.setdefault(name, []).append((record["wall"], record["cpu"]))
            scopes[name] = scope
    profiles = {}
    if top:
        record["profile"] = True
        for action, _ in _actions(data, record):
            stats = pstats.Stats(record["stats"])
            ours = [
                (value[3], f"{Path(file).parent.name}/{Path(file).name}:{func}")
                for (file, _, func), value in stats.stats.items()
                if (("/views/" in file or "/sslcore/" in file) and func != "<module>") or func in STREAMLIT_CALLS
            ]
            profiles[action] = sorted(ours, reverse=True)[:top]
        record["profile"] = False
    return {
        "times": {
            a: {
                "wall": statistics.median(w for w, _ in v),
                "cpu": statistics.median(c for _, c in v),
                "scope": scopes[a],
            }
            for a, v in times.items()
        },
        "profiles": profiles,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a data folder with finished comparisons (copied, never written)")
    parser.add_argument("--checkout", action="append", metavar="PATH", help="code to time (repeatable)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--top", type=int, default=20, help="functions listed per action (0: no profile)")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # inside a checkout's process
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(one_checkout(Path(args.data), args.repeats, args.top)))
        return 0
    results = {}
    for checkout in args.checkout or [str(ROOT)]:
        path = Path(checkout).resolve()
        with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:  # an app-started worker may linger
            copy = Path(tmp) / "data"
            shutil.copytree(args.data, copy)
            env = {
                **os.environ,
                "PYTHONPATH": str(path),
                "PRETEXT_LAB_DATA_DIR": str(copy),
                "PRETEXT_LAB_WORKER_IDLE_S": "1",
            }
            command = [sys.executable, str(Path(__file__).resolve()), "--one", "--data", str(copy)]
            command += ["--repeats", str(args.repeats), "--top", str(args.top)]
            done = subprocess.run(command, cwd=path, env=env, capture_output=True, text=True)
            if done.returncode:
                print(done.stderr[-4000:], file=sys.stderr)
                return done.returncode
            results[str(path)] = json.loads(done.stdout.strip().splitlines()[-1])
    print("| checkout | action | reruns | wall (s) | CPU (s) |\n|---|---|---|---:|---:|")
    for path, result in results.items():
        for action, t in result["times"].items():
            print(f"| {path} | {action} | {t['scope']} | {t['wall']:.2f} | {t['cpu']:.2f} |")
    for path, result in results.items():
        for action, rows in result["profiles"].items():
            print(f"\n{path}, {action}: cumulative seconds under cProfile")
            for seconds, func in rows:
                print(f"  {seconds:7.3f}  {func}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
