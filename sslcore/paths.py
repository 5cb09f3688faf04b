"""Where Pretext Lab keeps its data: ``$PRETEXT_LAB_DATA_DIR`` or ``./.pretext-lab``."""

import os
from pathlib import Path

DATA_DIR_ENV = "PRETEXT_LAB_DATA_DIR"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Return (and create) the data directory; an explicit override wins over the environment."""
    path = Path(override or os.environ.get(DATA_DIR_ENV) or ".pretext-lab")
    path.mkdir(parents=True, exist_ok=True)
    return path
