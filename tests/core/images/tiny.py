"""Tiny Stable Diffusion parts with random weights, saved the two ways users have models:

- a diffusers folder (model_index.json + subfolders), and
- a single-file .safetensors in the original LDM ("CompVis") key layout, plus the tiny config folder that
  `from_single_file(config=...)` needs.

The LDM key mapping is written here (diffusers only ships LDM → diffusers); `ldm_state_dict` checks itself by
converting back with diffusers' own converters.
"""

from __future__ import annotations

import json
from pathlib import Path

SIZE = 64  # image side the tiny models are used at (latents 32x32: the tiny VAE downsamples by 2)


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes (GPT-2 / CLIP convention)."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    symbols, extra = [], 0
    for b in range(256):
        if b in keep:
            symbols.append(chr(b))
        else:
            symbols.append(chr(256 + extra))
            extra += 1
    return symbols


def write_tokenizer(folder: Path) -> None:
    """A CLIP BPE tokenizer with all 256 byte symbols, a few merges and the two special tokens."""
    folder.mkdir(parents=True, exist_ok=True)
    chars = _byte_symbols()
    vocab_list = chars + [c + "</w>" for c in chars]
    merges = [("c", "a"), ("ca", "t</w>"), ("d", "o"), ("do", "g</w>"), ("h", "a"), ("ha", "t</w>")]
    vocab_list += ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab_list)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n",
                                       encoding="utf-8")
    (folder / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>", "pad_token": "<|endoftext|>",
        "do_lower_case": True}), encoding="utf-8")


def build_components(seed: int = 0) -> dict:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=SIZE // 2, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=32)
    vae = AutoencoderKL(
        block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=32, sample_size=SIZE)
    text = CLIPTextModel(CLIPTextConfig(
        hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4, vocab_size=1000,
        max_position_embeddings=77, projection_dim=32, bos_token_id=0, eos_token_id=2, pad_token_id=1))
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    return {"unet": unet.eval(), "vae": vae.eval(), "text_encoder": text.eval(), "scheduler": scheduler}


def build_controlnet(unet, folder: Path, seed: int = 1) -> Path:
    import torch
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    cn = ControlNetModel(
        block_out_channels=(32, 64), layers_per_block=1, in_channels=4, down_block_types=unet.config.down_block_types,
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=32, conditioning_embedding_out_channels=(16, 32))
    cn.save_pretrained(folder, safe_serialization=True)
    return folder


