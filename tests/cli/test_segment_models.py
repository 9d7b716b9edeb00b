"""`hearth segment` with SAM 2 family models and `--everything`, end to end with tiny random models."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.core.models import registry
from app.core.segment.exports import rle_decode
from tests.core.segment.tiny_sam import save_photo, save_tiny_sam
from tests.core.segment.tiny_sam2 import save_tiny

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("built")
    return {"sam2": save_tiny(root / "sam2", "sam2_video"), "edgetam": save_tiny(root / "edgetam", "edgetam"),
            "sam1": save_tiny_sam(root / "tiny.pth"), "photo": save_photo(root / "photo.png")}


def install(path, name):
    target = registry.kind_dir("sam") / name
    (shutil.copytree if path.is_dir() else shutil.copy)(path, target)
    return target


def test_an_installed_sam2_model_by_name_and_the_cache(built, tmp_path, capsys):
    install(built["sam2"], "sam2.1-hiera-tiny")
    args = [str(built["photo"]), "--model", "sam2.1-hiera-tiny", "--point", "100,120", "--box", "30,30,220,210",
            "--multimask", "--out", str(tmp_path / "m.png")]
    assert main(["segment", *args]) == 0
    printed = capsys.readouterr()
    assert "candidates" in printed.out and "(SAM 2" in printed.err and "encoded on cpu" in printed.err
    mask = np.asarray(Image.open(tmp_path / "m.png")) == 255
    assert mask.shape == (240, 320)
    assert main(["segment", *args]) == 0
    assert "from cache" in capsys.readouterr().err
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "m.png")) == 255, mask)
    # a catalog model that is not installed says how to get it
    assert main(["segment", *args[:1], "--model", "sam2.1-hiera-small", *args[3:]]) == 1
    assert "hearth models download sam2.1-hiera-small" in capsys.readouterr().err


def test_without_model_the_fastest_installed_one_is_used(built, tmp_path, capsys):
    install(built["sam1"], "sam_vit_b.pth")
    install(built["edgetam"], "edgetam")
    assert main(["segment", str(built["photo"]), "--point", "10,10", "--out", str(tmp_path / "m.png")]) == 0
    assert "(EdgeTAM)" in capsys.readouterr().err
    assert main(["segment", str(built["photo"]), "--model", str(built["sam1"]), "--point", "10,10",
                 "--out", str(tmp_path / "m.png")]) == 0  # SAM 1 files keep working
    assert "(custom" in capsys.readouterr().err


def test_everything_writes_every_object(built, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    args = ["segment", str(built["photo"]), "--model", str(built["sam2"]), "--everything", "--points-per-side", "4",
            "--iou-thresh", "0", "--stability-thresh", "0", "--min-area", "0", "--coco", str(out / "all.json"),
            "--polygons", str(out / "all-polygons.json"), "--out", str(out / "union.png")]
    assert main(args) == 0
    printed = capsys.readouterr().out
    count = int(printed.split("objects  ")[1].split()[0])
    coco = json.loads((out / "all.json").read_text())
    assert count >= 1 and len(coco["annotations"]) == count
    union = np.zeros((240, 320), bool)
    for ann in coco["annotations"]:
        union |= rle_decode(ann["segmentation"])
    np.testing.assert_array_equal(np.asarray(Image.open(out / "union.png")) == 255, union)
    assert json.loads((out / "all-polygons.json").read_text())["shapes"]


@pytest.mark.parametrize("extra,message", [
    (["--point", "1,1", "--coco", "x.json"], "leave out --point"),
    ([], "Say where to write the objects"),
    (["--points-per-side", "0", "--coco", "x.json"], "--points-per-side must be"),
    (["--iou-thresh", "2", "--coco", "x.json"], "--iou-thresh must be"),
])
def test_everything_bad_arguments_are_clear_errors(built, tmp_path, capsys, monkeypatch, extra, message):
    monkeypatch.chdir(tmp_path)
    assert main(["segment", str(built["photo"]), "--model", str(built["sam2"]), "--everything", *extra]) == 1
    assert message in capsys.readouterr().err
