"""Where Pretext Lab keeps its data: ``$PRETEXT_LAB_DATA_DIR`` or ``./.pretext-lab``.

Writing there can fail for reasons a person can fix (a full disk, a read-only mount, a path that is a
file): ``StorageError`` says which, instead of a traceback.
"""

import errno
import os
from pathlib import Path

from sslcore.errors import StorageError

DATA_DIR_ENV = "PRETEXT_LAB_DATA_DIR"


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Return (and create) the data directory; an explicit override wins over the environment."""
    path = Path(override or os.environ.get(DATA_DIR_ENV) or ".pretext-lab")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise StorageError(f"cannot use {path} as the data folder: it exists and is not a folder") from None
    except OSError as err:
        reason, fix = os_error_reason(err)
        raise StorageError(f"cannot use {path} as the data folder: {reason} ({fix})") from None
    return path


def os_error_reason(err: OSError) -> tuple[str, str]:
    """(what a failed write means for a person, what to do about it) for an OSError."""
    if err.errno in (errno.ENOSPC, errno.EDQUOT):
        return "no space left in the data folder", f"free some space, or point {DATA_DIR_ENV} at a bigger disk"
    if err.errno == errno.EROFS:
        return "the data folder is on a read-only disk", f"point {DATA_DIR_ENV} at a writable folder"
    if err.errno in (errno.EACCES, errno.EPERM):
        return "no permission to write in the data folder", f"point {DATA_DIR_ENV} at a folder you can write"
    if err.errno == errno.ENOTDIR:
        return "a part of the path is a file, not a folder", f"point {DATA_DIR_ENV} at a folder"
    return f"the data folder cannot be written ({err.strerror or type(err).__name__})", "check the disk"


def storage_error(err: OSError, path: str | os.PathLike) -> StorageError:
    """``err`` (raised while writing ``path``) as a StorageError naming the cause, the path and the fix."""
    reason, fix = os_error_reason(err)
    return StorageError(f"{reason}: could not write {path} ({fix})")
