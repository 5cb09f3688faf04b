"""The backbone contract (sslcore/models/protocols.py): every registered backbone meets its modality's
protocol, a run stores its backbone's constructor arguments and reloads its weights from them, old run
folders still load, and the CLI lists backbones from the registry."""

import json
import re
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from sslcore import artifacts
from sslcore.cli import main
from sslcore.data import load_dataset
from sslcore.errors import ArtifactError, ConfigError
from sslcore.evaluate import extract_features
from sslcore.experiment import run_experiment
from sslcore.finetune import finetune_config, load_source
from sslcore.models import (
    BACKBONES,
    CONTRACTS,
    AnyBackbone,
    ImageBackbone,
    TextBackbone,
    chosen_arg_names,
    make_backbone,
    rebuild_backbone,
)
from sslcore.predict import predict_run
from sslcore.tasks import get_task
from sslcore.train import TrainConfig, Trainer

ROOT = Path(__file__).resolve().parent.parent
VOCAB, MAX_LEN = 50, 16
FAST = dict(dataset="shapes", n=80, batch_size=16, probe_points=0, probe_size=20)
NARROW = {"widths": [8, 16]}  # a two-layer small CNN: stride 2, 16 features


def build(name: str, **args):
    """A registered backbone with the dataset's arguments a text backbone needs."""
    if BACKBONES[name].modality == "text":
        args = {"vocab_size": VOCAB, "max_len": MAX_LEN, **args}
    return make_backbone(name, **args)


