"""The Train and Results charts, called as functions with the records of a tiny real run (written to a real run
store the way the worker writes them, read back typed) and with hand-built rows where a chart needs many runs."""

import numpy as np
import pytest

from sslcore import artifacts, lab
from sslcore.experiment import run_experiment
from sslcore.learned import bar_rows, ceiling, curve_rows, factor_rows
from sslcore.records import Progress, RunResults
from sslcore.report import pretext_points, result_row
from sslcore.runs import RunStore
from sslcore.train import TrainConfig
from views import charts

FAST = dict(dataset="shapes", n=80, batch_size=16, probe_every=0.5, probe_size=20)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One short real run, queued, followed and finished in a run store as the worker does it."""
    root = tmp_path_factory.mktemp("data")
    store = RunStore(root)
    config = TrainConfig(task="rotation", budget=1.5, **FAST)
    run_id = store.submit(config, owner="ada")
    assert store.claim("w-test").id == run_id
    results = run_experiment(
        config,
        store.run_dir(run_id),
        on_event=lambda e: store.add_event(run_id, e, progress=e["kind"] in ("start", "step", "evaluating")),
        data_dir=root,
        embed="pca",
    )
    store.finish(run_id, "succeeded", results=results)
    return store, store.get(run_id), results


def test_every_field_the_run_wrote_is_typed(finished):
    """A field added to results or to the trainer's events without a name in the records fails here."""
    store, run, results = finished
    assert run.results_record.unknown == {} and run.results_record.baseline.unknown == {}
    assert all(p.unknown == {} for p in run.results_record.probe_curve)
    assert RunResults.from_dict(run.results).to_dict() == run.results
    events = store.progress_since(run.id)
    assert {e.kind for e in events} >= {"start", "step", "probe", "end", "evaluating"}
    assert all(e.unknown == {} for e in events), [e.unknown for e in events if e.unknown]
    assert run.progress_record.kind == "evaluating"


def test_train_charts_draw_loss_metric_and_knn_over_training_seconds(finished):
    store, run, _ = finished
    events = store.progress_since(run.id)
    steps = [e for e in events if e.kind == "step"]
    fig = charts.training_curves(events)
    assert [t.name for t in fig.data] == ["loss", "pretext"]
    assert list(fig.data[0].x) == [e.elapsed for e in steps] and list(fig.data[0].y) == [e.loss for e in steps]
    assert list(fig.data[1].y) == [e.metric for e in steps]
    assert fig.layout.xaxis.title.text == "training seconds" and fig.layout.title.text == "loss and pretext metric"
    knn = charts.knn_during_run(events)
    probes = [e for e in events if e.kind == "probe"]
    assert [t.name for t in knn.data] == ["kNN"] and list(knn.data[0].y) == [100 * p.knn for p in probes]  # % as Results
    assert len(probes) >= 2 and knn.layout.showlegend is False
    assert charts.training_curves([e for e in events if e.kind != "step"]) is None  # nothing to draw yet


def test_probe_curve_chart_draws_each_runs_knn_in_percent(finished):
    _, run, results = finished
    fig = charts.probe_curves([("rotation", run.results_record)])
    assert [t.name for t in fig.data] == ["rotation"]
    assert list(fig.data[0].x) == [p["elapsed"] for p in results["probe_curve"]]
    assert list(fig.data[0].y) == pytest.approx([100 * p["knn"] for p in results["probe_curve"]])
    assert fig.layout.yaxis.title.text == "kNN accuracy (%)"


def test_accuracy_chart_puts_the_baseline_first_with_chance(finished):
    _, run, results = finished
    fig = charts.accuracy_figure([result_row(run)])
    bars = [t for t in fig.data if t.type == "bar"]
    assert [b.name for b in bars] == ["linear probe", "kNN (k=20)"]
    assert list(bars[0].x) == ["random init (baseline)", "rotation"]
    assert list(bars[0].y) == pytest.approx([100 * results["baseline"]["linear_probe"], 100 * results["linear_probe"]])
    assert fig.layout.shapes[0].y0 == pytest.approx(100 / 12)  # chance: 12 classes of shapes
    # two seeds: the dots of each seed appear, and the whiskers
    rows = [result_row(run), {**result_row(run), "linear_probe": 0.9, "knn": 0.8}]
    two = charts.accuracy_figure(rows)
    assert "linear probe: each seed" in [t.name for t in two.data] and two.data[0].error_y.visible
    assert max(len(v) for v in charts.accuracy_groups(rows).values()) == 2


def test_pretext_chart_places_each_run_on_the_common_scale(finished):
    _, run, results = finished
    points = pretext_points([run])
    fig = charts.pretext_figure(points)
    assert [t.name for t in fig.data] == ["rotation"] and list(fig.data[0].y) == [
        pytest.approx(100 * results["linear_probe"])
    ]
    assert -0.5 <= fig.data[0].x[0] <= 1.0  # accuracy of 4 angles: chance 0.25 -> 0
    assert fig.layout.xaxis.title.text.startswith("pretext success")


