"""Things defined once: every error class in sslcore/errors.py, the id pattern in sslcore/ids.py."""

import ast
import builtins
from pathlib import Path

import pytest

from sslcore import errors
from sslcore.errors import RunNotFound
from sslcore.ids import is_id, new_id
from sslcore.runs import RunStore

SSLCORE = Path(__file__).resolve().parents[1] / "sslcore"
# Until the CLI is a cli/ package (issue 22): a private ConfigError of the design commands, read_capped_file's
# error factory there.
NOT_YET_MOVED = {"sslcore/cli_design.py: _DefinitionFileError"}


def base_names(node: ast.ClassDef) -> set[str]:
    return {b.id if isinstance(b, ast.Name) else b.attr for b in node.bases if isinstance(b, ast.Name | ast.Attribute)}


def error_classes(root: Path) -> set[str]:
    """'path: Name' of every class under ``root`` (errors.py aside) that derives from an exception: a builtin
    one, one of sslcore.errors, or one found here (subclasses of subclasses too)."""
    known = {
        n
        for n in dir(builtins)
        if isinstance(getattr(builtins, n), type) and issubclass(getattr(builtins, n), BaseException)
    }
    known |= {n for n, v in vars(errors).items() if isinstance(v, type) and issubclass(v, BaseException)}
    classes = [
        (path, node)
        for path in sorted(root.rglob("*.py"))
        if path != root / "errors.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ClassDef)
    ]
    found: dict[str, str] = {}
    while True:
        now = {
            node.name: f"{root.name}/{path.relative_to(root)}: {node.name}"
            for path, node in classes
            if base_names(node) & (known | set(found))
        }
        if now == found:
            return set(found.values())
        found = now


def test_every_error_class_is_defined_in_errors_py():
    assert error_classes(SSLCORE) - NOT_YET_MOVED == set(), "define error classes in sslcore/errors.py"


def test_the_scan_finds_an_error_class_defined_elsewhere(tmp_path):
    (tmp_path / "sslcore").mkdir()
    (tmp_path / "sslcore" / "mod.py").write_text(
        "from sslcore.errors import ConfigError\nimport sslcore.errors as e\n"
        "class Oops(ConfigError):\n    pass\nclass Worse(Oops):\n    pass\nclass Also(e.PretextLabError):\n    pass\n"
        "class Plain:\n    pass\n"
    )
    assert error_classes(tmp_path / "sslcore") == {
        "sslcore/mod.py: Oops",
        "sslcore/mod.py: Worse",
        "sslcore/mod.py: Also",
    }


def test_the_id_pattern_is_written_once():
    for path in SSLCORE.rglob("*.py"):
        if path.name != "ids.py":
            text = path.read_text(encoding="utf-8")
            assert "{12}" not in text and "hex[:12]" not in text, f"{path}: use sslcore.ids (is_id, new_id)"


def test_an_id_is_exactly_twelve_hex_digits(tmp_path):
    made = new_id()
    assert is_id(made) and len(made) == 12
    for not_an_id in (made + "\n", made.upper(), made[:11], f"../{made}", None, 123456789012):
        assert not is_id(not_an_id), not_an_id
    store = RunStore(tmp_path)
    assert store.run_dir(made) == store.runs_dir / made
    with pytest.raises(RunNotFound):
        store.run_dir(made + "\n")  # a trailing newline never becomes a folder name
