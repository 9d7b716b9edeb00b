"""The shipped per-family configs build the real architectures, and single files are recognised by their keys."""

import json

import pytest

from app.core.errors import UserError
from app.core.images import families

# Parameter counts of the public models (millions): what the shipped configs must rebuild exactly.
EXPECTED = {
    ("sd1", "unet"): 859.5, ("sd1", "vae"): 83.65, ("sd1", "text_encoder"): 123.1,
    ("sd2-v", "unet"): 865.9, ("sd2-v", "text_encoder"): 340.4,
    ("sdxl", "unet"): 2567.5, ("sdxl", "text_encoder_2"): 694.7,
}


@pytest.mark.parametrize("family,part", sorted(EXPECTED))
def test_shipped_configs_build_the_real_architecture(family, part):
    import diffusers
    import transformers
    from accelerate import init_empty_weights

    folder = families.shipped_config(family) / part
    config = json.loads((folder / "config.json").read_text())
    with init_empty_weights():
        if part in ("unet", "vae"):
            cls = getattr(diffusers, config["_class_name"])
            model = cls.from_config(cls.load_config(str(folder)))
        else:
            cfg = transformers.CLIPTextConfig.from_pretrained(str(folder))
            model = getattr(transformers, config["architectures"][0])(cfg)
    millions = sum(p.numel() for p in model.parameters()) / 1e6
    assert millions == pytest.approx(EXPECTED[(family, part)], rel=0.002)


def test_every_family_folder_is_complete():
    for family in families.FAMILIES:
        folder = families.shipped_config(family)
        index = json.loads((folder / "model_index.json").read_text())
        for name, value in index.items():
            if isinstance(value, list) and value[0] is not None:
                assert (folder / name).is_dir(), (family, name)


def test_family_from_checkpoint_keys():
    unet = {"model.diffusion_model.input_blocks.0.0.weight": [320, 4, 3, 3]}
    assert families.family_of_keys({**unet, "cond_stage_model.transformer.text_model.x": [1]}) == "sd1"
    assert families.family_of_keys({**unet, "cond_stage_model.model.token_embedding.weight": [1]}, "v2-1_768") == "sd2-v"
    assert families.family_of_keys({**unet, "cond_stage_model.model.token_embedding.weight": [1]}, "sd_turbo") == "sd2-base"
    assert families.family_of_keys({**unet, "conditioner.embedders.1.model.ln_final.weight": [1]}) == "sdxl"
    assert families.unet_in_channels({"model.diffusion_model.input_blocks.0.0.weight": [320, 9, 3, 3]}) == 9
    with pytest.raises(UserError, match="not a Stable Diffusion checkpoint"):
        families.family_of_keys({"lora_unet_x": [1]}, "x.safetensors")


def test_single_file_uses_the_shipped_clip_vocabulary(hearth_home):
    """No tokenizer installed: Hearth builds CLIP's real vocabulary from its shipped BPE list (no hub)."""
    from transformers import CLIPTokenizer

    folder = families.assembled_config("sd1")
    tok = CLIPTokenizer.from_pretrained(str(folder / "tokenizer"))
    assert len(tok) == 49408
    # The ids openai/clip-vit-large-patch14 gives this prompt.
    assert tok("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert (hearth_home / "cache" / "clip-tokenizer" / "merges.txt").is_file()


def test_single_file_without_any_tokenizer_explains_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setattr(families, "shipped_clip_bpe", lambda: tmp_path / "no-resources" / families.CLIP_BPE)
    with pytest.raises(UserError, match="tokenizer"):
        families.assembled_config("sd1")


def test_assembled_config_uses_an_installed_tokenizer(tiny_models, hearth_home):
    import shutil

    target = hearth_home / "models" / "tokenizers" / "clip"
    shutil.copytree(tiny_models["tokenizer"], target)
    folder = families.assembled_config("sd1", in_channels=9)
    assert (folder / "tokenizer" / "vocab.json").exists()
    assert json.loads((folder / "unet" / "config.json").read_text())["in_channels"] == 9
    assert json.loads((folder / "unet" / "config.json").read_text())["cross_attention_dim"] == 768