def same_weights(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


# ------------------------------------------------------------------------------- the contract itself
@pytest.mark.parametrize("name", list(BACKBONES))
def test_every_registered_backbone_meets_its_modality_contract(name):
    torch.manual_seed(0)
    backbone = build(name).eval()
    assert backbone.name == name and backbone.modality in CONTRACTS
    assert isinstance(backbone, AnyBackbone) and isinstance(backbone, CONTRACTS[backbone.modality])
    other = {"image": TextBackbone, "text": ImageBackbone}[backbone.modality]
    assert not isinstance(backbone, other)
    d = backbone.feature_dim
    with torch.no_grad():
        if backbone.modality == "image":
            assert backbone.stride >= 1 and backbone.stride & (backbone.stride - 1) == 0  # a power of two
            x = torch.rand(2, 3, 32, 32)
            assert backbone(x).shape == (2, d)
            assert backbone.forward_map(x).shape == (2, d, 32 // backbone.stride, 32 // backbone.stride)
            assert torch.allclose(backbone(x), backbone.forward_map(x).mean(dim=(2, 3)), atol=1e-6)
        else:
            assert (backbone.vocab_size, backbone.max_len) == (VOCAB, MAX_LEN)
            tokens = torch.randint(1, VOCAB, (2, 10))
            tokens[1, 7:] = 0  # padding
            assert backbone.forward_tokens(tokens).shape == (2, 10, d)
            assert backbone(tokens).shape == (2, d)
            pairs = torch.stack([tokens, torch.randint(1, VOCAB, (2, 10))], dim=1)  # a text dataset's rows
            assert torch.allclose(backbone(pairs), backbone(tokens))
            table = backbone.input_embedding()
            assert isinstance(table, nn.Embedding) and table.weight.shape == (VOCAB, d)
            assert any(p is table.weight for p in backbone.parameters())  # the backbone's own word vectors


def stage_inputs(backbone, n: int = 6) -> torch.Tensor:
    """uint8 images, or a text dataset's (n, 2, L) rows with padding (trailing all-pad columns too)."""
    gen = torch.Generator().manual_seed(1)
    if backbone.modality == "image":
        return torch.randint(0, 256, (n, 3, 32, 32), generator=gen, dtype=torch.uint8)
    rows = torch.randint(1, VOCAB, (n, 2, 12), generator=gen)
    rows[:, :, 9:] = 0  # no sentence is longer than 9 tokens: the last columns are all padding
    rows[1, 0, 4:] = 0
    return rows


@pytest.mark.parametrize("name", list(BACKBONES))
def test_every_backbone_names_its_stages_and_one_hooked_pass_pools_each(name):
    """The stage contract: readable names ending with the pooled width, submodules of the backbone in
    forward order; extract_features(stages=True) returns the same final features as without, one (N, width)
    tensor per stage, and leaves no hook behind and the train/eval mode as found."""
    torch.manual_seed(0)
    backbone = build(name).train()
    stages = backbone.stages()
    names = [stage for stage, _ in stages]
    assert stages and len(set(names)) == len(names)
    inside = {id(m) for m in backbone.modules() if m is not backbone}
    assert all(isinstance(stage, str) and id(module) in inside for stage, module in stages)
    widths = [int(re.search(r"\((\d+) (?:ch|d)\)$", stage).group(1)) for stage in names]
    args = backbone.init_args
    expected = {
        "small_cnn": lambda: args["widths"],
        "resnet18": lambda: args["widths"],
        "transformer": lambda: [args["width"]] * args["depth"],
    }
    assert widths == expected.get(name, lambda: widths)()  # a new backbone: its names' widths are checked below
    inputs = stage_inputs(backbone)
    plain = extract_features(backbone, inputs, batch_size=4)
    feats, pooled = extract_features(backbone, inputs, batch_size=4, stages=True)
    assert backbone.training and all(not m._forward_hooks for m in backbone.modules())
    if backbone.modality == "image":
        assert torch.equal(feats, plain)
    else:  # a hooked Transformer layer leaves PyTorch's fused inference path: the same sums, another order
        assert torch.allclose(feats, plain, atol=1e-5)
    assert list(pooled) == names
    assert [x.shape for x in pooled.values()] == [(len(inputs), w) for w in widths]
    assert all(x.dtype == torch.float32 and torch.isfinite(x).all() for x in pooled.values())
    if backbone.modality == "image":  # the last stage is what forward pools
        assert torch.allclose(pooled[names[-1]], feats, atol=1e-5)
    else:  # padding never counts: trimming the all-pad columns changes no stage's pooled states
        _, trimmed = extract_features(backbone, inputs[:, :, :9].contiguous(), batch_size=4, stages=True)
        assert all(torch.allclose(trimmed[k], pooled[k], atol=1e-5) for k in names)


def test_hooks_are_removed_and_the_mode_restored_when_the_pass_fails(monkeypatch):
    backbone = make_backbone("small_cnn", **NARROW).train()

    def broken(output, x):
        raise RuntimeError("pooling failed")

    monkeypatch.setattr(backbone, "pool_stage", broken)
    with pytest.raises(RuntimeError, match="pooling failed"):
        extract_features(backbone, torch.zeros(2, 3, 16, 16, dtype=torch.uint8), stages=True)
    assert backbone.training and all(not m._forward_hooks for m in backbone.modules())


def test_resnet_stages_are_the_last_block_of_each_stage():
    backbone = make_backbone("resnet18", widths=[8, 16, 32], blocks=[1, 2, 1])
    assert [stage for stage, _ in backbone.stages()] == ["stage 1 (8 ch)", "stage 2 (16 ch)", "stage 3 (32 ch)"]
    assert [module for _, module in backbone.stages()] == [backbone.layers[1], backbone.layers[3], backbone.layers[4]]


@pytest.mark.parametrize("name", list(BACKBONES))
def test_a_backbones_spec_is_plain_json_and_rebuilds_the_same_network(name):
    backbone = build(name)
    spec = json.loads(json.dumps(backbone.spec()))
    assert spec == backbone.spec() and spec["name"] == name
    assert set(chosen_arg_names(name)) <= set(spec["args"])  # every argument stored, defaults included
    again = rebuild_backbone(spec)
    assert type(again) is type(backbone)
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in backbone.state_dict().items()}


def test_constructor_arguments_change_the_network():
    narrow = make_backbone("small_cnn", **NARROW)
    assert (narrow.feature_dim, narrow.stride) == (16, 2)
    assert narrow.forward_map(torch.rand(1, 3, 32, 32)).shape == (1, 16, 16, 16)
    shallow = make_backbone("resnet18", widths=[8, 16, 32], blocks=[1, 1, 1])
    assert (shallow.feature_dim, shallow.stride) == (32, 4)
    small = make_backbone("transformer", vocab_size=VOCAB, width=32, depth=1, heads=2)
    assert small.forward_tokens(torch.randint(1, VOCAB, (2, 5))).shape == (2, 5, 32)
    assert len(small.encoder.layers) == 1


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("small_cnn", {"width": 3}, "takes no argument 'width'; its arguments are widths"),
        ("resnet18", {"depth": 3}, "its arguments are widths, blocks"),
        ("transformer", {"layers": 3}, "its arguments are vocab_size, width, depth, heads, max_len"),
        ("small_cnn", {"widths": [0, 8]}, "small_cnn widths must be a whole number from 1"),
        ("resnet18", {"widths": [8, 16], "blocks": [1]}, "blocks .* must be a list of 2 whole numbers"),
        ("transformer", {"width": 30}, "must be a multiple of heads"),
        ("transformer", {"vocab_size": 10}, "takes vocab_size from the dataset"),
    ],
)
def test_wrong_backbone_args_are_config_errors_that_name_them(name, args, message):
    dataset = "corpus" if BACKBONES[name].modality == "text" else "shapes"
    task = "skip_gram" if dataset == "corpus" else "rotation"
    with pytest.raises(ConfigError, match=message):
        TrainConfig(task=task, dataset=dataset, backbone=name, backbone_args=args).validate()


