"""Backbones (what is evaluated) and heads (what each pretext task adds on top).

``BACKBONES`` is the registry: the one place that knows which backbones exist. Every entry meets its
modality's protocol in ``sslcore/models/protocols.py`` (``tests/test_backbones.py`` holds them to it), and
``make_backbone(name, **args)`` builds one from its constructor arguments, checked by name.
"""

from __future__ import annotations

import inspect
import json

from sslcore.errors import ConfigError
from sslcore.models.backbones import IMAGE_BACKBONES, Backbone, ConvBackbone, ResNet18, SmallCNN
from sslcore.models.heads import MLP, ConvDecoder, VectorDecoder
from sslcore.models.protocols import CONTRACTS, AnyBackbone, ImageBackbone, TextBackbone, require
from sslcore.models.text import TEXT_BACKBONES, TextEncoder

BACKBONES: dict[str, type[Backbone]] = {**IMAGE_BACKBONES, **TEXT_BACKBONES}
DEFAULT_BACKBONE = {"image": SmallCNN.name, "text": TextEncoder.name}


def backbone_class(name: str) -> type[Backbone]:
    if name not in BACKBONES:
        raise ConfigError(f"unknown backbone {name!r}; choose from {', '.join(BACKBONES)}")
    return BACKBONES[name]


def backbone_modality(name: str) -> str:
    """"image" or "text" for a registered backbone (an unknown name reads as an image one, as before)."""
    return BACKBONES[name].modality if name in BACKBONES else "image"


def backbones_for(modality: str) -> list[str]:
    """The registered backbones that read ``modality``, default first (menus and help list these)."""
    names = [name for name, cls in BACKBONES.items() if cls.modality == modality]
    return sorted(names, key=lambda n: n != DEFAULT_BACKBONE.get(modality))


def backbone_arg_names(name: str) -> list[str]:
    """The constructor arguments of backbone ``name`` (those set from the dataset included)."""
    return list(inspect.signature(backbone_class(name)).parameters)


def chosen_arg_names(name: str) -> list[str]:
    """The constructor arguments a person may choose (a run's ``backbone_args``): all but the dataset's."""
    return [a for a in backbone_arg_names(name) if a not in backbone_class(name).data_args]


def describe_backbones() -> str:
    """One line per registered backbone with its modality and choosable arguments (CLI help)."""
    lines = []
    for name, cls in BACKBONES.items():
        default = ", default" if DEFAULT_BACKBONE[cls.modality] == name else ""
        lines.append(f"{name} ({cls.modality}{default}; args {', '.join(chosen_arg_names(name))})")
    return "; ".join(lines)


def make_backbone(name: str = DEFAULT_BACKBONE["image"], **args) -> Backbone:
    """A fresh backbone by name, built from constructor ``args`` (unset ones take their defaults).

    Text backbones need the tokenizer's ``vocab_size``. An argument the backbone does not take, or a value
    it cannot use, is a ConfigError that names it.
    """
    _bind(name, args)  # names checked before anything is built
    return backbone_class(name)(**args)


def check_backbone_args(name: str, args) -> None:
    """Raise a ConfigError, naming the argument, unless ``args`` are constructor arguments a person may
    choose for backbone ``name`` with values it accepts. Nothing is built: the backbone's own
    ``check_args`` (which its constructor calls too) sees them with the defaults of the rest."""
    if not isinstance(args, dict):
        raise ConfigError(f"backbone_args must be a mapping of argument names to values, got {args!r}")
    cls = backbone_class(name)
    from_data = sorted(set(args) & set(cls.data_args))
    if from_data:
        raise ConfigError(
            f"backbone {name!r} takes {', '.join(from_data)} from the dataset; choose from {', '.join(chosen_arg_names(name))}"
        )
    _bind(name, {**cls.data_args, **args})


def _bind(name: str, args: dict) -> dict:
    """Every constructor argument of backbone ``name``, checked: ``args`` plus the defaults of the rest.
    An unknown or missing argument is a ConfigError naming it and the allowed ones."""
    cls = backbone_class(name)
    allowed = backbone_arg_names(name)
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise ConfigError(
            f"backbone {name!r} takes no argument {', '.join(map(repr, unknown))}; its arguments are {', '.join(allowed)}"
        )
    parameters = inspect.signature(cls).parameters
    missing = [a for a, p in parameters.items() if p.default is inspect.Parameter.empty and a not in args]
    if missing:
        raise ConfigError(f"backbone {name!r} needs {', '.join(missing)} (set from the dataset it reads)")
    full = {a: args.get(a, p.default) for a, p in parameters.items()}
    return cls.check_args(**full)


def parse_backbone_args(items: list[str] | None) -> dict:
    """CLI ``key=value`` strings -> backbone_args: ``width=64`` an int, ``widths=16,32,64`` a list of them
    (JSON values are read as JSON). ``check_backbone_args`` then checks names and values."""
    out = {}
    for item in items or []:
        key, sep, value = (part.strip() for part in item.partition("="))
        if not sep or not key or not value:
            raise ConfigError(f"--backbone-arg expects key=value, e.g. widths=16,32,64, got {item!r}")
        parts = [_json_or_text(v.strip()) for v in value.split(",")] if "," in value and value[0] != "[" else None
        out[key] = parts if parts is not None else _json_or_text(value)
    return out


def _json_or_text(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def rebuild_backbone(spec: dict) -> Backbone:
    """The backbone a ``spec()`` describes, with fresh weights (load its state dict next)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(spec.get("args"), dict):
        raise ConfigError(f"a backbone spec is {{'name': ..., 'args': {{...}}}}, got {spec!r}")
    return make_backbone(spec["name"], **spec["args"])


__all__ = [
    "BACKBONES",
    "CONTRACTS",
    "DEFAULT_BACKBONE",
    "AnyBackbone",
    "Backbone",
    "ConvBackbone",
    "ConvDecoder",
    "ImageBackbone",
    "MLP",
    "ResNet18",
    "SmallCNN",
    "TextBackbone",
    "TextEncoder",
    "VectorDecoder",
    "backbone_arg_names",
    "backbone_class",
    "backbone_modality",
    "backbones_for",
    "check_backbone_args",
    "chosen_arg_names",
    "describe_backbones",
    "make_backbone",
    "parse_backbone_args",
    "rebuild_backbone",
    "require",
]
