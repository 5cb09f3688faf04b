"""The backbone contract: what every backbone provides, one protocol per modality.

Tasks, the evaluation, the training loop and the run folder use a backbone only through the members
below; anything else (layer names, which attribute holds the embedding table) is the backbone's own
business and may change. To add a backbone, write a class that meets its modality's protocol (the
easy way: subclass ``Backbone`` or ``ConvBackbone``), register it in ``sslcore/models/__init__.py``, and
``tests/test_backbones.py`` checks it against the protocol like every other registered one.

The protocols are ``runtime_checkable``, so code that needs more than pooled features can ask
(``require(backbone, ImageBackbone, ...)``) and fail with a sentence instead of an AttributeError.
``isinstance`` checks only that the members exist; the test checks what they return.
"""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

from torch import Tensor, nn

from sslcore.errors import ConfigError


@runtime_checkable
class AnyBackbone(Protocol):
    """What every backbone provides, whatever it reads.

    ``forward`` gives one pooled feature vector per example: that is what the linear probe, kNN, the 2-D
    map and most heads read, so it is the one thing a backbone must do well. ``spec()`` is the backbone's
    name and constructor arguments as plain JSON: a run stores it with the weights (see
    ``sslcore.artifacts``), so the same network is rebuilt before its weights load, without guessing.
    """

    name: str  # its key in the registry (``BACKBONES``): what a config and a stored spec call it
    modality: str  # "image" or "text": which datasets and tasks it can serve
    feature_dim: int  # the size of ``forward``'s features: heads and probes are sized from it

    def forward(self, x: Tensor) -> Tensor:
        """(B, feature_dim) pooled features of a batch."""
        ...

    def spec(self) -> dict:
        """``{"name": ..., "args": {...}}``: ``make_backbone(spec["name"], **spec["args"])`` rebuilds it."""
        ...

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The backbone's stages in forward order, each as (readable name, the submodule whose output it is);
        a name ends with the stage's pooled width in brackets, e.g. ``("block 3 (128 ch)", ...)``. ``sslcore.evaluate.extract_features(..., stages=True)`` hooks
        these modules and pools each output with ``pool_stage``, so every stage is probed in one pass."""
        ...

    def pool_stage(self, output: Tensor, x: Tensor) -> Tensor:
        """(B, D) global pooling of one stage's ``output`` for the input batch ``x``: a spatial mean of a
        conv map, the mean over real (non-padding) tokens of a Transformer layer's states."""
        ...


@runtime_checkable
class ImageBackbone(AnyBackbone, Protocol):
    """A backbone that reads images.

    Inputs are float images (B, 3, H, W) in [0, 1]; the backbone normalises them itself, so no task and no
    probe has to know its input statistics. Dense tasks (colorization, masked image modelling) decode from
    the spatial map before pooling, and size their upsampling from ``stride``.
    """

    modality: Literal["image"]
    stride: int  # how many input pixels one cell of ``forward_map`` spans (a power of two)

    def forward_map(self, x: Tensor) -> Tensor:
        """(B, feature_dim, H / stride, W / stride): the features before global pooling."""
        ...


@runtime_checkable
class TextBackbone(AnyBackbone, Protocol):
    """A backbone that reads token ids (the dataset's tokenizer; 0 is padding).

    ``forward`` takes (B, L) ids, or a text dataset's (B, 2, L) sentence pairs, of which it encodes the
    first: a feature describes one sentence. Token-level tasks (masked language, replaced token) read
    ``forward_tokens``; tasks that train or tie to the word vectors (skip-gram, MLM's output layer) and the
    Results page's word map read ``input_embedding()``, not an attribute of one implementation.
    """

    modality: Literal["text"]
    vocab_size: int  # ids are in [0, vocab_size): set from the dataset's tokenizer
    max_len: int  # the longest sequence ``forward_tokens`` accepts

    def forward_tokens(self, tokens: Tensor) -> Tensor:
        """(B, L, feature_dim): one contextual state per token of (B, L) ids."""
        ...

    def input_embedding(self) -> nn.Embedding:
        """The input word vectors, (vocab_size, feature_dim): the table skip-gram trains and MLM ties to."""
        ...


CONTRACTS = {"image": ImageBackbone, "text": TextBackbone}


def require(backbone, contract: type, why: str) -> None:
    """Raise a ConfigError unless ``backbone`` meets ``contract``; ``why`` says who needs it, e.g.
    "colorization decodes colours from the backbone's spatial map"."""
    if not isinstance(backbone, contract):
        name = getattr(backbone, "name", type(backbone).__name__)
        raise ConfigError(f"{why}; backbone {name!r} does not meet the {contract.__name__} contract (sslcore/models/protocols.py)")