def test_map_word_and_confusion_charts(finished):
    store, run, results = finished
    emb = artifacts.load_embedding(store.run_dir(run.id))
    fig = charts.embedding_map(emb, results["class_names"], "rotation")
    labels = sorted(set(emb["labels"].tolist()))
    assert [t.name for t in fig.data] == [results["class_names"][k] for k in labels]
    assert sum(len(t.x) for t in fig.data) == len(emb["labels"])
    first = fig.data[0]
    assert (emb["labels"][np.asarray(first.customdata)] == labels[0]).all()  # a selection finds its rows
    words = {"words": np.array(["cat", "dog", "sun"]), "word_coords": np.array([[0, 1], [1, 0], [2, 2]], np.float32)}
    wfig = charts.word_map(words, "masked_language", labelled=2)
    assert list(wfig.data[0].text) == ["cat", "dog", "sun"] and list(wfig.data[1].text) == ["cat", "dog"]
    conf = charts.confusion_figure(results["confusion"], results["class_names"], "rotation")
    right = sum(results["confusion"][i][i] for i in range(len(results["confusion"])))
    assert conf.layout.title.text.startswith(f"Linear probe on rotation's features: {right} of ")
    assert conf.layout.xaxis.title.text == "predicted class" and conf.data[0].zmax == 100


def test_what_it_learned_charts_from_the_runs_rows(finished):
    _, run, _ = finished
    rows = curve_rows([run], [run], "linear_probe")
    fig = charts.few_label_figure(rows, ceiling([run]))
    assert [t.name for t in fig.data] == ["rotation", "random init"]  # named by sslcore.names: no id
    mine = sorted(
        (r for r in rows if r["run"] == fig.data[0].name), key=lambda r: charts.label_x(r["labels_per_class"], rows)
    )
    assert list(fig.data[0].x) == [charts.label_x(r["labels_per_class"], rows) for r in mine]
    assert list(fig.data[0].y) == pytest.approx([100 * r["value"] for r in mine])
    assert fig.data[1].line.dash == "dot"  # random init: dotted grey
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text == "labels per class (log)"
    bars = charts.finetune_figure(bar_rows([run], [run], 10), 10)
    assert [t.name for t in bars.data] == ["linear probe @ 10 (frozen)", "fine-tuned @ 10 (median of draws)"]
    names, factor = factor_rows([run])
    heat = charts.factor_figure(names, factor)
    assert len(heat.data[0].y) == len([r for r in factor if r["task"] != "random_init"])
    assert len(heat.data[0].x) == len(names) and heat.data[0].zmid == 0


def test_sweep_chart_draws_one_point_per_knob_value():
    points = [
        {
            "value": v,
            "steps": 10,
            "runs": 1,
            "pretext_score": s,
            "linear_probe": p,
            "knn": p,
            "baseline_probe": 0.1,
            "factors": {"class": p, "colour": 0.5},
        }
        for v, s, p in ((2, 0.9, 0.3), (3, 0.5, 0.5))
    ]
    fig = charts.sweep_figure(points, "grid", "jigsaw")
    assert [t.name for t in fig.data] == [
        "pretext (0 = chance, 100 = solved)",
        "linear probe (%)",
        "kNN (%)",
        "random init probe (%)",
        "factor: colour",
    ]
    assert list(fig.data[1].x) == ["2", "3"] and list(fig.data[1].y) == [30.0, 50.0]
    assert fig.layout.xaxis.title.text == "grid" and fig.layout.title.text == "jigsaw: what changes with grid"


def test_progress_records_are_what_the_train_card_reads():
    p = Progress.from_dict({"kind": "step", "progress": 0.5, "loss": 1.25, "images_per_s": 90.0, "eta": 3.0})
    assert (p.progress, p.loss, p.images_per_s, p.eta) == (0.5, 1.25, 90.0, 3.0)


def test_a_real_runs_stage_probes_and_their_small_multiples(finished):
    """The run and its random-init baseline probe every stage of the small CNN (one feature pass), the last
    stage is the run's own linear probe, and the chart draws each panel with random init, chance and the best."""
    _, run, results = finished
    stages = results["stages"]
    assert [(r["stage"], r["dim"]) for r in stages] == [
        ("block 1 (32 ch)", 32), ("block 2 (64 ch)", 64), ("block 3 (128 ch)", 128), ("block 4 (256 ch)", 256)
    ]
    assert all(0 <= r["linear_probe"] <= 1 for r in stages + results["baseline"]["stages"])
    assert stages[-1]["linear_probe"] == results["linear_probe"]  # block 4 is what forward pools
    assert [r["stage"] for r in results["baseline"]["stages"]] == [r["stage"] for r in stages]
    assert results["baseline"]["stages"][-1]["linear_probe"] == results["baseline"]["linear_probe"]
    panel = lab.stage_panel(run.results_record, "rotation")
    fig = charts.stage_figure([panel, {**panel, "name": "again", "baseline": None, "chance": None}])
    names = [t.name for t in fig.data]
    assert names == ["linear probe", charts.RANDOM_INIT_NAME, "chance", "best stage", "linear probe", "best stage"]
    probe, base, chance, best = fig.data[:4]
    assert list(probe.y) == pytest.approx([100 * r["linear_probe"] for r in stages])
    assert list(base.y) == pytest.approx([100 * r["linear_probe"] for r in results["baseline"]["stages"]])
    assert list(chance.y) == pytest.approx([100 / results["num_classes"]] * len(stages))
    assert list(best.y) == [max(probe.y)] and best.x[0] == probe.x[panel["best"]] and best.marker.symbol == "star"
    assert [t.showlegend for t in fig.data] == [True, True, True, True, False, False]  # one legend for all panels
    assert [a.text for a in fig.layout.annotations] == ["rotation", "again"]
    assert panel["reading"].startswith("rotation's best layer is ")
