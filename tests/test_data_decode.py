"""Safe decoding: every hostile or odd input either becomes an upright RGB image or an ImageDecodeError."""

import io
import struct
import zlib

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from sslcore.data.decode import MAX_PIXELS, MAX_UPLOAD_BYTES, decode_image, image_to_tensor
from sslcore.errors import ImageDecodeError


def encode(img: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kwargs)
    return buf.getvalue()


def decode_error(data: bytes, filename: str = "x.png", **kwargs) -> str:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data, filename, **kwargs)
    assert info.value.filename == filename and str(info.value).startswith(f"{filename}: ")
    return info.value.reason


def pixels(img: Image.Image) -> np.ndarray:
    assert img.mode == "RGB"
    return np.asarray(img).astype(int)


def png_claiming(width: int, height: int) -> bytes:
    """A ~70-byte PNG whose header declares width × height (a decompression bomb's calling card)."""
    data = bytearray(encode(Image.new("1", (1, 1)), "PNG"))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


NOISE = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
SAMPLES = {
    "png": encode(Image.fromarray(NOISE), "PNG"),
    "jpeg": encode(Image.fromarray(NOISE), "JPEG"),
    "gif": encode(Image.fromarray(NOISE).convert("P"), "GIF"),
    "webp": encode(Image.fromarray(NOISE), "WEBP"),
    "bmp": encode(Image.fromarray(NOISE[:16, :16]), "BMP"),
    "tiff": encode(Image.fromarray(NOISE[:16, :16]), "TIFF"),
}


# --- hostile inputs -------------------------------------------------------------------------------------


def test_empty_file():
    assert decode_error(b"") == "empty file"


def test_text_renamed_png():
    assert decode_error(b"just some notes\n" * 20, "notes.png").startswith("not an image PIL can read")


@pytest.mark.parametrize("kind", ["png", "jpeg"])
def test_truncated(kind):
    data = SAMPLES[kind]
    assert "truncated or corrupt" in decode_error(data[: len(data) * 2 // 3], f"cut.{kind}")


def test_corrupt_png_crc():
    data = bytearray(SAMPLES["png"])
    data[60] ^= 0xFF  # inside IDAT: the chunk CRC no longer matches
    assert "truncated or corrupt" in decode_error(bytes(data))


def test_decompression_bomb_header_checked_before_decoding():
    bomb = png_claiming(8000, 8000)  # 64 MP: over our cap, under PIL's own guard
    assert len(bomb) < 100
    reason = decode_error(bomb, "bomb.png")
    assert "8000×8000 = 64 megapixels, over the 50 megapixel limit" in reason and "decompression bomb" in reason


@pytest.mark.parametrize("side", [10_000, 20_000, 100_000])  # above PIL's warning, its error threshold, far above
@pytest.mark.parametrize("max_pixels", [MAX_PIXELS, 10**12])
def test_pil_decompression_bomb_guard_becomes_our_error(side, max_pixels):
    reason = decode_error(png_claiming(side, side), "bomb.png", max_pixels=max_pixels)
    assert "megapixel limit" in reason and "decompression bomb" in reason


def test_pixel_cap_is_configurable():
    assert "megapixel limit" in decode_error(SAMPLES["png"], max_pixels=1000)
    assert decode_image(SAMPLES["png"], "ok.png", max_pixels=64 * 64).size == (64, 64)


def test_valid_image_over_byte_cap():
    big = encode(Image.new("RGB", (2700, 2700), (1, 2, 3)), "BMP")  # uncompressed: ~21 MB
    assert len(big) > MAX_UPLOAD_BYTES
    assert "over the 20.0 MB limit" in decode_error(big, "huge.bmp")
    assert "limit" in decode_error(SAMPLES["png"], max_bytes=100)


def test_svg_is_named():
    svg = b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>'
    reason = decode_error(svg, "logo.svg")
    assert reason.startswith("unsupported format SVG") and "PIL cannot read" in reason


def test_pdf_is_named():
    assert decode_error(b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n", "paper.pdf").startswith("unsupported format PDF")


def test_heic_is_named():
    assert "HEIC" in decode_error(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64), "a.heic")


@pytest.mark.parametrize("fmt", ["ICO", "PPM", "TGA"])
def test_formats_outside_whitelist(fmt):
    assert decode_error(encode(Image.new("RGB", (8, 8)), fmt)).startswith(f"unsupported format {fmt}")


def test_non_bytes_input():
    assert "expected bytes" in decode_error(12345)


# --- odd but valid inputs ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_whitelisted_formats_decode(kind):
    img = decode_image(SAMPLES[kind], f"ok.{kind}")
    assert img.mode == "RGB" and img.size[0] in (16, 64)


def test_sixteen_bit_scaled_not_clipped():
    values = np.array([[0, 65535, 32768, 257, 1000]], dtype=np.uint16)
    src = Image.fromarray(values)
    assert src.mode == "I;16"
    for fmt in ("PNG", "TIFF"):
        out = pixels(decode_image(encode(src, fmt), f"deep.{fmt.lower()}"))
        assert out[0, :, 0].tolist() == [0, 255, 128, 1, 4]
        assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_sixteen_bit_big_endian():
    src = Image.fromarray(np.array([[0, 65535, 32768]], dtype=">u2"))
    assert src.mode == "I;16B"
    assert pixels(decode_image(encode(src, "TIFF"), "deep.tif"))[0, :, 0].tolist() == [0, 255, 128]


def test_32_bit_int_and_float():
    assert pixels(decode_image(encode(Image.new("I", (4, 4), 65535), "TIFF"), "i.tif"))[0, 0, 0] == 255
    assert pixels(decode_image(encode(Image.new("F", (4, 4), 0.5), "TIFF"), "f.tif"))[0, 0, 0] == 128


def test_cmyk():
    red_cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))
    for fmt in ("JPEG", "TIFF"):
        r, g, b = pixels(decode_image(encode(red_cmyk, fmt), "cmyk"))[8, 8]
        assert r > 240 and g < 15 and b < 15


