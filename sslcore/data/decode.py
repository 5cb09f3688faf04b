"""Turn bytes a person handed in into an upright RGB picture, or say plainly why not.

Uploads are hostile until proven otherwise: empty, huge, lying about their size (decompression bombs),
truncated, in a format we don't support, or in an exotic colour mode. Every failure becomes an
``ImageDecodeError(filename, reason)`` that the UI can show as is; no other exception escapes for bad input.
Truncated files are caught because PIL's ``ImageFile.LOAD_TRUNCATED_IMAGES`` is left at its default, False.
"""

import contextlib
import io
import re
import warnings

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from sslcore.errors import ImageDecodeError

# Caps. A phone photo is 2-12 MB and 12-48 megapixels; 20 MB covers any reasonable single upload while
# keeping the worst case small. Decoding costs 1-4 bytes per pixel however small the file is, so the pixel
# cap (checked from the header, before any pixel is decoded) bounds memory at ~200 MB per image: that is
# what stops a 100 KB PNG that claims to be 50,000 × 50,000 pixels. To stay near that bound, an image that
# will be shrunk (``draft_size``) is reduced in its own mode before any conversion to RGB, and 16-bit data
# is scaled in slices: a 49-megapixel 16-bit PNG of 95 KB once took 1.6 GB and 6 s, now under 300 MB.
from sslcore.limits import MAX_PIXELS, MAX_UPLOAD_BYTES  # defined once, for the pages too

# Raster formats PIL decodes well and people actually have. MPO is what PIL calls a JPEG with a
# multi-picture extension (many phone and camera photos). Everything else is refused by name.
SUPPORTED_FORMATS = frozenset({"PNG", "JPEG", "MPO", "GIF", "BMP", "WEBP", "TIFF"})
_FORMAT_LIST = "PNG, JPEG, GIF, BMP, WEBP, TIFF"

_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_SIXTEEN_BIT_MODES = {"I;16", "I;16B", "I;16L", "I;16N"}
# Modes whose pixels can be averaged as they are (palette indices and 1-bit cannot; PIL's reduce refuses 16-bit)
_REDUCIBLE_MODES = {"L", "LA", "La", "RGB", "RGBA", "RGBa", "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I", "F"}
_CHUNK_PIXELS = 1 << 20  # 16-bit and float data are scaled a million pixels at a time


