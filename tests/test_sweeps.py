"""Sweeps: one knob of one task over a few values, as one comparison group; the chart against the knob."""

import json
from pathlib import Path

import pytest
from signing import sign_in
from streamlit.testing.v1 import AppTest
from test_app import wait_until

from sslcore.cli import main
from sslcore.errors import ConfigError
from sslcore.report import pretext_points
from sslcore.runs import RunStore
from sslcore.runs.store import Run
from sslcore.sweeps import (
    PRESETS,
    parse_sweep,
    pretext_score,
    reading,
    sweep_configs,
    sweep_knob,
    sweep_points,
)
from sslcore.tasks import make_params, task_class
from sslcore.tasks.custom import FLIP_TASK
from sslcore.train import TrainConfig

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.mark.parametrize(
    "task, spec, message",
    [
        ("jigsaw", "gap=0,2,2", "may appear once"),
        ("jigsaw", "gap=3", "2 to 8 values"),
        ("jigsaw", "gap=0,99", "above its maximum"),
        ("jigsaw", "spin=1,2", "no knob 'spin'"),
        ("rotation", "angles=2,3", "must be one of"),
        ("jigsaw", "gap", "knob=v1,v2"),
        ("custom", "definition=a,b", "built-in pretext task"),
        ("rotate", "angles=2,4", "unknown task"),
    ],
)
def test_bad_sweeps_are_clear_errors(task, spec, message):
    with pytest.raises(ConfigError, match=message):
        parse_sweep(task, spec)


def test_a_sweep_is_one_run_per_value_and_seed_identical_but_for_the_knob():
    knob, values = parse_sweep("masked_image", "mask_ratio=0.25, 0.75,0.9")
    assert knob == "mask_ratio" and values == [0.25, 0.75, 0.9]
    base = TrainConfig(task="masked_image", budget=5, seed=3, params={"patch": 8})
    configs = sweep_configs(base, knob, values, seeds=2)
    assert [(c.params["mask_ratio"], c.seed) for c in configs] == [(v, s) for s in (3, 4) for v in values]
    for c in configs:
        assert {k: v for k, v in c.to_dict().items() if k not in ("params", "seed")} == {
            k: v for k, v in base.to_dict().items() if k not in ("params", "seed")
        }
        assert c.params["patch"] == 8
    with pytest.raises(ConfigError, match="being swept"):
        sweep_configs(TrainConfig(task="masked_image", params={"mask_ratio": 0.5}), knob, values)


def test_every_preset_is_a_valid_sweep_with_a_reference():
    for p in PRESETS.values():
        knob, values = parse_sweep(p.task, f"{p.knob}={','.join(map(str, p.values))}")
        assert knob == p.knob and len(values) == len(p.values)
        sweep_configs(TrainConfig(task=p.task, budget=5, params=dict(p.params)), knob, values)
        assert p.reference and p.finding and task_class(p.task)


def run(task, params, probe, metric, steps=100, factors=None, run_id="0123456789ab"):
    """A finished run as the store returns it (the Results page reads nothing else)."""
    results = {
        "linear_probe": probe,
        "knn": probe - 0.05,
        "baseline": {"linear_probe": 0.2, "knn": 0.15},
        "pretext_metric": metric,
        "metric_label": "pretext accuracy",
        "steps": steps,
    }
    if factors:
        results["factors"] = {"factors": {n: {"score": s} for n, s in factors.items()}, "test_size": 500}
    return Run(
        id=run_id, group_id="g", kind="task", task=task, config={"task": task, "params": params, "batch_size": 64},
        status="succeeded", created=1, started=1, finished=2, worker_id="w", heartbeat=2, progress=None, error=None,
        results=results, cancel_requested=False,
    )  # fmt: skip


