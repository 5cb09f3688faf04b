"""The pages' contract with sslcore: one surface module (sslcore/lab.py), one home per limit and menu, typed
records whose JSON stays what it was, and the library logic that used to live in pages."""

import ast
import io
import json
import sqlite3
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from sslcore import lab, limits, menus
from sslcore.errors import ConfigError, PretextLabError
from sslcore.records import Baseline, ProbePoint, Progress, RunResults
from sslcore.runs import RunStore

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "app.py", *sorted((ROOT / "views").glob("*.py"))]


# -- the surface ------------------------------------------------------------------------------------
def sslcore_imports(path: Path) -> list[tuple[int, str, bool]]:
    """(line, module, under ``if TYPE_CHECKING``) of every sslcore import in a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [
                (node.lineno, a.name, id(node) in typing_only) for a in node.names if a.name.startswith("sslcore")
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("sslcore"):
            modules = [f"{node.module}.{a.name}" for a in node.names] if node.module == "sslcore" else [node.module]
            found += [(node.lineno, m, id(node) in typing_only) for m in modules]
    return found


def test_pages_import_sslcore_only_through_lab():
    wrong = []
    for path in PAGES:
        for line, module, _ in sslcore_imports(path):
            if module == "sslcore.lab":
                continue
            wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, "pages ask sslcore through `from sslcore import lab` only:\n" + "\n".join(wrong)


def test_names_from_lab_are_imported_by_name_only_for_type_checking():
    """``from sslcore.lab import X`` at run time would resolve X (and maybe torch) when the page is imported."""
    eager = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in PAGES
        for line, module, typing_only in sslcore_imports(path)
        if module == "sslcore.lab"
        and not typing_only
        and "from sslcore.lab import" in path.read_text().splitlines()[line - 1]
    ]
    assert not eager, eager


def test_the_scan_catches_a_deep_import(tmp_path):
    page = tmp_path / "page.py"
    page.write_text(
        "from sslcore.train import TrainConfig\nimport sslcore.runs.store\nfrom sslcore import lab, uploads\n"
    )
    assert [m for _, m, _ in sslcore_imports(page)] == [
        "sslcore.train",
        "sslcore.runs.store",
        "sslcore.lab",
        "sslcore.uploads",
    ]


def fresh_python(code: str) -> None:
    """Run ``code`` after ``import sys; from sslcore import lab`` in a new interpreter; its asserts must hold."""
    done = subprocess.run(
        [sys.executable, "-c", "import sys\nfrom sslcore import lab\n" + code],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr


def test_importing_lab_and_its_light_names_leaves_torch_unloaded():
    fresh_python(
        "assert 'torch' not in sys.modules, 'import'\n"
        "lab.MAX_SEED, lab.MAX_TOTAL_BYTES, lab.data_menu('train', 'image'), lab.RANDOM_INIT, lab.SUPERVISED\n"
        "lab.PretextLabError, lab.ConfigError, lab.RunStore, lab.Progress, lab.RunResults, lab.data_dir\n"
        "lab.BUILTIN_DATASETS, lab.DEFAULT_DATASET, lab.flags, lab.spread, lab.NotAllowed, lab.display_owner\n"
        "assert 'torch' not in sys.modules, 'names'\n"
        "lab.TrainConfig\n"
        "assert 'torch' in sys.modules\n"
    )


def test_preload_imports_every_module_behind_the_surface():
    # serve.py calls it while the server starts, so the first visit finds torch and the tasks loaded
    fresh_python(
        "lab.preload()\n"
        "missing = sorted(set(lab._HOME.values()) - set(sys.modules))\n"
        "assert not missing and 'torch' in sys.modules, missing\n"
    )


def test_every_listed_name_resolves_to_its_home_module_object():
    import importlib

    assert lab.__all__ == sorted(set(lab.__all__)) and len(lab.__all__) > 100
    for name in lab.__all__:
        home = importlib.import_module(lab._HOME[name])
        assert getattr(lab, name) is getattr(home, name), name
    assert set(lab.__all__) <= set(dir(lab))


def test_an_unlisted_name_says_where_to_look():
    with pytest.raises(AttributeError, match="sslcore/lab.py"):
        lab.Trainer  # noqa: B018 - the training loop is the worker's, not a page's


def test_every_name_a_page_asks_for_is_listed():
    asked = set()
    for path in PAGES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "lab":
                asked.add(node.attr)
    assert asked - set(lab.__all__) == set()
    assert {"RANDOM_INIT", "SUPERVISED", "MAX_SEED", "save_upload", "Progress"} <= asked


def test_pages_name_run_kinds_and_the_largest_seed_by_constant():
    """A run kind is ``lab.RANDOM_INIT`` (etc.) in a page, never its string; the largest seed is ``lab.MAX_SEED``.
    (A row's key of the same spelling, ``row["finetune"]``, is a key, not a kind.)"""
    kinds = {lab.RANDOM_INIT, lab.SUPERVISED, lab.FINETUNE}
    for path in PAGES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        keys = {id(node.slice) for node in ast.walk(tree) if isinstance(node, ast.Subscript)}
        spelled = [
            node.lineno
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in kinds and id(node) not in keys
        ]
        assert not spelled, f"{path.name} spells a run kind on lines {spelled}: use lab's constant"
        assert "2**31" not in ast.unparse(tree).replace(" ", ""), f"{path.name}: use lab.MAX_SEED"


# -- one home per limit and menu -------------------------------------------------------------------
LIMITS = [name for name in vars(limits) if name.isupper()]


def test_each_limit_is_assigned_once_in_sslcore_and_the_pages():
    files = [*sorted((ROOT / "sslcore").rglob("*.py")), *PAGES]
    places: dict[str, list[str]] = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            for target in targets:
                for t in ast.walk(target):
                    if isinstance(t, ast.Name) and t.id in LIMITS and isinstance(t.ctx, ast.Store):
                        places.setdefault(t.id, []).append(str(path.relative_to(ROOT)))
    assert {name: where for name, where in places.items() if where != ["sslcore/limits.py"]} == {}


def test_the_enforcing_modules_read_the_limits_from_their_home():
    from sslcore.data import decode, files, text

    assert (files.MAX_FILES, files.MAX_TOTAL_BYTES) == (limits.MAX_FILES, limits.MAX_TOTAL_BYTES)
    assert (decode.MAX_UPLOAD_BYTES, decode.MAX_PIXELS) == (limits.MAX_UPLOAD_BYTES, limits.MAX_PIXELS)
    assert (text.MAX_TEXT_BYTES, text.MAX_SENTENCES) == (limits.MAX_TEXT_BYTES, limits.MAX_SENTENCES)


def test_the_dataset_menus_are_views_of_one_table():
    from sslcore.data import DATASETS, TEXT_DATASETS, dataset_modality

    assert DATASETS == tuple(menus.BUILTIN_DATASETS)
    assert TEXT_DATASETS == ("corpus",)
    for name, entry in menus.BUILTIN_DATASETS.items():
        assert dataset_modality(name) == entry.modality
    assert menus.data_menu("train", "image") == {
        "shapes": "Shapes (procedural, 12 classes)",
        "digits": "Handwritten digits (scikit-learn)",
        "upload": "Your zip (one folder per class)",
    }
    assert list(menus.data_menu("explore", "image")) == ["shapes", "digits", "photos", "upload"]
    assert list(menus.data_menu("explore", "text")) == ["corpus", "paste", "upload_text"]
    assert list(menus.data_menu("train", "text")) == ["corpus", "upload"]
    for modality, name in menus.DEFAULT_DATASET.items():
        assert menus.BUILTIN_DATASETS[name].modality == modality


def test_a_run_without_a_dataset_trains_on_the_menus_default():
    from sslcore.train import TrainConfig

    assert TrainConfig(task="rotation").dataset == menus.DEFAULT_DATASET["image"]
    assert TrainConfig(task="masked_language").dataset == menus.DEFAULT_DATASET["text"]


# -- typed records ----------------------------------------------------------------------------------
OLD_RESULTS = {  # a run from before compute budgets, FLOPs and confusion matrices (only the old names)
    "status": "finished",
    "task": "rotation",
    "linear_probe": 0.5,
    "knn": 0.25,
    "baseline": {"linear_probe": 0.1, "knn": 0.2},
    "steps": 12,
    "train_seconds": 3.5,
    "probe_curve": [{"elapsed": 0, "knn": 0.1}, {"elapsed": 3.5, "knn": 0.3}],
    "device": "CPU",
    "someday": {"a field": "no reader knows yet"},
    "metric_label": None,
}


def test_results_records_read_old_results_and_give_them_back_unchanged():
    r = RunResults.from_dict(OLD_RESULTS)
    assert (r.linear_probe, r.knn, r.baseline.linear_probe, r.steps) == (0.5, 0.25, 0.1, 12)
    assert r.images_seen is None and r.flops is None and r.confusion is None and r.under_budget is None
    assert r.seconds == 3.5 and r.max_seconds is None
    assert r.probe_curve == [ProbePoint(elapsed=0, knn=0.1), ProbePoint(elapsed=3.5, knn=0.3)]
    assert r.extra == {"someday": {"a field": "no reader knows yet"}, "metric_label": None}
    assert r.to_dict() == OLD_RESULTS
    assert json.dumps(r.to_dict(), sort_keys=True) == json.dumps(OLD_RESULTS, sort_keys=True)


def test_progress_records_read_every_kind_of_event():
    step = {"kind": "step", "step": 3, "loss": 1.5, "metric": 0.5, "progress": 0.25, "eta": 9.0, "images_per_s": 80.0}
    assert Progress.from_dict(step).loss == 1.5 and Progress.from_dict(step).to_dict() == step
    assert Progress.from_dict({"kind": "evaluating"}).progress is None
    placed = {"kind": "placed", "node": "10.0.0.2", "pid": 7}  # Ray's event: kept, untyped
    assert Progress.from_dict(placed).extra == {"node": "10.0.0.2", "pid": 7}
    assert Progress.from_dict(placed).to_dict() == placed
    assert Baseline.from_dict(None) == Baseline()


def test_writers_build_records_only_from_named_fields():
    event = {"kind": "step", "step": 1, "loss": 0.5, "eta": None}
    assert Progress.named(event) is event  # the JSON stays exactly what the writer built, nulls included
    with pytest.raises(TypeError, match="Progress has no field los"):
        Progress.named({"kind": "step", "los": 0.5})
    with pytest.raises(TypeError, match="RunResults has no field probe_accuracy"):
        RunResults.named({"status": "finished", "probe_accuracy": 0.4})


def test_the_trainer_yields_only_named_progress_fields():
    from sslcore.train import TrainConfig, Trainer

    config = TrainConfig(task="rotation", dataset="shapes", n=64, epochs=1, budget=None, batch_size=16, device="cpu")
    events = list(Trainer(config).events())
    assert {e["kind"] for e in events} >= {"start", "probe", "step", "end"}
    assert all(Progress.from_dict(e).unknown == {} for e in events)


def test_a_store_written_before_the_records_loads_typed(tmp_path):
    store = RunStore(tmp_path)
    from sslcore.train import TrainConfig

    run_id = store.submit(TrainConfig(task="rotation"))
    with sqlite3.connect(tmp_path / "runs.sqlite") as db:  # what an old worker left, byte for byte
        db.execute(
            "UPDATE runs SET status = 'succeeded', results = ?, progress = ? WHERE id = ?",
            (json.dumps(OLD_RESULTS), json.dumps({"kind": "end", "status": "finished", "steps": 12}), run_id),
        )
        db.execute(
            "INSERT INTO events (run_id, seq, time, data) VALUES (?, 1, 5.0, ?)",
            (run_id, json.dumps({"kind": "probe", "step": 0, "elapsed": 0, "knn": 0.1})),
        )
    run = store.get(run_id)
    assert run.results == OLD_RESULTS  # the JSON as stored
    assert run.results_record.baseline.knn == 0.2 and run.progress_record.steps == 12
    [probe] = store.progress_since(run_id)
    assert (probe.kind, probe.knn, probe.seq, probe.time) == ("probe", 0.1, 1, 5.0)


# -- library logic that left the pages --------------------------------------------------------------
def png(colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), colour).save(buf, "PNG")
    return buf.getvalue()


