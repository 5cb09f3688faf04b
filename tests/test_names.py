"""Run names a student reads (sslcore.names) and one number per question, on hand-built runs and on a real
finished quick comparison (smaller, same shape: its tasks, supervised, random init, fine-tunes and scratch)."""

import csv
import io
import json
import re
from pathlib import Path

import pytest
from seeded import small_quick_comparison
from streamlit.testing.v1 import AppTest

from sslcore import lab
from sslcore.context import flags
from sslcore.learned import ceiling, curve_rows, k_choices
from sslcore.names import labels_words, picker_labels, plural, run_label, run_labels, run_names
from sslcore.predict import predict_run
from sslcore.records import Progress
from sslcore.report import results_csv
from sslcore.runs import RunStore
from sslcore.runs.store import Run
from sslcore.train import TrainConfig
from views import charts

APP = str(Path(__file__).resolve().parents[1] / "app.py")
RUN_ID = re.compile(r"\b[0-9a-f]{12}\b")
BARE_KIND = re.compile(r"\bfinetune\b|\brandom_init\b")


def run(run_id, task, created=1.0, params=None, seed=0, init_from=None, k=None, group="g1", owner="ada", results=None,
        **config) -> Run:  # fmt: skip
    config = {"task": task, "params": params or {}, "seed": seed, "dataset": "shapes", "batch_size": 256,
              "init_from": init_from, "labels_per_class": k, **config}  # fmt: skip
    return Run(
        id=run_id, group_id=group, kind="task", task=task, config=config, status="succeeded", created=created,
        started=None, finished=None, worker_id=None, heartbeat=None, progress=None, error=None, results=results,
        cancel_requested=False, owner=owner,
    )  # fmt: skip


def quick_like() -> list[Run]:
    """The runs of a quick comparison, as the store holds them (ids are 12 hex digits)."""
    return [
        run("000000000001", "random_init", 0),
        run("00000000000a", "jigsaw", 1),
        run("00000000000b", "relative_position", 2),
        run("00000000000c", "simclr", 3, batch_size=64),
        run("00000000000d", "supervised", 4),
        run("00000000000e", "finetune", 5, init_from="00000000000a", k=10),
        run("00000000000f", "finetune", 6, init_from="00000000000b", k=10),
        run("0000000000aa", "finetune", 7, init_from="00000000000c", k=10),
        run("0000000000ab", "finetune", 8, k=10),
    ]


# ------------------------------------------------------------------------------------------------ names
def test_a_quick_comparison_reads_as_words_without_ids():
    labels = run_labels(quick_like())
    assert list(labels.values()) == [
        "random init",
        "jigsaw",
        "relative position",
        "simclr",
        "supervised",
        "jigsaw → fine-tuned on 10 labels/class",
        "relative position → fine-tuned on 10 labels/class",
        "simclr → fine-tuned on 10 labels/class",
        "supervised from scratch on 10 labels/class",
    ]
    for label in labels.values():
        assert not RUN_ID.search(label) and not BARE_KIND.search(label), label


def test_scratch_on_all_labels_and_supervised_on_few_are_named_so():
    labels = run_labels([run("00000000000a", "finetune", k=None), run("00000000000b", "supervised", k=5)])
    assert list(labels.values()) == ["supervised from scratch on all labels", "supervised on 5 labels/class"]
    assert labels_words(1) == "1 label/class"


def test_sweep_runs_are_told_apart_by_the_knob_that_differs_and_a_seed_only_when_seeds_differ():
    fixed = {"all_rotations": False}
    sweep = [
        run("00000000000a", "rotation", 1, {**fixed, "angles": 2}),
        run("00000000000b", "rotation", 2, {**fixed, "angles": 4}),
    ]
    assert list(run_labels(sweep).values()) == ["rotation · angles=2", "rotation · angles=4"]
    seeds = [run("00000000000a", "rotation", 1, seed=0), run("00000000000b", "rotation", 2, seed=1)]
    assert list(run_labels(seeds).values()) == ["rotation · seed 0", "rotation · seed 1"]
    assert set(run_names(seeds).values()) == {"rotation"}  # what a chart groups the seeds under
    assert run_label(run("00000000000a", "rotation", params={"angles": 2})) == "rotation · angles=2"  # set alone


