"""The project's layout rules that nothing else would catch: where pages live, and the installed command."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_no_pages_folder_next_to_app():
    # Streamlit treats a pages/ folder beside the entry script as a legacy multipage app: it runs those files
    # directly and bypasses app.py's st.navigation (no worker start, helper modules listed as pages).
    assert (ROOT / "app.py").is_file()
    assert not (ROOT / "pages").exists(), "page files belong in views/ (a pages/ folder switches Streamlit's router)"
    assert (ROOT / "views").is_dir()


def test_pretext_lab_command_works_from_any_folder(tmp_path):
    command = Path(sys.executable).with_name("pretext-lab")
    assert command.exists(), "the project is not installed in this environment: run `make .venv/.installed`"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    out = subprocess.run(
        [str(command), "tasks", "--json"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    names = {task["name"] for task in json.loads(out.stdout)}
    assert {"rotation", "jigsaw", "masked_language"} <= names


def test_no_test_imports_a_conftest_by_name():
    # "from conftest import x" binds whichever conftest pytest loaded first under that name; with tests/e2e's own
    # conftest that was the wrong one, and collection failed in CI. Shared helpers live in tests/seeded.py.
    offenders = [
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "tests").rglob("*.py")
        if any(line.startswith(("from conftest import", "import conftest")) for line in path.read_text().splitlines())
    ]
    assert offenders == []
