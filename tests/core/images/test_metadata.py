from PIL import Image
from PIL.PngImagePlugin import PngInfo

import pytest

from app.core.errors import UserError
from app.core.images.metadata import a1111_text, parse_a1111, read_png, save_png
from app.core.images.params import GenerationParams, defaults_for, parse_size


def test_hearth_png_round_trip(tmp_path):
    params = GenerationParams(prompt="a cat, in a hat", negative_prompt="blurry\nlow quality", model="/m/sd15.safetensors",
                              seed=42, steps=20, guidance=6.5, scheduler="DPM++ 2M Karras", width=512, height=768,
                              mode="img2img", init_image="/i.png", strength=0.6, loras=[("/l/style.safetensors", 0.8)])
    path = save_png(Image.new("RGB", (8, 8)), tmp_path / "a.png", params, 42)
    back, source = read_png(path)
    assert source == "hearth" and back == params
    with Image.open(path) as img:
        text = img.text["parameters"]
    assert text.startswith("a cat, in a hat\nNegative prompt: blurry\nlow quality\nSteps: 20, Sampler: DPM++ 2M Karras")
    assert "Seed: 42" in text and "Size: 512x768" in text and "Denoising strength: 0.6" in text


def test_a1111_text_parses_back():
    params = GenerationParams(prompt="dog", negative_prompt="cat", seed=9, steps=12, guidance=3.5, scheduler="DDIM",
                              width=640, height=448, model="x/y.safetensors")
    back = parse_a1111(a1111_text(params, 9))
    assert (back.prompt, back.negative_prompt, back.seed, back.steps, back.guidance, back.scheduler,
            back.width, back.height) == ("dog", "cat", 9, 12, 3.5, "DDIM", 640, 448)


def test_reads_png_made_by_another_tool(tmp_path):
    text = ('masterpiece, a castle <lora:watercolor:0.7>\nat dusk\n'
            'Negative prompt: lowres, bad hands\n'
            'Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6, Seed: 1234567, Size: 832x1216, '
            'Model hash: abc123, Model: juggernautXL, Denoising strength: 0.35, '
            'Hires upscaler: "4x-UltraSharp, tiled", Version: v1.10.1')
    info = PngInfo()
    info.add_text("parameters", text)
    path = tmp_path / "a1111.png"
    Image.new("RGB", (4, 4)).save(path, pnginfo=info)
    params, source = read_png(path)
    assert source == "a1111"
    assert params.prompt == "masterpiece, a castle <lora:watercolor:0.7>\nat dusk"
    assert params.negative_prompt == "lowres, bad hands"
    assert (params.steps, params.scheduler, params.guidance, params.seed) == (28, "DPM++ 2M Karras", 6.0, 1234567)
    assert (params.width, params.height, params.strength, params.model) == (832, 1216, 0.35, "juggernautXL")
    assert params.loras == [("watercolor", 0.7)]


def test_png_without_parameters_is_explained(tmp_path):
    path = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(path)
    with pytest.raises(UserError, match="no generation parameters"):
        read_png(path)
    (tmp_path / "not.png").write_bytes(b"nope")
    with pytest.raises(UserError, match="not an image"):
        read_png(tmp_path / "not.png")


def test_few_step_models_get_few_step_defaults():
    turbo = defaults_for("sd2-base", "sd_turbo.safetensors")
    assert turbo.steps <= 4 and turbo.guidance == 0
    xl_turbo = defaults_for("sdxl", "sdxl-turbo")
    assert xl_turbo.steps <= 4 and xl_turbo.guidance == 0 and xl_turbo.width == 512
    lcm = defaults_for("sd1", "lcm-dreamshaper-v7")
    assert lcm.scheduler == "LCM" and lcm.steps <= 8 and lcm.guidance <= 2
    assert defaults_for("sdxl", "juggernaut").width == 1024
    assert defaults_for("sd1", "v1-5").steps >= 20


def test_parse_size():
    assert parse_size("512x768") == (512, 768)
    with pytest.raises(UserError):
        parse_size("big")
    with pytest.raises(UserError):
        parse_size("500x500")
