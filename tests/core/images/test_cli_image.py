import pytest
from PIL import Image

from app.cli import main as cli_main
from app.core.images.metadata import read_png

pytestmark = pytest.mark.slow


def test_cli_txt2img_single_file(tiny_models, tmp_path, capsys):
    out = tmp_path / "cat.png"
    rc = cli_main(["image", "--model", str(tiny_models["single"]), "--config", str(tiny_models["config"]), "a cat",
                   "--negative", "dog", "--steps", "2", "--guidance", "5", "--seed", "11", "--size", "64x64",
                   "--scheduler", "Euler a", "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert captured.out.strip() == f"{out}\tseed=11"
    params, _ = read_png(out)
    assert (params.prompt, params.negative_prompt, params.steps, params.guidance, params.scheduler) == \
        ("a cat", "dog", 2, 5.0, "Euler a")


def test_cli_inpaint_with_canny_controlnet(tiny_models, tmp_path, capsys):
    init = tmp_path / "init.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(init)
    mask = tmp_path / "mask.png"
    Image.new("L", (64, 64), 255).save(mask)
    out = tmp_path / "out.png"
    rc = cli_main(["image", "--model", str(tiny_models["folder"]), "x", "--steps", "2", "--size", "64x64",
                   "--init", str(init), "--strength", "0.5", "--mask", str(mask), "--control", "canny",
                   "--control-image", str(init), "--controlnet", str(tiny_models["controlnet"]), "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    params, _ = read_png(out)
    assert params.mode == "inpaint" and params.control == "canny" and params.strength == 0.5


def test_cli_bad_input_one_line_error(tiny_models, tmp_path, capsys):
    rc = cli_main(["image", "--model", str(tiny_models["folder"]), "x", "--mask", "m.png", "--out", str(tmp_path / "o.png")])
    err = capsys.readouterr().err
    assert rc == 1 and err.strip().startswith("error: --mask needs --init") and "Traceback" not in err