def test_runs_alike_in_everything_are_numbered_and_other_settings_named():
    twins = [run("00000000000a", "jigsaw", 1), run("00000000000b", "jigsaw", 2)]
    assert list(run_labels(twins).values()) == ["jigsaw", "jigsaw (2)"]
    batches = [run("00000000000a", "jigsaw", 1), run("00000000000b", "jigsaw", 2, batch_size=64)]
    assert list(run_labels(batches).values()) == ["jigsaw · batch 256", "jigsaw · batch 64"]
    people = [run("00000000000a", "jigsaw", 1), run("00000000000b", "jigsaw", 2, owner="ben")]
    assert list(run_labels(people).values()) == ["jigsaw · by ada", "jigsaw · by ben"]


def test_a_fine_tune_is_named_after_its_source_found_elsewhere_or_recorded():
    source = run("00000000000a", "rotation", 1, {"angles": 2})
    tuned = run("00000000000b", "finetune", 2, init_from=source.id, k=5)
    assert run_labels([tuned], {source.id: source})[tuned.id] == "rotation · angles=2 → fine-tuned on 5 labels/class"
    assert run_labels([tuned], lambda _id: source)[tuned.id].startswith("rotation · angles=2 →")
    gone = run(
        "00000000000c", "finetune", 3, init_from="0000000000ff", k=5, results={"finetune": {"source_task": "jigsaw"}}
    )
    assert run_label(gone) == "jigsaw → fine-tuned on 5 labels/class"
    assert "→ fine-tuned on 5 labels/class" in run_label(run("00000000000d", "finetune", init_from="0000000000ff", k=5))


def test_a_picker_across_comparisons_says_whose_and_when():
    mine, theirs = quick_like()[:2], [run("0000000000b1", "jigsaw", 100, group="g2", owner="ben")]
    labels = picker_labels(mine + theirs)
    assert labels["00000000000a"].startswith("jigsaw · by ada, ") and labels["0000000000b1"].startswith(
        "jigsaw · by ben, "
    )
    assert len(set(labels.values())) == 3 and not any(RUN_ID.search(v) for v in labels.values())


def test_plural():
    assert [plural(1, "image"), plural(2, "image"), plural(1500, "image"), plural(1, "run")] == [
        "1 image", "2 images", "1,500 images", "1 run"
    ]  # fmt: skip


# ------------------------------------------------------------------------------ one number per question
def tuned_results() -> dict:
    return {
        "linear_probe": 0.558, "knn": 0.5, "baseline": {"linear_probe": 0.2, "knn": 0.1}, "steps": 30,
        "test_images": 500, "finetune": {"accuracy": 0.192, "labels_per_class": 10, "draws": 3, "source_task": "jigsaw"},
    }  # fmt: skip


def test_the_csv_carries_a_fine_tunes_accuracy_and_says_what_its_probe_read():
    runs = quick_like()
    runs[5].results = tuned_results()
    runs[1].results = {"linear_probe": 0.3, "knn": 0.25, "baseline": {"linear_probe": 0.2, "knn": 0.1}}
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(results_csv([runs[1], runs[5]])))}
    tuned, jigsaw = rows[runs[5].id], rows[runs[1].id]
    assert float(tuned["finetuned_accuracy"]) == 0.192 and float(tuned["linear_probe"]) == 0.558
    assert tuned["probe_of"] == lab.PROBE_OF_FINETUNED and jigsaw["probe_of"] == "frozen features"
    assert jigsaw["finetuned_accuracy"] == "" and tuned["run"] == "jigsaw → fine-tuned on 10 labels/class"
    assert tuned["labels_per_class"] == "10"


def test_a_fine_tunes_probe_is_not_held_against_random_init():
    """Its probe reads its fine-tuned backbone: "no clear gain over random init" would judge it by the wrong number."""
    level = {**tuned_results(), "linear_probe": 0.2, "task": "finetune"}
    assert not any("random init" in f for f in flags(level, {}))
    assert any("random init" in f for f in flags({**level, "task": "jigsaw"}, {}))