def test_points_are_one_per_value_with_medians_over_seeds_and_the_reading_names_the_shortcut():
    runs = [
        run("jigsaw", {"gap": 0, "jitter": False}, 0.40, 0.99, factors={"colour": 0.9}),
        run("jigsaw", {"gap": 0, "jitter": False}, 0.44, 0.97),
        run("jigsaw", {"gap": 0, "jitter": False}, 0.42, 0.98),
        run("jigsaw", {"gap": 4, "jitter": False}, 0.60, 0.60),
        run("random_init", {}, 0.2, None),
    ]
    assert sweep_knob(runs) == "gap"
    points = sweep_points(runs, "gap")
    assert [p["value"] for p in points] == [0, 4] and [p["runs"] for p in points] == [3, 1]
    assert points[0]["linear_probe"] == pytest.approx(0.42) and points[0]["factors"] == {"colour": 0.9}
    assert points[0]["pretext_score"] == pytest.approx((0.98 - 1 / 24) / (1 - 1 / 24))
    text = reading(points, "gap")
    assert "gap=4" in text and "shortcut" in text and "100 steps" in text
    assert text.count(". ") + text.count(".)") >= 1


def test_runs_of_different_tasks_or_several_knobs_are_not_a_sweep():
    assert sweep_knob([run("jigsaw", {"gap": 0}, 0.4, 0.9), run("rotation", {"angles": 2}, 0.5, 0.9)]) is None
    assert (
        sweep_knob([run("jigsaw", {"gap": 0, "grid": 2}, 0.4, 0.9), run("jigsaw", {"gap": 2, "grid": 3}, 0.5, 0.9)])
        is None
    )
    assert pretext_score({"task": "masked_image", "params": {}}, 25.0) == pytest.approx(0.5)  # PSNR: 10 -> 40 dB
    flip = {"task": "custom", "params": {"definition": FLIP_TASK.to_json()}, "batch_size": 64}
    assert pretext_score(flip, 0.75) == pytest.approx(0.5)


def test_results_scale_a_custom_run_from_its_own_chance_as_sweeps_do():
    # Results' pretext-vs-probe chart and a sweep's chart put a custom design on one scale (chance 1/2 here, not 0)
    flip = {"definition": FLIP_TASK.to_json()}
    [point] = pretext_points([run("custom", flip, 0.6, 0.75)])
    assert point["x"] == pytest.approx(0.5)
    assert point["x"] == pytest.approx(pretext_score({"task": "custom", "params": flip, "batch_size": 64}, 0.75))
    assert point["scale"] == "0 = chance (50%), 1 = 100%"


def test_cli_sweep_submits_one_group_each_value_once(tmp_path, capsys):
    argv = ["sweep", "rotation", "--param", "angles=2,4", "--compute", "2T", "--submit", "--no-worker", "--json"]
    assert main([*argv, "--data-dir", str(tmp_path), "--owner", "ada"]) == 0
    out = json.loads(capsys.readouterr().out)
    runs = RunStore(tmp_path).list(group_id=out["group"])
    assert sorted(r.config["params"].get("angles", 0) for r in runs) == [0, 2, 4]  # 0: the random-init baseline
    assert {r.config["compute"] for r in runs} == {2e12} and {r.owner for r in runs} == {"ada"}
    assert sweep_knob(runs) == "angles"
    assert main(["sweep", "rotation", "--param", "angles=2", "--submit", "--no-worker"]) == 2
    assert "exactly one --param with several values" in capsys.readouterr().err
    assert main(["sweep", "--preset", "nonsense"]) == 2
    assert "unknown preset" in capsys.readouterr().err


