"""Errors a person can act on. Every message names the problem and, where it helps, the fix.

Every error class of sslcore is defined here (stdlib only, the lowest layer), so a page or the CLI catches
them from one place, whichever layer raises them.
"""


class PretextLabError(Exception):
    """Base class: the CLI and UI show ``str(err)`` as is, without a traceback."""


class ConfigError(PretextLabError, ValueError):
    """A task, dataset or parameter setting that cannot work (unknown name, value out of range...)."""


class ImageDecodeError(PretextLabError, ValueError):
    """A file a user handed in that is not a usable image. ``filename`` names it; the message says why."""

    def __init__(self, filename: str, reason: str):
        self.filename = filename
        self.reason = reason
        super().__init__(f"{filename}: {reason}")


class DatasetUnavailable(PretextLabError, RuntimeError):
    """A dataset that cannot be loaded here (e.g. a download with no internet), with how to provide it."""


class TextDecodeError(PretextLabError, ValueError):
    """A file a user handed in that is not usable text (binary, not UTF-8, empty, too big...)."""

    def __init__(self, filename: str, reason: str):
        self.filename = filename
        self.reason = reason
        super().__init__(f"{filename}: {reason}")


class StorageError(PretextLabError, OSError):
    """The data folder (or a run's output folder) cannot be written: full, read-only, not a folder."""


class ArtifactError(PretextLabError):
    """A run folder whose files are missing or damaged."""


class TrainingError(PretextLabError):
    """A run that cannot go on (NaN loss, out of memory...), with what to change."""


# -- the run store (sslcore.runs.store) ----------------------------------------------------------------
class StoreUnavailable(PretextLabError):
    """The run store cannot be used right now (locked too long, disk full, read-only, damaged)."""


class QueueFull(PretextLabError):
    """One person already has as many runs waiting as the queue allows per person."""


class NotAllowed(PretextLabError, PermissionError):
    """Someone other than a run's owner (or the teacher) tried to change it (a run, a custom task)."""


class NameTaken(NotAllowed):
    """A claimed name was used without its secret (or with a wrong one)."""


class RunNotFound(PretextLabError, KeyError):
    """No run with that id in the store."""

    def __str__(self) -> str:  # KeyError would quote the message
        return self.args[0]