def test_save_upload_keeps_a_training_file_once_under_its_hash(tmp_path):
    from sslcore.uploads import dataset_label, save_upload

    data = b"text,label\nThe cat sat on the mat today.,a\nA dog ran in the park all day.,b\n"
    first = save_upload(data, "pets.csv", ".csv", root=tmp_path)
    assert save_upload(data, "again.csv", ".csv", root=tmp_path) == first and Path(first).read_bytes() == data
    assert dataset_label(first) == "“again.csv” (uploaded)"


def test_save_upload_refuses_what_the_worker_could_not_use(tmp_path, monkeypatch):
    from sslcore import uploads

    with pytest.raises(PretextLabError, match="binary.csv"):
        uploads.save_upload(b"\x00\x01\x02" * 100, "binary.csv", ".csv", root=tmp_path)
    monkeypatch.setitem(uploads.UPLOAD_LIMITS, ".zip", 10)
    with pytest.raises(PretextLabError, match="big.zip: larger than the 0 MB limit"):
        uploads.save_upload(b"x" * 11, "big.zip", ".zip", root=tmp_path)
    with pytest.raises(ConfigError, match="not '.exe'"):
        uploads.save_upload(b"x", "tool.exe", ".exe", root=tmp_path)
    assert not (tmp_path / "uploads").exists() or not any((tmp_path / "uploads").iterdir())