def test_the_train_form_runs_each_value_once_and_results_draw_one_point_per_value():
    at = sign_in(AppTest.from_file(APP, default_timeout=90).run(), "ada")
    at.switch_page("views/train.py").run()
    at.selectbox(key="sweep.preset").set_value("rotation_angles").run()
    assert at.text_input(key="sweep.values").value == "2,4"
    at.toggle(key="sweep.as_measured").set_value(False).run()  # a budget of one's own: 2 s, not the measured 1.5 TFLOP
    at.slider(key="sweep.budget").set_value(2)
    at.number_input(key="sweep.n").set_value(100)
    at.button(key="sweep.start").click().run()
    assert not at.exception, at.exception
    assert any("Queued a sweep" in s.value for s in at.success), [e.value for e in at.error]

    store = RunStore()
    runs = store.list()
    assert sorted(r.config["params"].get("angles", 0) for r in runs) == [0, 2, 4]
    assert len({r.config["compute"] for r in runs}) == 1  # every value (and the baseline) at equal compute
    assert wait_until(lambda: all(r.done for r in store.list()), 240), [(r.status, r.error) for r in store.list()]
    at.switch_page("views/results.py").run()
    assert not at.exception, at.exception
    chart = next(c for c in at.get("plotly_chart") if "what changes with angles" in c.proto.spec)
    spec = json.loads(chart.proto.spec)
    probe = next(t for t in spec["data"] if t["name"] == "linear probe (%)")
    assert probe["x"] == ["2", "4"] and len(probe["y"]) == 2
    assert any("angles=" in m.value for m in at.markdown)


def test_the_reading_says_when_nothing_has_been_learned_yet():
    runs = [
        run("rotation", {"angles": 2}, 0.162, 0.526, steps=138),
        run("rotation", {"angles": 4}, 0.14, 0.244, steps=138),
    ]
    text = reading(sweep_points(runs, "angles"), "angles")
    assert "No value of angles beats random init yet" in text and "138 steps" in text
    assert "barely solved" in text


def test_the_reading_does_not_call_a_shortcut_when_the_puzzle_is_solved_equally():
    runs = [run("simclr", {"crop_min": 0.2}, 0.24, 0.998, steps=128), run("simclr", {"crop_min": 1.0}, 0.284, 0.995)]
    text = reading(sweep_points(runs, "crop_min"), "crop_min")
    assert "solved about equally" in text and "shortcut" not in text


def test_the_accuracy_bars_average_seeds_only_never_a_sweeps_values():
    """Issue 21 (5): angles=2 and angles=4 were one "rotation" bar "mean over 2 seeds"; each value is its own bar,
    and only runs that differ in their seed share one."""
    from sslcore.report import result_rows
    from views.charts import accuracy_figure, accuracy_groups

    runs = [
        run("rotation", {"angles": 2}, 0.30, 0.6, run_id="a2seed0aaaaa"),
        run("rotation", {"angles": 2}, 0.34, 0.6, run_id="a2seed1aaaaa"),
        run("rotation", {"angles": 4}, 0.50, 0.4, run_id="a4seed0aaaaa"),
        run("random_init", {}, 0.2, None, run_id="baselineaaaa"),
    ]
    runs[1].config["seed"] = 1
    groups = accuracy_groups(result_rows(runs))
    assert [len(group) for group in groups.values()] == [1, 2, 1]
    bars = [t for t in accuracy_figure(result_rows(runs)).data if t.type == "bar"]
    assert list(bars[0].x) == ["random init (baseline)", "rotation · angles=2", "rotation · angles=4"]
    assert list(bars[0].y) == pytest.approx([20.0, 32.0, 50.0])
    # runs of one task that differ in nothing but the seed keep the task's own name
    assert list(accuracy_groups(result_rows(runs[:2])))[1:] == ["rotation · angles=2"]

