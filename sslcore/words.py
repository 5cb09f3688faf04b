"""Counts in words, for every sentence the library writes (run names, warnings, lessons): stdlib only, so
the lowest layer may use it."""


def plural(count: int | float, word: str, words: str | None = None) -> str:
    """'1 image', '2 images', '1,500 images': a count with its noun in the right number (``words`` when the
    plural is not word + s)."""
    shown = f"{count:,}" if isinstance(count, int) else f"{count:g}"
    return f"{shown} {word if count == 1 else words or word + 's'}"
