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
from sslcore.sweeps import PRESETS, parse_sweep, pretext_score, reading, sweep_configs, sweep_knob, sweep_points
from sslcore.tasks import task_class
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
