"""Image preparation for vision models: orientation, modes, size, bad files, bounded memory."""

import io
import json
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image

from app.core.errors import UserError
from app.core.vision.images import open_rgb, prepare_image


def _pixels(prepared):
    return np.asarray(Image.open(io.BytesIO(prepared.data)))


def test_exif_rotation_is_applied(tmp_path):
    # stored landscape 60x40, left half red; EXIF orientation 6 means "rotate 90° clockwise to display"
    arr = np.zeros((40, 60, 3), np.uint8)
    arr[:, :30] = (255, 0, 0)
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "portrait.jpg"
    Image.fromarray(arr).save(path, exif=exif, quality=95)
    prepared = prepare_image(path)
    assert prepared.size == (40, 60) and prepared.original_size == (40, 60)
    px = _pixels(prepared)
    assert px[5, 20, 0] > 200 and px[55, 20, 0] < 60  # the red half is now on top


def test_modes_become_8_bit_rgb(tmp_path):
    cases = {}
    rgba = np.zeros((8, 8, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent on the left half
    rgba[:, 4:, 3] = 255
    cases["rgba.png"] = (Image.fromarray(rgba, "RGBA"), [(0, 0, (255, 255, 255)), (0, 7, (255, 0, 0))])
    cases["grey.png"] = (Image.fromarray(np.full((8, 8), 100, np.uint8), "L"), [(0, 0, (100, 100, 100))])
    grey16 = np.full((8, 8), 32896, np.uint16)  # half of 65535: must be mid grey, not clipped to white
    cases["grey16.png"] = (Image.fromarray(grey16), [(0, 0, (128, 128, 128))])
    cases["float.tif"] = (Image.fromarray(np.full((8, 8), 0.25, np.float32), "F"), [(0, 0, (64, 64, 64))])
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    cases["palette.gif"] = (pal, [(3, 3, (0, 0, 255))])
    cases["cmyk.jpg"] = (Image.new("CMYK", (8, 8), (0, 255, 255, 0)), [(3, 3, (255, 0, 0))])
    for name, (im, checks) in cases.items():
        path = tmp_path / name
        im.save(path)
        px = _pixels(prepare_image(path))
        assert px.dtype == np.uint8 and px.shape == (8, 8, 3), name
        for y, x, rgb in checks:
            assert np.abs(px[y, x].astype(int) - rgb).max() <= 12, (name, px[y, x], rgb)


def test_large_photo_downscaled_to_the_projector_input_never_upscaled(tmp_path):
    path = tmp_path / "wide.jpg"
    Image.new("RGB", (3000, 1500), (10, 200, 30)).save(path)
    prepared = prepare_image(path, max_side=896)
    assert prepared.size == (896, 448) and prepared.original_size == (3000, 1500) and prepared.downscaled
    small = tmp_path / "small.png"
    Image.new("RGB", (100, 50)).save(small)
    assert prepare_image(small, max_side=896).size == (100, 50)
    assert prepared.data_url.startswith("data:image/png;base64,")


def test_bad_inputs_get_one_sentence(tmp_path):
    text = tmp_path / "notes.jpg"
    text.write_text("not a picture")
    broken = tmp_path / "broken.png"
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(buf, "PNG")
    broken.write_bytes(buf.getvalue()[:80])
    messages = {}
    for path in (text, broken, tmp_path / "missing.png", tmp_path):
        with pytest.raises(UserError) as err:
            prepare_image(path)
        messages[path.name] = str(err.value)
    assert "is not an image Hearth can read" in messages["notes.jpg"]
    assert "broken.png could not be decoded: the file looks damaged or truncated" in messages["broken.png"]
    assert "Image not found" in messages["missing.png"] and "is a folder" in messages[tmp_path.name]
    with pytest.raises(UserError, match="pasted image is not an image"):
        prepare_image(b"\x00\x01 nothing")


def _huge_png(path, width, height):
    """A valid greyscale PNG of width x height, written row by row (all black: compresses ~1000:1)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    comp = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)))
        data = b"".join(comp.compress(row) for _ in range(height)) + comp.flush()
        fh.write(chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


@pytest.mark.slow
def test_20000_square_png_is_refused_with_bounded_memory(tmp_path, subprocess_env):
    path = _huge_png(tmp_path / "huge.png", 20000, 20000)
    code = (
        "import json, resource, sys\n"
        "from app.core.errors import UserError\n"
        "from app.core.vision.images import prepare_image\n"
        "try:\n"
        f"    prepare_image({str(path)!r}, max_side=896); msg = None\n"
        "except UserError as e:\n"
        "    msg = str(e)\n"
        "try:  # peak RSS of this process image (ru_maxrss would carry over the parent's from before exec)\n"
        "    hwm = [ln for ln in open('/proc/self/status') if ln.startswith('VmHWM')][0]\n"
        "    rss = int(hwm.split()[1]) / 1024\n"
        "except OSError:\n"
        "    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / (1024 if sys.platform != 'darwin' else 2**20)\n"
        "print(json.dumps({'msg': msg, 'rss_mb': rss}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=subprocess_env, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["msg"] and "huge.png is too large to open (400 megapixels" in result["msg"]
    assert result["rss_mb"] < 400, result  # 400 MP would need 400 MB for the grey pixels alone


def test_pixels_over_the_limit_are_refused_before_decoding(tmp_path):
    # 180 MP RGBA: over Hearth's limit (app/core/imageio.py: 179 MP, 537 MB as 8-bit RGB), refused from the header
    path = _rgba_header_only(tmp_path / "tall.png", 1000, 180000)
    with pytest.raises(UserError, match="tall.png is too large to open .*180 megapixels"):
        open_rgb(path)


def test_a_big_jpeg_is_decoded_at_a_reduced_scale(tmp_path):
    """A JPEG bound for a small input is decoded at 1/2..1/8 scale (Pillow's draft mode), and still reports the
    photo's full size."""
    path = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 2000), (200, 30, 30)).save(path)
    rgb, original = open_rgb(path, 224, shortest=True)
    assert original == (4000, 2000) and rgb.size == (448, 224)


def _rgba_header_only(path, width, height):
    """A PNG whose header says RGBA width x height; refused from the header, so its pixel data never matters."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\x00" * 8)) + chunk(b"IEND", b""))
    return path
