"""Opening photos (and refusing what is not one), and every export round-tripping."""

import json

import numpy as np
import pytest
from PIL import Image

from app.core.errors import UserError
from app.core.segment import exports
from app.core.segment.images import display_copy, folder_images, load_image
from tests.core.segment.tiny_sam import photo, save_photo


def test_photo_loads_as_rgb_with_a_pixel_hash(tmp_path):
    png = save_photo(tmp_path / "a.png")
    jpg = tmp_path / "a.jpg"
    Image.fromarray(photo()).convert("RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(photo()).save(jpg, quality=90)
    a = load_image(png)
    assert a.rgb.shape == (240, 320, 3) and a.size == (320, 240)
    assert load_image(png).key == a.key
    assert load_image(tmp_path / "rgba.png").key == a.key  # opaque alpha: same pixels, same cache key
    assert load_image(jpg).key != a.key


def test_corrupt_and_non_image_files_are_clear_errors(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("hello, not a photo")
    with pytest.raises(UserError, match="notes.txt is not an image"):
        load_image(text)
    png = save_photo(tmp_path / "cut.png")
    cut = tmp_path / "truncated.png"
    cut.write_bytes(png.read_bytes()[:300])
    with pytest.raises(UserError, match="truncated.png"):
        load_image(cut)
    with pytest.raises(UserError, match="not found"):
        load_image(tmp_path / "missing.jpg")


def test_folder_listing_and_display_copy(tmp_path):
    for name in ("b.JPG", "a.png", "c.txt"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in folder_images(tmp_path)] == ["a.png", "b.JPG"]
    big = np.zeros((4000, 6000, 3), np.uint8)
    small, scale = display_copy(big, 2048)
    assert small.shape == (1365, 2048, 3) and abs(scale - 2048 / 6000) < 1e-6


@pytest.fixture
def masks():
    a = np.zeros((240, 320), bool)
    a[50:150, 40:200] = True
    a[60:80, 60:80] = False  # a hole
    b = np.zeros((240, 320), bool)
    b[10:30, 250:300] = True
    b[200:230, 10:60] = True  # two regions
    return a, b


def test_png_mask_and_cutout_round_trip(tmp_path, masks):
    a, _ = masks
    rgb = photo()
    exports.save_mask_png(a, tmp_path / "m.png")
    back = np.asarray(Image.open(tmp_path / "m.png"))
    assert back.shape == (240, 320) and set(np.unique(back)) == {0, 255}
    np.testing.assert_array_equal(back == 255, a)
    exports.save_cutout(rgb, a, tmp_path / "c.png")
    cut = np.asarray(Image.open(tmp_path / "c.png"))
    assert cut.shape == (240, 320, 4)
    np.testing.assert_array_equal(cut[..., 3] == 255, a)
    np.testing.assert_array_equal(cut[a][:, :3], rgb[a])
    assert (cut[..., 3][~a] == 0).all()
    exports.save_cutout(rgb, a, tmp_path / "crop.png", crop=True)
    assert Image.open(tmp_path / "crop.png").size == (160, 100)


def test_coco_rle_decodes_to_the_same_masks(tmp_path, masks):
    from pycocotools import mask as mask_utils

    a, b = masks
    exports.save_coco([("cat", a, 0.91), ("dog", b, None), ("cat", b, 0.5)], "photo.png", (320, 240),
                      tmp_path / "coco.json")
    doc = json.loads((tmp_path / "coco.json").read_text())
    assert [c["name"] for c in doc["categories"]] == ["cat", "dog"]
    assert doc["images"][0] == {"id": 1, "file_name": "photo.png", "width": 320, "height": 240}
    for ann, expected in zip(doc["annotations"], (a, b, b)):
        seg = ann["segmentation"]
        decoded = mask_utils.decode({"size": seg["size"], "counts": seg["counts"].encode()}).astype(bool)
        np.testing.assert_array_equal(decoded, expected)
        np.testing.assert_array_equal(exports.rle_decode(seg), expected)
        assert ann["area"] == int(expected.sum())
    assert doc["annotations"][0]["bbox"] == [40.0, 50.0, 160.0, 100.0]


def test_labelme_polygons_load_and_cover_the_mask(tmp_path, masks):
    import cv2

    a, b = masks
    exports.save_labelme([("cat", a), ("dog", b)], "photo.png", (320, 240), tmp_path / "photo.json")
    doc = json.loads((tmp_path / "photo.json").read_text())
    assert doc["imagePath"] == "photo.png" and (doc["imageWidth"], doc["imageHeight"]) == (320, 240)
    assert [s["label"] for s in doc["shapes"]] == ["cat", "dog", "dog"]
    assert all(s["shape_type"] == "polygon" and len(s["points"]) >= 3 for s in doc["shapes"])
    assert doc["shapes"][1]["group_id"] == doc["shapes"][2]["group_id"] is not None
    raster = np.zeros((240, 320), np.uint8)
    cv2.fillPoly(raster, [np.array(doc["shapes"][0]["points"], np.int32)], 1)
    filled = a.copy()
    filled[60:80, 60:80] = True  # outer contours only: the hole is filled
    iou = (raster.astype(bool) & filled).sum() / (raster.astype(bool) | filled).sum()
    assert iou > 0.97


def test_failed_export_leaves_nothing_behind(tmp_path, masks):
    tmp_path = tmp_path / "out"
    tmp_path.mkdir()
    with pytest.raises(UserError, match="does not exist"):
        exports.save_mask_png(masks[0], tmp_path / "nope" / "m.png")
    with pytest.raises(ValueError):
        exports.save_coco([("x", masks[0][:10], None)], "p.png", (320, 240), tmp_path / "bad.json")
    assert list(tmp_path.iterdir()) == []