def test_make_backbone_names_what_is_allowed_and_what_is_missing():
    with pytest.raises(ConfigError, match="takes no argument 'width'; its arguments are widths"):
        make_backbone("small_cnn", width=64)
    with pytest.raises(ConfigError, match="needs vocab_size"):
        make_backbone("transformer")
    with pytest.raises(ConfigError, match="unknown backbone 'vgg'; choose from " + ", ".join(BACKBONES)):
        make_backbone("vgg")


def test_tasks_that_need_more_than_pooled_features_say_so():
    text, image = build("transformer"), make_backbone("small_cnn")
    for task in ("colorization", "masked_image"):
        with pytest.raises(ConfigError, match="spatial map; backbone 'transformer' does not meet the ImageBackbone"):
            get_task(task).head(text, 32)
    for task in ("skip_gram", "masked_language", "replaced_token"):
        with pytest.raises(ConfigError, match="backbone 'small_cnn' does not meet the TextBackbone"):
            get_task(task).head(image, 32)


# -------------------------------------------------------------------------- stored with a run, reloaded
def test_a_saved_backbone_reloads_bit_for_bit_from_its_stored_arguments(tmp_path):
    torch.manual_seed(3)
    backbone = make_backbone("resnet18", widths=[8, 16], blocks=[1, 2])
    config = TrainConfig(task="rotation", backbone="resnet18", backbone_args={"widths": [8, 16], "blocks": [1, 2]})
    artifacts.save_run(tmp_path, config.to_dict(), {}, [], backbone)
    loaded = artifacts.load_backbone(tmp_path)
    assert loaded.spec() == backbone.spec() and same_weights(loaded, backbone)


@pytest.fixture(scope="module")
def narrow_run(tmp_path_factory):
    """A real short run of a non-default small CNN."""
    out = tmp_path_factory.mktemp("narrow")
    config = TrainConfig(task="rotation", epochs=1, backbone_args=dict(NARROW), **FAST)
    results = run_experiment(config, out, data_dir=tmp_path_factory.mktemp("data"))
    return config, results, out


def test_a_run_with_chosen_widths_stores_them_and_reloads_its_weights(narrow_run):
    config, results, out = narrow_run
    assert artifacts.load_config(out)["backbone_args"] == NARROW
    backbone = artifacts.load_backbone(out)
    assert backbone.spec() == {"name": "small_cnn", "args": NARROW} and backbone.feature_dim == 16
    emb = artifacts.load_embedding(out)
    data = load_dataset("shapes", n=80, size=32, seed=0)
    features = extract_features(backbone, data.inputs)[torch.as_tensor(emb["indices"])]
    assert torch.equal(features.half(), torch.as_tensor(emb["features"]))  # the very weights the run evaluated (kept as fp16)
    predictions = predict_run(out, artifacts.load_config(out), count=4, data=data)
    assert predictions.total == 4 * 4 and 0 <= predictions.correct <= 16  # four rotations of each image


