"""Every limit a person meets, defined once: the code that enforces it and the page that words it read it here.

Stdlib only, so a page can show a limit (or a menu bounded by one) before torch is imported. A module that
enforces a limit imports the name from here (``sslcore/data/files.py`` keeps ``MAX_TOTAL_BYTES`` as its
own module name, so a test may still patch it there).
"""

from __future__ import annotations

MB = 2**20

# -- seeds ------------------------------------------------------------------------------------------
MAX_SEED = 2**31 - 1  # what every RNG here accepts (NumPy's legacy seeding stops at 2**32 - 1)
MAX_SEEDS = 5  # repeats of one comparison (seed, seed+1, ...): enough for a spread, few enough to wait for

# -- uploaded images (checked on the server, per image and per archive) ------------------------------
MAX_UPLOAD_BYTES = 20 * MB  # one image file
MAX_PIXELS = 50_000_000  # one image, width × height, before decoding allocates it
MAX_FILES = 5_000  # images in one zip or folder
MAX_TOTAL_BYTES = 200 * MB  # one zip, unpacked (and a training zip as uploaded)
MAX_UPLOAD_FILES = 64  # files taken from one upload widget

# -- uploaded or pasted text ------------------------------------------------------------------------
MAX_TEXT_BYTES = 10 * MB  # 10 MB of text is ~100,000 sentences: far more than a short run can use
MAX_SENTENCES = 20_000  # more are dropped (with a note): tokenizing and training time grow with them
MAX_PASTE_CHARS = 200_000  # text pasted into Explore

# -- custom task designs ----------------------------------------------------------------------------
MAX_DESIGN_FILE_BYTES = 16_000  # one saved or uploaded design (.json)

# -- the Train form ---------------------------------------------------------------------------------
DEFAULT_SHAPES_N = 2000  # shapes generated when a run gives no size
MIN_SHAPES_N, MAX_SHAPES_N, SHAPES_N_STEP = 100, 20_000, 100  # generated shapes a form may ask for

# -- names and their secrets ------------------------------------------------------------------------
MIN_SECRET_CHARS = 6  # a secret a person chooses; an empty one gets a generated secret instead
MAX_SECRET_CHARS = 200  # hashing is deliberately slow: an unbounded input would make it slower still