# ------------------------------------------------------------------------------------- smaller fixes
def test_k_choices_ascend_with_all_last():
    assert k_choices([10, 5, 10, 1]) == [1, 5, 10]
    assert k_choices(["all", 10, 5]) == [5, 10, "all"]


def test_scratch_with_one_k_is_a_visible_dashed_line():
    rows = [{"run": "jigsaw", "labels_per_class": k, "value": 0.3, "spread": 0.01} for k in (1, 5, 10, 25)] + [
        {"run": lab.SCRATCH, "labels_per_class": 10, "value": 0.4, "spread": None}
    ]
    fig = charts.few_label_figure(rows, None)
    scratch = next(t for t in fig.data if t.name.startswith(lab.SCRATCH))
    assert scratch.line.dash == "dash" and len(scratch.x) >= 2 and min(scratch.x) < max(scratch.x)
    assert set(scratch.y) == {40.0} and "dashed line" in scratch.name


def test_train_draws_knn_in_percent_like_results():
    events = [Progress(kind="probe", elapsed=1.0, knn=0.25), Progress(kind="probe", elapsed=2.0, knn=0.5)]
    assert list(charts.knn_during_run(events).data[0].y) == [25.0, 50.0]
    steps = [Progress(kind="step", elapsed=1.0, loss=2.0, metric=0.4)]
    assert list(charts.training_curves(steps, accuracy=True).data[1].y) == [40.0]
    assert lab.metric_is_accuracy("jigsaw") and not lab.metric_is_accuracy("autoencoder")


# --------------------------------------------------------------------------- a real, finished comparison
@pytest.fixture(scope="module")
def comparison(tmp_path_factory):
    folder = tmp_path_factory.mktemp("names")
    store = RunStore(folder)
    group = small_quick_comparison(store, owner="ada", k=2)
    return folder, {r.id: r for r in store.list(group_id=group)}


def page_texts(at) -> list[str]:
    """Every name-bearing text a page shows: tables, pickers' options, charts' traces, titles and labels,
    headings, messages and expanders (not captions: a run's details line keeps its id there)."""
    texts = [str(v) for df in at.dataframe for v in df.value.astype(str).to_numpy().ravel()]
    texts += [str(o) for w in [*at.selectbox, *at.multiselect] for o in w.options]
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        for trace in spec.get("data", []):
            texts += [str(trace.get("name", ""))] + [str(x) for x in trace.get("x", []) if isinstance(x, str)]
            texts += [str(y) for y in trace.get("y", []) if isinstance(y, str)]
        layout = spec.get("layout", {})
        texts += [json.dumps(layout.get("title", "")), *(json.dumps(a) for a in layout.get("annotations", []))]
    texts += [e.value for e in [*at.markdown, *at.subheader, *at.warning, *at.info, *at.success]]
    texts += [e.label for e in at.expander]
    return texts


def assert_readable(texts: list[str]) -> None:
    bad = [t for t in texts if RUN_ID.search(t) or BARE_KIND.search(t)]
    assert not bad, bad


