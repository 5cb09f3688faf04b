"""Backbones (what is evaluated) and heads (what each pretext task adds on top)."""

from sslcore.models.backbones import BACKBONES, Backbone, ResNet18, SmallCNN, make_backbone
from sslcore.models.heads import MLP, ConvDecoder, VectorDecoder

__all__ = ["BACKBONES", "Backbone", "ResNet18", "MLP", "ConvDecoder", "SmallCNN", "VectorDecoder", "make_backbone"]