def save_diffusers(components: dict, tokenizer_dir: Path, folder: Path) -> Path:
    from diffusers import StableDiffusionPipeline
    from transformers import CLIPTokenizer

    pipe = StableDiffusionPipeline(**components, tokenizer=CLIPTokenizer.from_pretrained(str(tokenizer_dir)),
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


# ---- diffusers → LDM key layout -----------------------------------------------------------------------------
_RESNET = [("norm1", "in_layers.0"), ("conv1", "in_layers.2"), ("norm2", "out_layers.0"), ("conv2", "out_layers.3"),
           ("time_emb_proj", "emb_layers.1"), ("conv_shortcut", "skip_connection")]
_VAE_RESNET = [("conv_shortcut", "nin_shortcut")]
_VAE_ATTN = [("group_norm", "norm"), ("to_q", "q"), ("to_k", "k"), ("to_v", "v"), ("to_out.0", "proj_out")]


def _unet_prefix_map(config) -> list[tuple[str, str]]:
    lpb = config["layers_per_block"]
    n = len(config["block_out_channels"])
    down_attn = ["CrossAttn" in t for t in config["down_block_types"]]
    up_attn = ["CrossAttn" in t for t in config["up_block_types"]]
    pairs = [("time_embedding.linear_1.", "time_embed.0."), ("time_embedding.linear_2.", "time_embed.2."),
             ("conv_in.", "input_blocks.0.0."), ("conv_norm_out.", "out.0."), ("conv_out.", "out.2."),
             ("mid_block.attentions.0.", "middle_block.1.")]
    for j in range(2):
        pairs.append((f"mid_block.resnets.{j}.", f"middle_block.{2 * j}."))
    for i in range(n):
        for j in range(lpb):
            idx = (lpb + 1) * i + j + 1
            pairs.append((f"down_blocks.{i}.resnets.{j}.", f"input_blocks.{idx}.0."))
            if down_attn[i]:
                pairs.append((f"down_blocks.{i}.attentions.{j}.", f"input_blocks.{idx}.1."))
        if i < n - 1:
            pairs.append((f"down_blocks.{i}.downsamplers.0.conv.", f"input_blocks.{(lpb + 1) * (i + 1)}.0.op."))
        for j in range(lpb + 1):
            idx = (lpb + 1) * i + j
            pairs.append((f"up_blocks.{i}.resnets.{j}.", f"output_blocks.{idx}.0."))
            if up_attn[i]:
                pairs.append((f"up_blocks.{i}.attentions.{j}.", f"output_blocks.{idx}.1."))
        if i < n - 1:
            pairs.append((f"up_blocks.{i}.upsamplers.0.", f"output_blocks.{(lpb + 1) * i + lpb}.{2 if up_attn[i] else 1}."))
    return pairs


def _rename(key: str, prefixes: list[tuple[str, str]], inner: list[tuple[str, str]]) -> str:
    for src, dst in prefixes:
        if key.startswith(src):
            rest = key[len(src):]
            for a, b in inner:
                if rest.startswith(a + "."):
                    rest = b + rest[len(a):]
                    break
            return dst + rest
    raise KeyError(f"no LDM name for {key}")


def _vae_prefix_map(config) -> list[tuple[str, str]]:
    n = len(config["block_out_channels"])
    lpb = config["layers_per_block"]
    pairs = [("encoder.mid_block.attentions.0.", "encoder.mid.attn_1."), ("decoder.mid_block.attentions.0.", "decoder.mid.attn_1."),
             ("encoder.conv_norm_out.", "encoder.norm_out."), ("decoder.conv_norm_out.", "decoder.norm_out.")]
    for part in ("encoder", "decoder"):
        for j in range(2):
            pairs.append((f"{part}.mid_block.resnets.{j}.", f"{part}.mid.block_{j + 1}."))
    for i in range(n):
        for j in range(lpb):
            pairs.append((f"encoder.down_blocks.{i}.resnets.{j}.", f"encoder.down.{i}.block.{j}."))
        pairs.append((f"encoder.down_blocks.{i}.downsamplers.0.conv.", f"encoder.down.{i}.downsample.conv."))
        for j in range(lpb + 1):
            pairs.append((f"decoder.up_blocks.{i}.resnets.{j}.", f"decoder.up.{n - 1 - i}.block.{j}."))
        pairs.append((f"decoder.up_blocks.{i}.upsamplers.0.conv.", f"decoder.up.{n - 1 - i}.upsample.conv."))
    pairs += [(p, p) for p in ("encoder.conv_in.", "encoder.conv_out.", "decoder.conv_in.", "decoder.conv_out.",
                               "quant_conv.", "post_quant_conv.")]
    return pairs


def ldm_state_dict(components: dict) -> dict:
    """The pipeline's weights under the original checkpoint names, checked against diffusers' converters."""
    import torch
    from diffusers.loaders.single_file_utils import (convert_ldm_clip_checkpoint, convert_ldm_unet_checkpoint,
                                                     convert_ldm_vae_checkpoint)

    unet, vae, text = components["unet"], components["vae"], components["text_encoder"]
    out = {}
    umap = _unet_prefix_map(unet.config)
    for k, v in unet.state_dict().items():
        out["model.diffusion_model." + _rename(k, umap, _RESNET)] = v.clone()
    vmap = _vae_prefix_map(vae.config)
    for k, v in vae.state_dict().items():
        inner = _VAE_ATTN if ".attentions." in k else _VAE_RESNET
        name = _rename(k, vmap, inner)
        if ".attn_1." in name and name.endswith(("q.weight", "k.weight", "v.weight", "proj_out.weight")):
            v = v[:, :, None, None]  # LDM attention uses 1x1 convolutions
        out["first_stage_model." + name] = v.clone()
    for k, v in text.state_dict().items():
        # Original checkpoints name CLIP weights "text_model.…" (transformers 5 drops that prefix in memory).
        name = k if k.startswith("text_model.") else "text_model." + k
        out["cond_stage_model.transformer." + name] = v.clone()
    # Self-check: diffusers' LDM → diffusers converters give back exactly the original weights.
    back = convert_ldm_unet_checkpoint(out, dict(unet.config))
    assert set(back) == set(unet.state_dict()), set(back) ^ set(unet.state_dict())
    vback = convert_ldm_vae_checkpoint(out, dict(vae.config))
    assert set(vback) == set(vae.state_dict()), set(vback) ^ set(vae.state_dict())
    for k, v in vback.items():
        assert torch.equal(v.reshape(vae.state_dict()[k].shape), vae.state_dict()[k]), k
    tback = convert_ldm_clip_checkpoint(out)
    assert len(tback) == len(text.state_dict())
    return out


def save_single_file(components: dict, path: Path) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in ldm_state_dict(components).items()}, str(path))
    return path


def build_all(root: Path) -> dict[str, Path]:
    """Everything the image tests need, under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    components = build_components()
    tok = root / "tokenizer"
    write_tokenizer(tok)
    folder = save_diffusers(components, tok, root / "tiny-sd")
    single = save_single_file(components, root / "tiny-sd.safetensors")
    controlnet = build_controlnet(components["unet"], root / "tiny-controlnet")
    return {"folder": folder, "single": single, "config": folder, "controlnet": controlnet, "tokenizer": tok}
