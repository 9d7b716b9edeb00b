"""`hearth segment` end to end with the tiny model: outputs, cache reuse, clear errors."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from app.cli import main
from app.core.models import registry
from app.core.segment.exports import rle_decode


def test_segment_writes_every_output(photo_path, tiny_sam_path, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    args = [str(photo_path), "--model", str(tiny_sam_path), "--point", "100,120", "--point", "250,60,0",
            "--box", "30,30,220,210", "--multimask", "--out", str(out / "mask.png"), "--cutout", str(out / "cut.png"),
            "--coco", str(out / "coco.json"), "--polygons", str(out / "poly.json"), "--label", "disc"]
    assert main(["segment", *args]) == 0
    printed = capsys.readouterr()
    assert "mask" in printed.out and "candidates" in printed.out and "encoded on cpu" in printed.err
    mask = np.asarray(Image.open(out / "mask.png")) == 255
    assert mask.shape == (240, 320)
    cut = np.asarray(Image.open(out / "cut.png"))
    np.testing.assert_array_equal(cut[..., 3] == 255, mask)
    coco = json.loads((out / "coco.json").read_text())
    np.testing.assert_array_equal(rle_decode(coco["annotations"][0]["segmentation"]), mask)
    assert coco["categories"][0]["name"] == "disc"
    poly = json.loads((out / "poly.json").read_text())
    assert poly["imageWidth"] == 320 and (out / poly["imagePath"]).resolve() == photo_path.resolve()

    # Second run on the same photo: the embedding comes from the disk cache.
    assert main(["segment", *args]) == 0
    assert "from cache" in capsys.readouterr().err
    np.testing.assert_array_equal(np.asarray(Image.open(out / "mask.png")) == 255, mask)


def test_model_by_architecture_name_reads_the_checkpoint_not_its_name(photo_path, tiny_sam_path, tmp_path, capsys):
    assert main(["segment", str(photo_path), "--point", "10,10", "--out", str(tmp_path / "m.png")]) == 1
    assert "No Segment Anything model is installed" in capsys.readouterr().err
    target = registry.kind_dir("sam") / "sam_vit_b_01ec64.pth"  # named like vit_b, but it is the tiny model
    target.write_bytes(tiny_sam_path.read_bytes())
    assert main(["segment", str(photo_path), "--model", "vit_b", "--point", "10,10", "--out", str(tmp_path / "m.png")]) == 1
    assert "No installed SAM model is 'vit_b'" in capsys.readouterr().err
    assert main(["segment", str(photo_path), "--point", "10,10", "--out", str(tmp_path / "m.png")]) == 0


@pytest.mark.parametrize("extra,message", [
    (["--point", "1000,10"], "outside the image"),
    (["--point", "abc"], "expected X,Y"),
    (["--box", "1,2,3"], "X0,Y0,X1,Y1"),
    ([], "at least one --point"),
])
def test_bad_prompts_are_clear_errors(photo_path, tiny_sam_path, tmp_path, capsys, extra, message):
    code = main(["segment", str(photo_path), "--model", str(tiny_sam_path), *extra, "--out", str(tmp_path / "m.png")])
    assert code == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "m.png").exists()


def test_non_image_and_evil_model_from_a_real_process(subprocess_env, tiny_sam_path, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a photo")
    result = subprocess.run([sys.executable, "-m", "app", "segment", str(text), "--model", str(tiny_sam_path),
                             "--point", "1,1", "--out", str(tmp_path / "m.png")],
                            env=subprocess_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "error: notes.txt is not an image Hearth can read (JPEG, PNG, WebP, BMP, TIFF).")
    assert "Traceback" not in result.stderr