def test_palette_with_transparency_over_white():
    img = Image.new("P", (8, 8), 0)
    img.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    img.paste(1, (4, 0, 8, 8))
    for fmt in ("PNG", "GIF"):
        out = pixels(decode_image(encode(img, fmt, transparency=0), f"p.{fmt.lower()}"))
        assert out[0, 0].tolist() == [255, 255, 255]  # transparent red -> white
        assert out[0, 7].tolist() == [0, 255, 0]  # opaque green stays


def test_rgb_colour_key_transparency_over_white():
    img = Image.new("RGB", (4, 4), (1, 2, 3))
    img.putpixel((3, 3), (9, 9, 9))
    out = pixels(decode_image(encode(img, "PNG", transparency=(1, 2, 3)), "key.png"))
    assert out[0, 0].tolist() == [255, 255, 255] and out[3, 3].tolist() == [9, 9, 9]


def test_one_bit():
    img = Image.new("1", (8, 8), 0)
    img.paste(1, (0, 0, 4, 8))
    out = pixels(decode_image(encode(img, "PNG"), "bw.png"))
    assert out[0, 0].tolist() == [255, 255, 255] and out[0, 7].tolist() == [0, 0, 0]


def test_la_and_rgba_composite_over_white():
    la = Image.new("LA", (8, 8), (0, 0))
    la.paste((0, 255), (4, 0, 8, 8))
    out = pixels(decode_image(encode(la, "PNG"), "la.png"))
    assert out[0, 0].tolist() == [255, 255, 255] and out[0, 7].tolist() == [0, 0, 0]
    half = pixels(decode_image(encode(Image.new("RGBA", (4, 4), (0, 0, 0, 128)), "PNG"), "rgba.png"))
    assert np.abs(half[0, 0] - 127).max() <= 1


@pytest.mark.parametrize("fmt", ["GIF", "PNG", "WEBP"])
def test_animation_gives_first_frame(fmt):
    red, blue = Image.new("RGB", (16, 16), (255, 0, 0)), Image.new("RGB", (16, 16), (0, 0, 255))
    data = encode(red, fmt, save_all=True, append_images=[blue, blue], duration=100, loop=0)
    r, g, b = pixels(decode_image(data, f"anim.{fmt.lower()}"))[8, 8]
    assert r > 200 and b < 50


def test_exif_orientation_applied():
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 10, 10))  # marker at the stored top-left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    img = decode_image(encode(stored, "JPEG", exif=exif.tobytes(), quality=95), "phone.jpg")
    assert img.size == (20, 40)
    out = pixels(img)
    assert out[4, 15, 0] > 200 and out[4, 15, 2] < 60  # marker now top-right
    assert out[4, 4, 0] < 60 and out[35, 4, 2] > 200


def test_broken_exif_does_not_cost_the_picture():
    stored = Image.new("RGB", (8, 8), (0, 200, 0))
    data = encode(stored, "JPEG", exif=b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\xff\xff")
    assert decode_image(data, "odd.jpg").size == (8, 8)


def test_one_pixel_image():
    img = decode_image(encode(Image.new("RGB", (1, 1), (9, 99, 199)), "PNG"), "dot.png")
    t = image_to_tensor(img, 32)
    assert t.shape == (3, 32, 32) and t[:, 0, 0].tolist() == [9, 99, 199] and (t == t[:, :1, :1]).all()


def test_jpeg_draft_decodes_smaller_but_enough():
    big = encode(Image.fromarray(np.kron(NOISE, np.ones((16, 16, 1), dtype=np.uint8))), "JPEG")  # 1024²
    img = decode_image(big, "big.jpg", draft_size=64)
    assert 64 <= min(img.size) < 1024


# --- image_to_tensor ---------------------------------------------------------------------------------


def test_image_to_tensor_centre_crops():
    img = Image.new("RGB", (90, 30), (0, 0, 255))
    img.paste((255, 0, 0), (30, 0, 60, 30))  # the centre square is red, the sides blue
    t = image_to_tensor(img, 16)
    assert t.dtype == torch.uint8 and t.shape == (3, 16, 16)
    assert (t[0] > 240).all() and (t[2] < 15).all()


def test_image_to_tensor_converts_modes():
    assert image_to_tensor(Image.new("L", (10, 10), 7), 4).tolist()[0][0] == [7, 7, 7, 7]


# --- fuzzing --------------------------------------------------------------------------------------------


def _check_contract(data: bytes) -> None:
    try:
        img = decode_image(data, "fuzz.bin", max_pixels=4_000_000)
    except ImageDecodeError:
        return
    assert isinstance(img, Image.Image) and img.mode == "RGB"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_decode_or_raise_our_error(data):
    _check_contract(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(sorted(SAMPLES)),
    cut=st.floats(0, 1),
    flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 255)), max_size=8),
)
def test_damaged_real_images_decode_or_raise_our_error(kind, cut, flips):
    """Headers that parse but lie are what really exercise the decoders: flip bytes and cut files."""
    data = bytearray(SAMPLES[kind])
    for where, value in flips:
        data[int(where * (len(data) - 1))] = value
    _check_contract(bytes(data[: max(1, int(len(data) * cut))] if cut < 0.95 else data))


def test_caps_have_sane_values():
    assert MAX_UPLOAD_BYTES == 20 * 1024 * 1024 and MAX_PIXELS == 50_000_000
