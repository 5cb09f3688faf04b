"""Errors a person can act on. Every message names the problem and, where it helps, the fix."""


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
