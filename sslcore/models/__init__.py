"""Backbones (what is evaluated) and heads (what each pretext task adds on top)."""

from sslcore.errors import ConfigError
from sslcore.models.backbones import IMAGE_BACKBONES, Backbone, ResNet18, SmallCNN
from sslcore.models.heads import MLP, ConvDecoder, VectorDecoder
from sslcore.models.text import TEXT_BACKBONES, TextEncoder

BACKBONES = {**IMAGE_BACKBONES, **TEXT_BACKBONES}
DEFAULT_BACKBONE = {"image": "small_cnn", "text": "transformer"}


def backbone_modality(name: str) -> str:
    return "text" if name in TEXT_BACKBONES else "image"


def make_backbone(name: str = "small_cnn", vocab_size: int | None = None, max_len: int = 128):
    """A fresh backbone by name. Text backbones need the tokenizer's ``vocab_size``."""
    if name in IMAGE_BACKBONES:
        return IMAGE_BACKBONES[name]()
    if name in TEXT_BACKBONES:
        if not vocab_size:
            raise ConfigError(f"backbone {name!r} reads text: it needs the vocabulary size")
        return TEXT_BACKBONES[name](vocab_size, max_len=max_len)
    raise ConfigError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")


__all__ = [
    "BACKBONES",
    "DEFAULT_BACKBONE",
    "Backbone",
    "ConvDecoder",
    "MLP",
    "ResNet18",
    "SmallCNN",
    "TextEncoder",
    "VectorDecoder",
    "backbone_modality",
    "make_backbone",
]
