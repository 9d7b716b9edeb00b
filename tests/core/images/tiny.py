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
             ("mid_block.attentions.0.", "middle_block.1."),
             ("add_embedding.linear_1.", "label_emb.0.0."), ("add_embedding.linear_2.", "label_emb.0.2.")]  # SDXL
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


def _ldm_unet_vae(unet, vae) -> dict:
    """UNet and VAE weights under the LDM names (the same in SD 1.x/2.x and SDXL files), self-checked."""
    import torch
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint, convert_ldm_vae_checkpoint

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
    # Self-check: diffusers' LDM → diffusers converters give back exactly the original weights.
    back = convert_ldm_unet_checkpoint(out, dict(unet.config))
    assert set(back) == set(unet.state_dict()), set(back) ^ set(unet.state_dict())
    vback = convert_ldm_vae_checkpoint(out, dict(vae.config))
    assert set(vback) == set(vae.state_dict()), set(vback) ^ set(vae.state_dict())
    for k, v in vback.items():
        assert torch.equal(v.reshape(vae.state_dict()[k].shape), vae.state_dict()[k]), k
    return out


def ldm_state_dict(components: dict) -> dict:
    """The pipeline's weights under the original checkpoint names, checked against diffusers' converters."""
    from diffusers.loaders.single_file_utils import convert_ldm_clip_checkpoint

    text = components["text_encoder"]
    out = _ldm_unet_vae(components["unet"], components["vae"])
    for k, v in text.state_dict().items():
        # Original checkpoints name CLIP weights "text_model.…" (transformers 5 drops that prefix in memory).
        name = k if k.startswith("text_model.") else "text_model." + k
        out["cond_stage_model.transformer." + name] = v.clone()
    tback = convert_ldm_clip_checkpoint(out)
    assert len(tback) == len(text.state_dict())
    return out


def ldm_sd2_state_dict(components: dict) -> dict:
    """The same SD weights as an SD 2.x file lays them out: the text encoder under OpenCLIP's names
    (cond_stage_model.model.…), which is how Hearth and diffusers tell 2.x from 1.x."""
    import torch
    from diffusers.loaders.single_file_utils import convert_open_clip_checkpoint

    text = components["text_encoder"]
    out = _ldm_unet_vae(components["unet"], components["vae"])
    for k, v in _open_clip_state_dict(text).items():
        out["cond_stage_model.model." + k] = v.clone()
    back = {k.removeprefix("text_model."): v for k, v in convert_open_clip_checkpoint(text, out).items()}
    want = text.state_dict()
    assert set(back) == set(want), set(back) ^ set(want)
    assert all(torch.equal(v, want[k]) for k, v in back.items())
    return out


def save_single_file(components: dict, path: Path, layout: str = "sd1") -> Path:
    from safetensors.torch import save_file

    state = ldm_sd2_state_dict(components) if layout == "sd2" else ldm_state_dict(components)
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


def build_all(root: Path) -> dict[str, Path]:
    """Everything the image tests need, under `root`."""
    root.mkdir(parents=True, exist_ok=True)
    components = build_components()
    tok = root / "tokenizer"
    write_tokenizer(tok)
    folder = save_diffusers(components, tok, root / "tiny-sd")
    single = save_single_file(components, root / "tiny-sd.safetensors")
    single_sd2 = save_single_file(components, root / "tiny-sd2.safetensors", layout="sd2")
    controlnet = build_controlnet(components["unet"], root / "tiny-controlnet")
    return {"folder": folder, "single": single, "single_sd2": single_sd2, "config": folder, "controlnet": controlnet,
            "tokenizer": tok}


# ---- SDXL ---------------------------------------------------------------------------------------------------
# In the style of diffusers' own tiny SDXL tests: a "text_time" UNet conditioned on two CLIP text encoders, the
# second with a projection. The encoders differ in width (32 and 48, like 768 / 1280 in the real model): diffusers'
# single-file loader tells CLIP-L from OpenCLIP-bigG by that width.
XL_TIME_DIM = 8  # addition_time_embed_dim: 6 size/crop numbers → 6 * 8 features
XL_TE1, XL_TE2, XL_PROJ = 32, 48, 32


