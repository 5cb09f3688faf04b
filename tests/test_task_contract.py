"""The task contract and the registry of run kinds, held by tests (sslcore/tasks/base.py, sslcore/kinds.py).

What a newcomer can rely on: every task's kind is one of TASK_KINDS; ``prepare`` is the one path (admit,
then make_batch) and no task overrides it; the contract has nothing nobody reads; the registry is the one
place that knows which run kinds exist, and no module spells a run kind's name as a string of its own.
"""

import ast
import json
import re
from pathlib import Path

import pytest
import torch

from sslcore import kinds
from sslcore.data import load_dataset
from sslcore.errors import ConfigError
from sslcore.losses import binary_classification_loss, classification_loss, negative_sampling_loss
from sslcore.tasks import RUN_KINDS, TASK_KINDS, TASKS, get_task, run_modality, run_objective
from sslcore.tasks.base import PretextTask
from sslcore.tasks.custom import CUSTOM, CustomTask
from sslcore.tasks.supervised import Supervised
from sslcore.tasks.text import TextTask

ROOT = Path(__file__).resolve().parents[1]


def all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from all_subclasses(sub)


def custom(target: str) -> CustomTask:
    """A person's own design with this target: which transformation, how much rotation, or matching views."""
    definition = {"name": f"my {target}", "target": target, "transforms": ["rotate" if target == "amount" else "hflip"]}
    return get_task(CUSTOM, {"definition": json.dumps(definition)})


@pytest.fixture(scope="module")
def corpus():
    return load_dataset("corpus")


# ------------------------------------------------------------------------------------------- kinds
def test_every_task_kind_is_one_of_the_enumerated_kinds():
    tasks = [*TASKS.values(), Supervised, custom("which"), custom("amount"), custom("match")]
    assert {t.kind for t in tasks} <= set(TASK_KINDS)
    assert Supervised.kind == "reference"
    assert (custom("which").kind, custom("amount").kind, custom("match").kind) == ("classification", "regression", "contrastive")


def test_the_contract_declares_nothing_that_nobody_reads():
    """Every class attribute and method of PretextTask is read somewhere (``.name``), not only declared:
    higher_is_better was declared and never read."""
    declared = [n for n in vars(PretextTask) if not n.startswith("_")] + list(PretextTask.__annotations__)
    sources = [p for d in ("sslcore", "views", "benchmarks") for p in (ROOT / d).rglob("*.py")] + [ROOT / "app.py"]
    text = "\n".join(p.read_text() for p in sources)
    unread = sorted({n for n in declared if not re.search(rf"\.{n}\b|getattr\([^)]*['\"]{n}['\"]", text)})
    assert unread == []


# ------------------------------------------------------------------------------------ one path
def test_no_task_overrides_prepare():
    import sslcore.tasks  # noqa: F401 - imports every task module

    overriding = [c.__name__ for c in all_subclasses(PretextTask) if "prepare" in vars(c)]
    assert overriding == []
    assert {TextTask, Supervised, CustomTask} <= set(all_subclasses(PretextTask))


@pytest.mark.parametrize("name", [*TASKS, "supervised_images", "supervised_text"])
def test_prepare_is_admit_then_make_batch_for_every_task(name, corpus):
    text = name == "supervised_text" or (name in TASKS and TASKS[name].modality == "text")
    task = Supervised() if name.startswith("supervised") else get_task(name)
    task.setup(corpus if text else None)
    x = corpus.tokens[:12] if text else load_dataset("shapes", n=12, size=32).images
    prepared = task.prepare(x, torch.Generator().manual_seed(5))
    by_hand = task.make_batch(task.admit(x), torch.Generator().manual_seed(5))
    for field in ("inputs", "targets", "originals"):
        a, b = getattr(prepared, field), getattr(by_hand, field)
        assert (a is None and b is None) or torch.equal(a, b), field


def test_text_tasks_admit_token_rows_and_trim_padding(corpus):
    task = get_task("masked_language")
    with pytest.raises(ConfigError, match="call setup"):
        task.admit(corpus.tokens[:4])
    task.setup(corpus)
    rows = corpus.tokens[:4]
    admitted = task.admit(rows)
    assert admitted.dtype == torch.long and admitted.shape[:2] == (4, 2)
    assert admitted.shape[-1] < rows.shape[-1] and (admitted != 0).any(dim=(0, 1)).all()  # no all-[PAD] column left
    single = task.admit(rows[:, 0])  # one sentence per row gets an empty second sentence
    assert single.shape[:2] == (4, 2) and torch.equal(single[:, 0], admitted[:, 0, : single.shape[-1]])
    with pytest.raises(ConfigError, match="token ids"):
        task.admit(torch.zeros(4, 3, 16, 16))


def test_image_tasks_check_the_size_when_admitting():
    with pytest.raises(ConfigError, match="patch"):
        get_task("masked_image", {"patch": 8}).admit(torch.zeros(1, 3, 36, 36, dtype=torch.uint8))


