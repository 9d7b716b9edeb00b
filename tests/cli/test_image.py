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


def test_cli_sdxl_turbo_gets_few_step_defaults(tiny_sdxl, tmp_path, capsys):
    """No --steps / --guidance / --scheduler: a model named like SDXL-Turbo runs 2 steps without guidance."""
    import shutil

    model = tmp_path / "sdxl-turbo"
    shutil.copytree(tiny_sdxl["folder"], model)
    out = tmp_path / "turbo.png"
    rc = cli_main(["image", "--model", str(model), "a cat", "--size", "64x64", "--seed", "5", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    params, _ = read_png(out)
    assert (params.steps, params.guidance, params.scheduler) == (2, 0.0, "Euler a")


def test_cli_sd_turbo_single_file_is_sd2_base_with_one_step(tiny_models, engine, tmp_path, capsys):
    """An SD 2.x-layout file (OpenCLIP text encoder) named sd_turbo: SD 2.x base (not 768-v), 1 step, guidance 0,
    and it holds the tiny SD's weights, so it draws what the diffusers folder draws with those settings (to the
    least significant bit: the two loads can round differently in this one-step, no-guidance case)."""
    import shutil

    import numpy as np
    from PIL import Image

    from app.core.images import families
    from app.core.images.params import GenerationParams
    from app.core.jobs import JobState

    model = tmp_path / "sd_turbo.safetensors"
    shutil.copy2(tiny_models["single_sd2"], model)
    assert families.detect_family(model) == "sd2-base"
    out = tmp_path / "turbo.png"
    rc = cli_main(["image", "--model", str(model), "--config", str(tiny_models["config"]), "a cat", "--size", "64x64",
                   "--seed", "5", "--out", str(out)])
    assert rc == 0, capsys.readouterr().err
    params, _ = read_png(out)
    assert (params.steps, params.guidance, params.scheduler) == (1, 0.0, "Euler a")
    same = GenerationParams(prompt="a cat", model=str(tiny_models["folder"]), steps=1, guidance=0.0,
                            scheduler="Euler a", width=64, height=64, seed=5)
    reference = engine.generate(same, JobState())[0].path
    with Image.open(out) as a, Image.open(reference) as b:
        assert np.abs(np.asarray(a).astype(int) - np.asarray(b).astype(int)).max() <= 1
