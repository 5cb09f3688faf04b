"""Which layer holds what (sslcore/stages.py): a run's per-stage probes as a panel and its one sentence."""

import pytest

from sslcore.records import RunResults
from sslcore.stages import stage_panel, stage_reading

NAMES = ["block 1 (32 ch)", "block 2 (64 ch)", "block 3 (128 ch)", "block 4 (256 ch)"]


def results(probe, base=None, num_classes=4, names=NAMES) -> RunResults:
    def rows(accs):
        return [{"stage": n, "dim": int(n.split("(")[1].split()[0]), "linear_probe": a} for n, a in zip(names, accs)]

    out = {"num_classes": num_classes, "linear_probe": probe[-1], "stages": rows(probe)}
    if base is not None:
        out["baseline"] = {"linear_probe": base[-1], "stages": rows(base)}
    return RunResults.from_dict(out)


def test_a_middle_best_layer_is_named_with_its_last_and_random_init():
    panel = stage_panel(results([0.40, 0.55, 0.71, 0.58], [0.30, 0.40, 0.35, 0.30]), "rotation")
    assert panel["stages"] == NAMES and panel["dims"] == [32, 64, 128, 256]
    assert panel["probe"] == [0.40, 0.55, 0.71, 0.58] and panel["baseline"] == [0.30, 0.40, 0.35, 0.30]
    assert (panel["best"], panel["last"], panel["chance"]) == (2, 3, 0.25)
    assert panel["reading"] == "rotation's best layer is block 3 (71%; random init 35%), its last, block 4, 58%."


def test_a_last_best_layer_says_so_and_the_first_for_contrast():
    panel = stage_panel(results([0.30, 0.50, 0.60, 0.80]), "simclr")
    assert panel["baseline"] is None and panel["best"] == 3
    assert panel["reading"] == "simclr's best layer is its last, block 4 (80%); its first, block 1, reads 30%."


def test_ties_go_to_the_earlier_stage_and_one_stage_reads_alone():
    assert stage_panel(results([0.5, 0.7, 0.7, 0.6]), "jigsaw")["best"] == 1
    one = stage_panel(results([0.42], [0.3], names=["layer 1 (128 d)"]), "mlm")
    assert one["reading"] == "mlm has one probed layer, layer 1 (42%; random init 30%)."


def test_random_init_is_shown_only_for_the_same_stages():
    other = results([0.4, 0.5, 0.6, 0.7], [0.3] * 4)
    renamed = RunResults.from_dict({**other.to_dict(), "baseline": {"stages": [{"stage": "x", "linear_probe": 0.3}]}})
    assert stage_panel(renamed, "rotation")["baseline"] is None
    assert stage_panel(results([0.4] * 4, num_classes=None), "rotation")["chance"] is None


@pytest.mark.parametrize(
    "old", [{}, {"stages": None}, {"stages": []}, {"linear_probe": 0.5, "baseline": {"linear_probe": 0.3}}]
)
def test_runs_from_before_stage_probes_have_no_panel(old):
    assert stage_panel(RunResults.from_dict(old), "rotation") is None


def test_the_reading_is_computed_from_the_panel_alone():
    panel = {
        "name": "x",
        "stages": ["a (1 d)", "b (1 d)"],
        "probe": [0.9, 0.1],
        "baseline": None,
        "best": 0,
        "last": 1,
    }
    assert stage_reading(panel) == "x's best layer is a (90%), its last, b, 10%."