@pytest.mark.timeout(900)
def test_results_names_every_run_and_gives_a_fine_tune_one_number(comparison, monkeypatch):
    folder, runs = comparison
    monkeypatch.setenv("PRETEXT_LAB_DATA_DIR", str(folder))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["me"] = "ada"
    at.run()
    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    at.selectbox(key="learned-k").set_value(2).run()
    assert not at.exception, at.exception
    texts = page_texts(at)
    assert_readable(texts)
    joined = "\n".join(texts)
    for name in ("jigsaw → fine-tuned on 2 labels/class", "supervised from scratch on 2 labels/class", "simclr"):
        assert name in joined, name
    assert at.selectbox(key="learned-k").options == ["2", "5", "10"]

    tuned = next(r for r in runs.values() if r.task == lab.FINETUNE and r.config["init_from"])
    table = next(df.value for df in at.dataframe if "fine-tuned" in df.value.columns)
    row = table[table["run"] == "jigsaw → fine-tuned on 2 labels/class"].iloc[0]
    assert row["fine-tuned"] == f"{100 * tuned.results['finetune']['accuracy']:.1f}%" and row["linear probe"] == "—"
    frozen = json.loads(
        next(c for c in at.get("plotly_chart") if c.proto.id and "kNN (k=20)" in c.proto.spec).proto.spec
    )
    assert not any("fine-tuned" in x for t in frozen["data"] for x in t.get("x", [])), (
        "a fine-tune among frozen features"
    )
    bars = json.loads(next(c for c in at.get("plotly_chart") if "fine-tuned @ 2" in c.proto.spec).proto.spec)
    tuned_bar = next(t for t in bars["data"] if t["name"].startswith("fine-tuned"))
    assert pytest.approx(tuned.results["finetune"]["accuracy"] * 100) in tuned_bar["y"]

    at.segmented_control(key="learned-metric").set_value("knn").run()
    curve = next(c for c in at.get("plotly_chart") if "labels per class (log)" in c.proto.spec).proto.spec
    supervised = next(r for r in runs.values() if r.task == lab.SUPERVISED)
    line = next(s for s in json.loads(curve)["layout"]["shapes"] if s.get("y0") is not None)
    assert line["y0"] == pytest.approx(100 * supervised.results["knn"])  # the ceiling follows the read-out


@pytest.mark.timeout(600)
def test_train_names_every_card_and_shows_a_fine_tunes_accuracy_in_percent(comparison, monkeypatch):
    folder, runs = comparison
    monkeypatch.setenv("PRETEXT_LAB_DATA_DIR", str(folder))
    at = AppTest.from_file(APP, default_timeout=180)
    at.query_params["me"] = "ada"
    at.run()
    at.switch_page("views/train.py").run()
    assert not at.exception, at.exception
    headers = [m.value for m in at.markdown if "· succeeded ·" in m.value]
    assert len(headers) == len(runs)
    assert_readable(headers)
    assert any("**jigsaw → fine-tuned on 2 labels/class**" in h for h in headers)
    assert any("**supervised from scratch on 2 labels/class**" in h for h in headers)
    tuned = next(r for r in runs.values() if r.task == lab.FINETUNE and r.config["init_from"])
    captions = [c.value for c in at.caption]
    assert any(f"fine-tuned accuracy {100 * tuned.results['finetune']['accuracy']:.1f}%" in c for c in captions)
    assert any(f"run id {tuned.id}" in c for c in captions)  # the id stays, in the details line


@pytest.mark.timeout(600)
def test_fine_tunes_and_scratch_predict_class_names(comparison):
    folder, runs = comparison
    store = RunStore(folder)
    for tuned in (r for r in runs.values() if r.task == lab.FINETUNE):
        shown = predict_run(store.run_dir(tuned.id), tuned.config, count=3)
        names = tuned.results["class_names"]
        for item in shown.items:
            guess = item.label.split("network: ")[1]
            assert not re.match(r"class \d", guess) and any(guess.startswith(n) for n in names), item.label


@pytest.mark.timeout(600)
def test_a_custom_run_predicts_in_its_designs_words(tmp_path):
    from sslcore.runs import Worker

    store = RunStore(tmp_path)
    design = '{"name": "Which flip", "target": "which", "transforms": ["hflip", "vflip"]}'
    config = TrainConfig(
        task="custom", params={"definition": design}, dataset="shapes", n=64, batch_size=16, epochs=0.5
    )
    run_id = store.submit(config, owner="ada")
    Worker(store).run(max_runs=1)
    finished = store.get(run_id)
    assert finished.status == "succeeded", finished.error
    shown = predict_run(store.run_dir(run_id), finished.config, count=3)
    for item in shown.items:
        guess = item.label.split("network: ")[1]
        assert guess.split(" ✓")[0].split(" ✗")[0] in ("none", "Horizontal flip", "Vertical flip"), item.label
    assert run_label(finished) == "custom: Which flip"


def test_learned_rows_name_runs_without_ids(comparison):
    _, runs = comparison
    everything = list(runs.values())
    rows = curve_rows(everything, everything)
    assert rows and not any(RUN_ID.search(r["run"]) for r in rows)
    assert ceiling(everything, "knn")["metric"] == "knn"