def build_sdxl_components(seed: int = 0) -> dict:
    import torch
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=SIZE // 2, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4), use_linear_projection=True, transformer_layers_per_block=(1, 2),
        addition_embed_type="text_time", addition_time_embed_dim=XL_TIME_DIM,
        projection_class_embeddings_input_dim=6 * XL_TIME_DIM + XL_PROJ, cross_attention_dim=XL_TE1 + XL_TE2,
        norm_num_groups=32)
    vae = AutoencoderKL(
        block_out_channels=(32, 64), in_channels=3, out_channels=3, latent_channels=4, layers_per_block=1,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"), norm_num_groups=32, sample_size=SIZE,
        scaling_factor=0.13025)

    def clip(width: int) -> CLIPTextConfig:
        return CLIPTextConfig(hidden_size=width, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
                              vocab_size=1000, max_position_embeddings=77, projection_dim=XL_PROJ, bos_token_id=0,
                              eos_token_id=2, pad_token_id=1, hidden_act="gelu")

    text = CLIPTextModel(clip(XL_TE1))
    text_2 = CLIPTextModelWithProjection(clip(XL_TE2))
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       steps_offset=1, timestep_spacing="leading")
    return {"unet": unet.eval(), "vae": vae.eval(), "text_encoder": text.eval(), "text_encoder_2": text_2.eval(),
            "scheduler": scheduler}


def build_sdxl_controlnet(unet, folder: Path, seed: int = 1) -> Path:
    import torch
    from diffusers import ControlNetModel

    torch.manual_seed(seed)
    cfg = unet.config
    cn = ControlNetModel(
        block_out_channels=cfg.block_out_channels, layers_per_block=1, in_channels=4,
        down_block_types=cfg.down_block_types, attention_head_dim=cfg.attention_head_dim,
        use_linear_projection=True, transformer_layers_per_block=cfg.transformer_layers_per_block,
        addition_embed_type="text_time", addition_time_embed_dim=cfg.addition_time_embed_dim,
        projection_class_embeddings_input_dim=cfg.projection_class_embeddings_input_dim,
        cross_attention_dim=cfg.cross_attention_dim, norm_num_groups=32, conditioning_embedding_out_channels=(16, 32))
    cn.save_pretrained(folder, safe_serialization=True)
    return folder


def save_sdxl_diffusers(components: dict, tokenizer_dir: Path, folder: Path) -> Path:
    from diffusers import StableDiffusionXLPipeline
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained(str(tokenizer_dir))
    pipe = StableDiffusionXLPipeline(**components, tokenizer=tok, tokenizer_2=tok)
    pipe.save_pretrained(folder, safe_serialization=True)
    return folder


def _open_clip_state_dict(text) -> dict:
    """A CLIP text model's weights under OpenCLIP's names (SD 2.x's text encoder, SDXL's second one)."""
    import torch

    sd = {k.removeprefix("text_model."): v for k, v in text.state_dict().items()}
    out = {"positional_embedding": sd["embeddings.position_embedding.weight"],
           "token_embedding.weight": sd["embeddings.token_embedding.weight"],
           "ln_final.weight": sd["final_layer_norm.weight"], "ln_final.bias": sd["final_layer_norm.bias"]}
    if "text_projection.weight" in sd:
        out["text_projection"] = sd["text_projection.weight"].T.contiguous()  # OpenCLIP computes x @ proj
    for i in range(text.config.num_hidden_layers):
        src, dst = f"encoder.layers.{i}.", f"transformer.resblocks.{i}."
        for part in ("weight", "bias"):
            out[dst + f"attn.in_proj_{part}"] = torch.cat(
                [sd[src + f"self_attn.{p}_proj.{part}"] for p in ("q", "k", "v")])
            out[dst + f"attn.out_proj.{part}"] = sd[src + f"self_attn.out_proj.{part}"]
            out[dst + f"ln_1.{part}"] = sd[src + f"layer_norm1.{part}"]
            out[dst + f"ln_2.{part}"] = sd[src + f"layer_norm2.{part}"]
            out[dst + f"mlp.c_fc.{part}"] = sd[src + f"mlp.fc1.{part}"]
            out[dst + f"mlp.c_proj.{part}"] = sd[src + f"mlp.fc2.{part}"]
    return out


def ldm_sdxl_state_dict(components: dict) -> dict:
    """The SDXL pipeline's weights under the original (Stability "sgm") checkpoint names, checked against
    diffusers' converters."""
    import torch
    from diffusers.loaders.single_file_utils import convert_ldm_clip_checkpoint, convert_open_clip_checkpoint

    text, text_2 = components["text_encoder"], components["text_encoder_2"]
    out = _ldm_unet_vae(components["unet"], components["vae"])
    for k, v in text.state_dict().items():
        name = k if k.startswith("text_model.") else "text_model." + k
        out["conditioner.embedders.0.transformer." + name] = v.clone()
    for k, v in _open_clip_state_dict(text_2).items():
        out["conditioner.embedders.1.model." + k] = v.clone()
    # Self-check with diffusers' own converters.
    tback = convert_ldm_clip_checkpoint(out)
    assert len(tback) == len(text.state_dict())
    oback = convert_open_clip_checkpoint(text_2, out, prefix="conditioner.embedders.1.model.")
    want = text_2.state_dict()
    for k, v in oback.items():
        assert torch.equal(v, want[k]), k
    assert set(oback) == set(want), set(oback) ^ set(want)
    return out