def test_every_measured_preset_queues_the_setup_its_note_cites(tmp_path, capsys):
    """Issue 21 (6): rotation's note cited 1.5 TFLOP with all_rotations off; the preset queued another compute with
    all_rotations on. A measured preset now runs exactly what its note says, from the CLI as from the form."""
    from sslcore.flops import format_flops

    measured = [p for p in PRESETS.values() if p.measured is not None]
    assert {p.name for p in measured} >= {"rotation_angles", "jigsaw_gap", "simclr_colour", "masked_ratio"}
    assert PRESETS["rotation_angles"].params == {"all_rotations": False}
    for p in measured:
        m = p.measured
        assert format_flops(m.compute) in p.note and f"batch {m.batch_size}" in p.note and f"{m.n:,} images" in p.note
        assert all(f"{k}={v}" in p.note for k, v in p.params.items()), p.note
        argv = ["sweep", "--preset", p.name, "--submit", "--no-worker", "--json", "--data-dir", str(tmp_path)]
        assert main(argv) == 0
        group = json.loads(capsys.readouterr().out)["group"]
        runs = [r for r in RunStore(tmp_path).list(group_id=group) if r.task == p.task]
        assert sorted(r.config["params"][p.knob] for r in runs) == sorted(p.values)
        for r in runs:
            c = r.config
            assert (c["compute"], c["n"], c["batch_size"], c["dataset"]) == (m.compute, m.n, m.batch_size, m.dataset)
            knobs = make_params(task_class(p.task).Params, c["params"])  # the knobs the run will train with
            assert {k: getattr(knobs, k) for k in p.params} == p.params
    # a budget of one's own still wins over the measured one
    argv = ["sweep", "--preset", "rotation_angles", "--compute", "2T", "--batch-size", "32"]
    assert main([*argv, "--submit", "--no-worker", "--json", "--data-dir", str(tmp_path)]) == 0
    group = json.loads(capsys.readouterr().out)["group"]
    assert {(r.config["compute"], r.config["batch_size"]) for r in RunStore(tmp_path).list(group_id=group)} == {
        (2e12, 32)
    }


def test_the_train_form_queues_a_measured_preset_as_its_note_says(monkeypatch):
    monkeypatch.setenv("PRETEXT_LAB_TEACHER_TOKEN", "t")
    at = sign_in(AppTest.from_file(APP, default_timeout=90).run(), "ada")  # queueing asks who you are first
    at.switch_page("views/train.py").run()
    at.selectbox(key="sweep.preset").set_value("rotation_angles").run()
    note = PRESETS["rotation_angles"].note
    assert any(note in c.value for c in at.caption), "the form shows the preset's note"
    assert at.toggle(key="sweep.as_measured").value is True
    at.button(key="sweep.start").click().run()
    assert not at.exception, at.exception
    store = RunStore()
    runs = store.list()
    for r in runs:
        store.cancel(r.id, token="t")  # the test reads what was queued; nothing needs to train
    sweep = [r for r in runs if r.task == "rotation"]
    assert sorted(r.config["params"]["angles"] for r in sweep) == [2, 4]
    assert {(r.config["compute"], r.config["batch_size"], r.config["n"]) for r in sweep} == {(1.5e12, 64, 2000)}
    assert all(r.config["params"]["all_rotations"] is False for r in sweep)
    # choosing another knob is a sweep of one's own: the preset, its fixed knobs and its setup no longer apply
    at.selectbox(key="sweep.knob").set_value("all_rotations").run()
    assert at.selectbox(key="sweep.preset").value == "own"
    assert "sweep.as_measured" not in [t.key for t in at.toggle]


def test_the_reading_states_each_runs_own_steps():
    """Issue 21 (6): "after 12 steps per run" although one run had 6: equal compute buys each value its own steps."""
    runs = [
        run("rotation", {"angles": 2}, 0.30, 0.7, steps=6),
        run("rotation", {"angles": 4}, 0.45, 0.5, steps=12),
    ]
    text = reading(sweep_points(runs, "angles"), "angles")
    assert "6 steps at angles=2, 12 at angles=4" in text and "per run" not in text
    same = reading(
        sweep_points([run("rotation", {"angles": 2}, 0.3, 0.7), run("rotation", {"angles": 4}, 0.45, 0.5)], "angles"),
        "angles",
    )
    assert "100 steps per run" in same