def test_decode_uploads_takes_zips_and_single_files_together():
    from sslcore.data.files import decode_uploads

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.png", png())
        zf.writestr("b.png", png((30, 30, 200)))
    images, names, errors = decode_uploads(
        [("set.zip", buf.getvalue()), ("one.png", png()), ("broken.png", b"not a png")], size=16
    )
    assert images.shape == (3, 3, 16, 16) and names == ["set.zip/a.png", "set.zip/b.png", "one.png"]
    assert [e.filename for e in errors] == ["broken.png"]
    assert decode_uploads([("broken.png", b"nope")], size=16)[0] is None


def test_preview_rows_are_drawn_by_seed():
    from sslcore.preview import preview_rows

    assert preview_rows(50, 4, 7).tolist() == preview_rows(50, 4, 7).tolist() != preview_rows(50, 4, 8).tolist()
    assert preview_rows(3, 5).tolist() == [0, 1, 2]


def test_a_typed_name_cannot_pass_for_a_browser_session():
    from sslcore.runs.store import check_typed_name

    assert check_typed_name("  Ada ") == "Ada"
    with pytest.raises(ConfigError, match="':' is not allowed"):
        check_typed_name("session:1234")
    with pytest.raises(ConfigError, match="not a usable name"):
        check_typed_name("<script>")