def save_sdxl_single_file(components: dict, path: Path) -> Path:
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in ldm_sdxl_state_dict(components).items()}, str(path))
    return path


def build_sdxl(root: Path, tokenizer_dir: Path) -> dict[str, Path]:
    root.mkdir(parents=True, exist_ok=True)
    components = build_sdxl_components()
    folder = save_sdxl_diffusers(components, tokenizer_dir, root / "tiny-sdxl")
    single = save_sdxl_single_file(components, root / "tiny-sdxl.safetensors")
    controlnet = build_sdxl_controlnet(components["unet"], root / "tiny-sdxl-controlnet")
    return {"folder": folder, "single": single, "config": folder, "controlnet": controlnet}


# ---- TAESD (AutoencoderTiny) --------------------------------------------------------------------------------
def build_taesd(folder: Path, blocks: int = 2, seed: int = 2) -> Path:
    """A tiny AutoencoderTiny. Its decoder upsamples 2x per block after the first: two blocks match the tiny VAEs
    above (latents at half the image size)."""
    import torch
    from diffusers import AutoencoderTiny

    torch.manual_seed(seed)
    taesd = AutoencoderTiny(encoder_block_out_channels=(16,) * blocks, decoder_block_out_channels=(16,) * blocks,
                            num_encoder_blocks=(1,) * blocks, num_decoder_blocks=(1,) * blocks, latent_channels=4)
    taesd.save_pretrained(folder, safe_serialization=True)
    return folder


# ---- depth estimation (transformers) ------------------------------------------------------------------------
def build_depth(folder: Path, seed: int = 3) -> Path:
    """A tiny Depth Anything (DINOv2 backbone + DPT head) with its image processor, as save_pretrained writes it."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    torch.manual_seed(seed)
    backbone = Dinov2Config(image_size=28, patch_size=14, num_channels=3, hidden_size=32, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=37, out_features=["stage1", "stage2"],
                            reshape_hidden_states=False, apply_layernorm=True)
    config = DepthAnythingConfig(backbone_config=backbone, patch_size=14, reassemble_hidden_size=32,
                                 reassemble_factors=[2, 1], neck_hidden_sizes=[8, 16], fusion_hidden_size=8,
                                 head_hidden_size=8)
    model = DepthAnythingForDepthEstimation(config).eval()
    model.save_pretrained(folder, safe_serialization=True)
    DPTImageProcessor(size={"height": 28, "width": 28}, keep_aspect_ratio=True, ensure_multiple_of=14,
                      do_pad=False).save_pretrained(folder)
    return folder


def build_dpt(folder: Path, seed: int = 4) -> Path:
    """A tiny DPT (ViT backbone, the MiDaS / Intel DPT architecture) with its image processor."""
    import torch
    from transformers import DPTConfig, DPTForDepthEstimation, DPTImageProcessor

    torch.manual_seed(seed)
    config = DPTConfig(image_size=32, patch_size=16, num_channels=3, hidden_size=32, num_hidden_layers=4,
                       backbone_out_indices=[0, 1, 2, 3], num_attention_heads=4, intermediate_size=37,
                       neck_hidden_sizes=[16, 16, 32, 32], fusion_hidden_size=16, is_hybrid=False)
    DPTForDepthEstimation(config).eval().save_pretrained(folder, safe_serialization=True)
    DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=False).save_pretrained(folder)
    return folder


def install(model: Path, home: Path, kind: str, name: str = "") -> Path:
    """Copy a model into HEARTH_HOME's models folder the way the Models tab stores it (<models>/<kind>/<name>)."""
    import shutil

    dest = home / "models" / kind / (name or model.name)
    dest.parent.mkdir(parents=True, exist_ok=True)
    (shutil.copytree if model.is_dir() else shutil.copy2)(model, dest)
    return dest


def pixels(path):
    """An image file's RGB pixels, for comparing outputs."""
    import numpy as np
    from PIL import Image

    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"))


def mode_inputs(mode: str, inputs: dict, controlnet) -> dict:
    """GenerationParams fields for one test mode: txt2img, img2img, inpaint or controlnet-canny."""
    kw: dict = {}
    if mode in ("img2img", "inpaint"):
        kw.update(mode=mode, init_image=inputs["init"], strength=0.8)
    if mode == "inpaint":
        kw["mask_image"] = inputs["mask"]
    if mode == "controlnet-canny":
        kw.update(control="canny", control_image=inputs["init"], controlnet=str(controlnet))
    return kw