def test_supervised_reads_images_or_token_rows(corpus):
    task = Supervised()
    rows = corpus.tokens[:3]
    batch = task.prepare(rows, torch.Generator().manual_seed(0))
    assert torch.equal(batch.inputs, rows[:, 0]) and torch.equal(batch.originals, rows)
    images = torch.full((2, 3, 32, 32), 255, dtype=torch.uint8)
    batch = task.prepare(images, torch.Generator().manual_seed(0))
    assert batch.inputs.dtype == torch.float32 and batch.inputs.shape == (2, 3, 32, 32)


# ------------------------------------------------------------------------------------ run kinds
def test_the_registry_knows_every_run_kind_and_what_it_trains():
    assert RUN_KINDS == (*TASKS, CUSTOM, *kinds.REFERENCE_KINDS)
    assert len(set(RUN_KINDS)) == len(RUN_KINDS)
    for name in RUN_KINDS:
        objective = run_objective(name, num_classes=7)
        if name == kinds.RANDOM_INIT:
            assert objective is None and run_modality(name) == "any"
        elif name in (kinds.SUPERVISED, kinds.FINETUNE):
            assert isinstance(objective, Supervised) and objective.name == kinds.SUPERVISED
            assert objective.num_classes == 7 and run_modality(name) == "any"
        else:
            assert objective.name == name and run_modality(name) == objective.modality
        assert kinds.kind_of(name) == (name if name in kinds.REFERENCE_KINDS else kinds.PRETEXT)
    with pytest.raises(ConfigError, match="takes no parameters"):
        run_objective(kinds.RANDOM_INIT, {"angle": 1})


def test_the_train_config_accepts_exactly_the_registry_run_kinds():
    from sslcore.train import TrainConfig

    for name in RUN_KINDS:
        TrainConfig(task=name, budget=1.0).validate()
    with pytest.raises(ConfigError, match="unknown task"):
        TrainConfig(task="random-init", budget=1.0).validate()


RECORD_KEY = {kinds.FINETUNE}  # also the key of a finetune run's summary in its results, and of the charts' rows


def run_kind_literals(path: Path) -> list[str]:
    """Strings equal to a run kind's name, except (for "finetune") as a record key and a CLI command's name."""
    tree = ast.parse(path.read_text())
    allowed = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            allowed.add(id(node.slice))
        elif isinstance(node, ast.Dict):
            allowed.update(id(k) for k in node.keys if k is not None)
        elif isinstance(node, ast.Compare) and isinstance(node.ops[0], (ast.In, ast.NotIn)):
            allowed.add(id(node.left))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
            if node.func.attr in ("get", "add_parser"):
                allowed.add(id(node.args[0]))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and node.value in kinds.REFERENCE_KINDS:
            if node.value in RECORD_KEY and id(node) in allowed:
                continue
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}")
    return found


def test_run_kinds_are_named_only_in_kinds_py():
    """A run kind spelled as a string elsewhere is a second source of truth: import the name from sslcore.kinds."""
    files = [p for p in (ROOT / "sslcore").rglob("*.py") if p != ROOT / "sslcore" / "kinds.py"]
    files += [ROOT / "app.py", *(ROOT / "views").glob("*.py")]  # the pages ask lab.RANDOM_INIT, never the string
    assert [hit for p in files for hit in run_kind_literals(p)] == []


def test_the_literal_scan_finds_a_run_kind(tmp_path):
    sample = ROOT / "sslcore" / "_scan_sample.py"
    code = 'if task == "random_init" or x == "finetune":\n    y = results["finetune"]; task = {"supervised": 1}\n'
    try:
        sample.write_text(code)
        assert [hit.split(": ")[-1] for hit in run_kind_literals(sample)] == ["'random_init'", "'finetune'", "'supervised'"]
    finally:
        sample.unlink()


# ---------------------------------------------------------------------------------------- losses
def test_a_classification_loss_without_targets_is_zero_and_keeps_the_graph():
    logits = torch.randn(0, 5, requires_grad=True)
    loss, metrics = classification_loss(logits, torch.zeros(0, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0 and metrics["accuracy"].item() == 0 and logits.grad is not None


def test_classification_loss_reads_per_pixel_logits():
    targets = torch.randint(0, 4, (2, 3, 3))
    logits = torch.nn.functional.one_hot(targets, 4).permute(0, 3, 1, 2).float() * 10
    loss, metrics = classification_loss(logits, targets)
    assert metrics["accuracy"].item() == 1.0 and loss.item() < 1e-3


def test_binary_accuracy_is_balanced_over_the_two_classes():
    targets = torch.tensor([0] * 9 + [1])
    always_no = torch.full((10,), -5.0)
    _, metrics = binary_classification_loss(always_no, targets)
    assert metrics["accuracy"].item() == pytest.approx(0.5)  # 90% plain accuracy, but no replaced token found


def test_negative_sampling_counts_pairs_that_beat_every_negative():
    true = torch.tensor([3.0, 0.0])
    fake = torch.tensor([[1.0, 2.0], [-1.0, 0.5]])
    loss, metrics = negative_sampling_loss(true, fake)
    assert metrics["accuracy"].item() == 0.5 and loss.item() > 0
    empty, metrics = negative_sampling_loss(torch.zeros(0), torch.zeros(0, 2))
    assert empty.item() == 0 and metrics["accuracy"].item() == 0