def test_read_design_names_the_file_in_every_refusal():
    from sslcore.custom_tasks import MAX_FILE_BYTES, read_design
    from sslcore.tasks.custom import FLIP_TASK

    assert read_design(FLIP_TASK.to_json().encode(), "flip.json") == FLIP_TASK
    with pytest.raises(ConfigError, match=r"^big.json: larger than the 16 kB limit"):
        read_design(b" " * (MAX_FILE_BYTES + 1), "big.json")
    with pytest.raises(ConfigError, match=r"^bad.json: "):
        read_design(b"{not json", "bad.json")


def test_neighbour_rows_are_dataset_rows_nearest_first():
    from sslcore.report import neighbour_rows

    emb = {"indices": [40, 41, 42, 43], "neighbours": [[2, 1], [0, 3], [3, 0], [2, 1]]}
    assert neighbour_rows(emb, 0) == [40, 42, 41] and neighbour_rows(emb, 3) == [43, 42, 41]


def test_default_sweep_values_cover_a_knob_with_or_without_a_range():
    from sslcore.sweeps import default_sweep_values
    from sslcore.tasks.base import ParamSpec

    spec = ParamSpec(name="k", type=int, default=3, min=1, max=8, choices=None, help="")
    assert default_sweep_values(spec) == "1,3,8"
    assert (
        default_sweep_values(ParamSpec(name="k", type=int, default=3, min=None, max=None, choices=None, help="")) == "3"
    )
    assert (
        default_sweep_values(ParamSpec(name="on", type=bool, default=True, min=None, max=None, choices=None, help=""))
        == "false,true"
    )