def test_a_fine_tune_inherits_its_sources_backbone_args(narrow_run):
    _, _, out = narrow_run
    source, state = load_source(out, "0123456789ab")
    config = finetune_config(source, "0123456789ab", 1, budget=None, epochs=1)
    assert config.backbone_args == NARROW
    trainer = Trainer(config, init_state=state)
    assert same_weights(trainer.backbone, artifacts.load_backbone(out))


def test_a_text_run_stores_its_vocabulary_with_its_chosen_width(tmp_path, capsys):
    args = ["train", "--task", "skip_gram", "--epochs", "1", "--n", "200", "--json", "--out", str(tmp_path / "run")]
    args += ["--backbone-arg", "width=32", "--backbone-arg", "depth=1", "--backbone-arg", "heads=2"]
    assert main(args) == 0
    results = json.loads(capsys.readouterr().out)
    assert results["config"]["backbone_args"] == {"width": 32, "depth": 1, "heads": 2}
    backbone = artifacts.load_backbone(tmp_path / "run")
    spec = backbone.spec()["args"]
    assert (spec["width"], spec["depth"], spec["heads"], spec["max_len"]) == (32, 1, 2, 80)
    assert backbone.input_embedding().weight.shape == (spec["vocab_size"], 32)


def test_weights_of_another_backbone_than_the_config_names_are_refused(tmp_path):
    artifacts.save_run(tmp_path, TrainConfig().to_dict(), {}, [], make_backbone("small_cnn"))
    with pytest.raises(ArtifactError, match="weights of a 'small_cnn' backbone, not of 'resnet18'"):
        artifacts.load_backbone(tmp_path, "resnet18")


@pytest.mark.parametrize("name", list(BACKBONES))
def test_a_legacy_run_folder_without_stored_arguments_still_loads(tmp_path, name):
    """What the code before backbone specs wrote: config.json without backbone_args, bare safetensors."""
    torch.manual_seed(1)
    modality = BACKBONES[name].modality
    backbone = make_backbone(name, vocab_size=VOCAB, max_len=80) if modality == "text" else make_backbone(name)
    config = TrainConfig(task="skip_gram" if modality == "text" else "rotation", backbone=name).to_dict()
    del config["backbone_args"]
    (tmp_path / artifacts.CONFIG).write_text(json.dumps(config))
    save_file({k: v.contiguous() for k, v in backbone.state_dict().items()}, str(tmp_path / artifacts.WEIGHTS))
    (tmp_path / artifacts.RESULTS).write_text("{}")
    assert artifacts.read_weights(tmp_path / artifacts.WEIGHTS)[1] is None  # no spec: the legacy path
    loaded = artifacts.load_backbone(tmp_path)
    assert loaded.spec() == backbone.spec() and same_weights(loaded, backbone)
    source, state = load_source(tmp_path, "0123456789ab")  # a fine-tune of it starts from these weights
    assert finetune_config(source, "0123456789ab", 2).backbone_args == {}
    assert all(torch.equal(state[k], v) for k, v in backbone.state_dict().items())


# ------------------------------------------------------------------------- the registry is the one list
def test_cli_help_lists_every_registered_backbone_and_its_arguments(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    for name in BACKBONES:
        assert f"{name} ({BACKBONES[name].modality}" in help_text
        assert ", ".join(chosen_arg_names(name)) in help_text


def test_an_unknown_backbone_arg_on_the_command_line_is_a_one_line_error(capsys):
    assert main(["train", "--task", "rotation", "--backbone-arg", "depth=3"]) == 2
    assert "its arguments are widths" in capsys.readouterr().err


def test_no_backbone_name_is_spelled_out_outside_the_registry():
    """Pages, CLI and library take names from BACKBONES / DEFAULT_BACKBONE, so a new backbone is one entry."""
    quoted = re.compile("|".join(rf"[\"']{re.escape(name)}[\"']" for name in BACKBONES))
    files = [*(ROOT / "sslcore").rglob("*.py"), *(ROOT / "views").rglob("*.py"), ROOT / "app.py"]
    offenders = [
        f"{path.relative_to(ROOT)}:{i}"
        for path in files
        if "models" not in path.relative_to(ROOT).parts
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if quoted.search(line)
    ]
    assert offenders == []
