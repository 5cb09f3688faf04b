"""Image backbones, and the base class every backbone shares (the contract is in ``protocols.py``).

``forward(x)`` gives the globally pooled feature vector (what probes evaluate); ``forward_map(x)`` the
spatial map before pooling (what dense decoders for colorization or masked modelling start from), and
``stride`` how many pixels one cell of that map spans. Inputs are float images in [0, 1]; the backbone
normalises them itself so tasks never have to.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from sslcore.errors import ConfigError


class Backbone(nn.Module):
    """What every registered backbone shares: a registry ``name``, a ``modality``, ``feature_dim``, and the
    constructor arguments it was built with (``init_args``, plain JSON), returned by ``spec()``.

    A subclass's constructor takes its sizes as arguments with defaults and sets ``init_args`` to
    ``self.check_args(...)`` of every one of them, defaults included: the values checked once, in one
    place (``check_backbone_args`` calls the same method before anything is built), and stored with a run
    so exactly this network is rebuilt before its weights load.
    """

    name: str
    modality: str
    feature_dim: int
    init_args: dict
    # constructor arguments the run sets from its dataset, not a person, each with a stand-in value that
    # lets the other arguments be checked before the dataset is loaded (``check_backbone_args``)
    data_args: dict[str, int] = {}

    @staticmethod
    def check_args(**args) -> dict:
        """All constructor arguments, checked (a ConfigError names a wrong one), as plain JSON values."""
        return args

    def spec(self) -> dict:
        return {"name": self.name, "args": dict(self.init_args)}

    def stages(self) -> list[tuple[str, nn.Module]]:
        """(readable name, submodule) per stage, in forward order (the contract: ``protocols.AnyBackbone``)."""
        raise NotImplementedError

    def pool_stage(self, output: Tensor, x: Tensor) -> Tensor:
        """(B, D) pooled features of one stage's output for input batch ``x``."""
        raise NotImplementedError


def whole(what: str, value, low: int, high: int) -> int:
    """``value`` as an int in [low, high], or a ConfigError naming the argument (JSON and the CLI give ints)."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError(f"{what} must be a whole number from {low} to {high}, got {value!r}")
    return value


def whole_list(what: str, values, low: int, high: int, count: tuple[int, int]) -> list[int]:
    """A list of ``count[0]``..``count[1]`` whole numbers, each in [low, high]."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not count[0] <= len(values) <= count[1]:
        size = str(count[0]) if count[0] == count[1] else f"{count[0]} to {count[1]}"
        raise ConfigError(f"{what} must be a list of {size} whole numbers, got {values!r}")
    return [whole(f"each of {what}", v, low, high) for v in values]


def conv_bn_relu(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class ConvBackbone(Backbone):
    """Input normalisation + a stack of layers + global average pooling: an ``ImageBackbone``."""

    modality = "image"

    def __init__(self, layers: nn.Sequential, feature_dim: int, stride: int):
        super().__init__()
        self.layers = layers
        self.feature_dim = feature_dim
        self.stride = stride
        self.register_buffer("mean", torch.full((1, 3, 1, 1), 0.5), persistent=False)
        self.register_buffer("std", torch.full((1, 3, 1, 1), 0.25), persistent=False)

    def forward_map(self, x: Tensor) -> Tensor:
        # channels_last: the memory layout the fast convolution kernels of CPUs (oneDNN) and GPUs (cuDNN)
        # prefer; the training loop keeps the weights in it too. benchmarks/train_speed.py and
        # benchmarks/gpu.py time steps in this layout (docs/benchmarks.md).
        x = ((x - self.mean) / self.std).contiguous(memory_format=torch.channels_last)
        return self.layers(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_map(x).mean(dim=(2, 3))

    def pool_stage(self, output: Tensor, x: Tensor) -> Tensor:
        """A conv stage's (B, C, h, w) map, globally averaged as ``forward`` pools the last one."""
        return output.mean(dim=(2, 3))


class SmallCNN(ConvBackbone):
    """Conv layers of ``widths`` channels (default 32-64-128-256), stride 2 from the second layer on,
    global average pool: the default image backbone, sized for a CPU.

    Downsampling early is what makes it cheap enough to train on a laptop CPU in a minute: a convolution
    costs in proportion to the pixels of its map, so each halving divides the cost of every wider layer
    after it by four. docs/benchmarks.md ("The pretext tax", benchmarks/train_speed.py) has its step time.
    """

    name = "small_cnn"

    def __init__(self, widths: Sequence[int] = (32, 64, 128, 256)):
        args = self.check_args(widths=widths)
        layers, cin = [], 3
        for i, width in enumerate(args["widths"]):
            layers.append(conv_bn_relu(cin, width, 1 if i == 0 else 2))
            cin = width
        super().__init__(nn.Sequential(*layers), cin, 2 ** (len(layers) - 1))
        self.init_args = args

    def stages(self) -> list[tuple[str, nn.Module]]:
        """Each conv layer: "block 1 (32 ch)" ... "block 4 (256 ch)"; the last one's pooled output is ``forward``."""
        return [(f"block {i + 1} ({w} ch)", layer) for i, (w, layer) in enumerate(zip(self.init_args["widths"], self.layers))]

    @staticmethod
    def check_args(widths) -> dict:
        return {"widths": whole_list("small_cnn widths", widths, 1, 1024, (1, 6))}


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: Tensor) -> Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(ConvBackbone):
    """CIFAR-style ResNet-18 (3×3 stem, no max-pool): the standard SSL benchmark backbone, for GPUs.

    ``widths`` are the stages' channels and ``blocks`` their residual blocks (one entry per stage, default
    two each: the defaults are ResNet-18's); each stage after the first halves the resolution.
    """

    name = "resnet18"

    def __init__(self, widths: Sequence[int] = (64, 128, 256, 512), blocks: Sequence[int] | None = None):
        args = self.check_args(widths=widths, blocks=blocks)
        widths, blocks = args["widths"], args["blocks"]
        layers, cin = [conv_bn_relu(3, widths[0], 1)], widths[0]
        for i, (width, count) in enumerate(zip(widths, blocks)):
            for j in range(count):
                layers.append(BasicBlock(cin, width, 2 if (i > 0 and j == 0) else 1))
                cin = width
        super().__init__(nn.Sequential(*layers), cin, 2 ** (len(widths) - 1))
        self.init_args = args

    def stages(self) -> list[tuple[str, nn.Module]]:
        """Each stage's last residual block: "stage 1 (64 ch)" ... "stage 4 (512 ch)" (the stem is not a stage)."""
        ends = torch.tensor(self.init_args["blocks"]).cumsum(0).tolist()  # layers[0] is the stem
        return [(f"stage {i + 1} ({w} ch)", self.layers[end]) for i, (w, end) in enumerate(zip(self.init_args["widths"], ends))]

    @staticmethod
    def check_args(widths, blocks) -> dict:
        widths = whole_list("resnet18 widths", widths, 1, 2048, (1, 6))
        blocks = [2] * len(widths) if blocks is None else blocks
        blocks = whole_list("resnet18 blocks (one per width)", blocks, 1, 16, (len(widths), len(widths)))
        return {"widths": widths, "blocks": blocks}


IMAGE_BACKBONES = {cls.name: cls for cls in (SmallCNN, ResNet18)}