def _sniff_unsupported(data: bytes, filename: str) -> str | None:
    """Name formats PIL cannot (or must not) read, so the person gets a useful message."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    lower = filename.lower()
    if head.startswith(b"%pdf"):
        return "unsupported format PDF (export the page as PNG or JPEG first)"
    if b"<svg" in head or lower.endswith((".svg", ".svgz")):
        return "unsupported format SVG (vector graphics, which PIL cannot read; export it as PNG first)"
    if data[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc"):
        return "unsupported format HEIC (convert it to JPEG or PNG first)"
    return None


def decode_image(
    data: bytes,
    filename: str,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    max_pixels: int = MAX_PIXELS,
    draft_size: int | None = None,
) -> Image.Image:
    """Decode ``data`` into an upright RGB image, or raise ``ImageDecodeError(filename, reason)``.

    ``draft_size``: the image will be shrunk to about this size anyway, so it may come back smaller than
    the file (still at least that many pixels on each side): JPEGs decode at a reduced scale, other
    formats are reduced before the colour conversion. Big photos get several times faster and lighter.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ImageDecodeError(filename, f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if not data:
        raise ImageDecodeError(filename, "empty file")
    if len(data) > max_bytes:
        raise ImageDecodeError(filename, f"file is {_mb(len(data))}, over the {_mb(max_bytes)} limit")
    unsupported = _sniff_unsupported(data, filename)
    if unsupported:
        raise ImageDecodeError(filename, unsupported)
    try:
        # PIL warns above ~89 MP and raises above twice that; both become our error. (catch_warnings is
        # process-wide and not thread-safe: at worst another thread briefly runs under these two filters.)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            warnings.filterwarnings("ignore", category=UserWarning, module="PIL")  # e.g. "Corrupt EXIF data"
            return _decode(data, filename, max_pixels, draft_size)
    except ImageDecodeError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        pil_cap = Image.MAX_IMAGE_PIXELS or max_pixels
        declared = re.search(r"\((\d+) pixels\)", str(err))  # PIL names the size it read from the header
        size = f"{int(declared[1]) / 1e6:,.0f} megapixels" if declared else f"more than {pil_cap / 1e6:.0f} megapixels"
        raise ImageDecodeError(
            filename,
            f"image declares {size}, over the {min(max_pixels, pil_cap) / 1e6:.0f} megapixel limit "
            "(a decompression bomb, or simply too big)",
        ) from None
    except UnidentifiedImageError:
        raise ImageDecodeError(filename, f"not an image PIL can read (supported: {_FORMAT_LIST})") from None
    except (OSError, SyntaxError, EOFError) as err:
        raise ImageDecodeError(filename, f"file is truncated or corrupt ({_short(err)})") from None
    except Exception as err:  # a malformed file can trip any decoder; never let that escape as a crash
        raise ImageDecodeError(filename, f"could not decode image ({type(err).__name__}: {_short(err)})") from None


def _decode(data: bytes, filename: str, max_pixels: int, draft_size: int | None) -> Image.Image:
    img = Image.open(io.BytesIO(data))  # reads the header only
    if img.format not in SUPPORTED_FORMATS:
        raise ImageDecodeError(filename, f"unsupported format {img.format} (supported: {_FORMAT_LIST})")
    width, height = img.size
    if width < 1 or height < 1:
        raise ImageDecodeError(filename, f"image has no pixels ({width}×{height})")
    if width * height > max_pixels:
        raise ImageDecodeError(
            filename,
            f"image is {width}×{height} = {width * height / 1e6:.0f} megapixels, over the "
            f"{max_pixels / 1e6:.0f} megapixel limit (a decompression bomb, or simply too big)",
        )
    if draft_size and img.format in ("JPEG", "MPO"):
        img.draft("RGB", (draft_size, draft_size))
    img.load()  # animated GIF/PNG/WEBP and multi-page TIFF: the first frame
    with contextlib.suppress(Exception):  # a broken EXIF block must not cost the picture itself
        ImageOps.exif_transpose(img, in_place=True)  # a phone photo taken sideways comes out upright
    if draft_size:
        img = _shrink(img, draft_size)
    return to_rgb(img, filename)


def _shrink(img: Image.Image, at_least: int) -> Image.Image:
    """Box-reduce by a whole factor, keeping at least ``at_least`` pixels on the short side, before the
    conversion to RGB (which would otherwise copy the full-size image two or three times)."""
    factor = min(img.size) // at_least
    if factor < 2:
        return img
    if img.mode in _SIXTEEN_BIT_MODES:
        img = Image.fromarray(_to_uint8(np.asarray(img), img.mode))
    elif "transparency" in img.info or img.mode == "PA":  # colour-key or palette alpha: make it a real alpha
        img = img.convert("RGBA")
    elif img.mode == "P":
        img = img.convert("RGB")
    elif img.mode == "1":
        img = img.convert("L")
    return img.reduce(factor) if img.mode in _REDUCIBLE_MODES else img


def to_rgb(img: Image.Image, filename: str = "image") -> Image.Image:
    """Convert any PIL mode to RGB: transparency over white, 16-bit and float scaled (not clipped)."""
    mode = img.mode
    if mode in _ALPHA_MODES or (mode in {"P", "L", "RGB", "1"} and "transparency" in img.info):
        rgba = img.convert("RGBA")  # a palette or colour-key transparency becomes a real alpha channel
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    if mode == "RGB":
        return img
    if mode in _SIXTEEN_BIT_MODES or mode in {"I", "F"}:
        return Image.fromarray(_to_uint8(np.asarray(img), mode)).convert("RGB")
    try:
        return img.convert("RGB")  # P, L, 1, CMYK, YCbCr, RGBX...
    except ValueError:
        raise ImageDecodeError(filename, f"unsupported colour mode {mode}") from None


def _to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """Scale one-channel integer or float pixels to 0..255.

    16-bit data (I;16*, or 32-bit "I" holding 0..65535, which is how PIL opens 16-bit TIFF and PGM)
    maps 65535 to 255. Floats in 0..1 are scaled by 255; any other range is stretched min..max.
    Works in slices, so a huge image costs one byte per pixel on top of its input.
    """
    if arr.dtype.kind == "f":
        arr = np.where(np.isfinite(arr), arr, 0).astype(np.float32, copy=False)
    lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
    if mode in _SIXTEEN_BIT_MODES or (mode == "I" and lo >= 0 and 255 < hi <= 65535):
        offset, scale = 0.0, 1 / 257
    elif mode == "F" and lo >= 0 and hi <= 1:
        offset, scale = 0.0, 255.0
    elif lo >= 0 and hi <= 255:
        offset, scale = 0.0, 1.0
    else:
        offset, scale = lo, (255.0 / (hi - lo) if hi > lo else 0.0)
    out = np.empty(arr.shape, dtype=np.uint8)
    flat_in, flat_out = arr.reshape(-1), out.reshape(-1)
    for start in range(0, flat_in.size, _CHUNK_PIXELS):
        chunk = flat_in[start : start + _CHUNK_PIXELS].astype(np.float64)
        chunk = np.clip(np.rint((chunk - offset) * scale), 0, 255)
        flat_out[start : start + _CHUNK_PIXELS] = chunk
    return out


def image_to_tensor(img: Image.Image, size: int) -> torch.Tensor:
    """Centre-crop to a square and resize (antialiased) to a uint8 (3, size, size) tensor."""
    if size < 1:
        raise ValueError(f"size must be positive, got {size}")
    if img.mode != "RGB":
        img = to_rgb(img)
    width, height = img.size
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    # reducing_gap: a fast box pre-shrink for big photos, then Lanczos for the last factor of 3
    square = img.resize(
        (size, size), Image.Resampling.LANCZOS, box=(left, top, left + side, top + side), reducing_gap=3.0
    )
    return torch.from_numpy(np.asarray(square, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _short(err: BaseException, limit: int = 160) -> str:
    text = str(err) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"
