"""Segment Anything checkpoints: safe loading, architecture read from tensor shapes, building the model.

A checkpoint is a state dict (`.pth` / `.pt`, or `.safetensors`). Pickle-based files load only through
`torch.load(weights_only=True)`: a file that needs full unpickling (arbitrary code) is refused.
The architecture (embedding width, depth, heads, global-attention blocks, image and patch size, decoder sizes) is
read from the tensors' shapes, so a renamed vit_b, a vit_h, or a tiny test model all load through the same code.
A folder is a Hugging Face format model (SAM 2 / 2.1, EdgeTAM, SAM-HQ...): `load_sam` builds it with
`hf.build_hf`.
torch and segment_anything are imported inside the functions that need them.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from app.core.errors import UserError

KNOWN = {(768, 12): "vit_b", (1024, 24): "vit_l", (1280, 32): "vit_h"}
_BLOCK = re.compile(r"^image_encoder\.blocks\.(\d+)\.")


@dataclass(frozen=True)
class SamArch:
    """What a checkpoint's shapes say about the model."""

    embed_dim: int
    depth: int
    num_heads: int
    global_attn_indexes: tuple[int, ...]
    window_size: int
    img_size: int
    patch_size: int
    mlp_ratio: float
    qkv_bias: bool
    use_rel_pos: bool
    prompt_embed_dim: int
    mask_in_chans: int
    decoder_depth: int
    decoder_mlp_dim: int
    decoder_heads: int
    num_multimask_outputs: int
    iou_head_depth: int
    iou_head_hidden_dim: int

    @property
    def name(self) -> str:
        """vit_b / vit_l / vit_h, or a description for other sizes."""
        known = KNOWN.get((self.embed_dim, self.depth))
        if known and self.img_size == 1024:
            return known
        return f"custom (width {self.embed_dim}, depth {self.depth}, {self.img_size}px)"

    def to_dict(self) -> dict:
        """The fields as a plain dict (JSON-ready; also hashed into the fingerprint)."""
        return asdict(self)


@dataclass
class LoadedSam:
    """A model ready to segment: `model` (on `device`, eval mode), its `arch`, the `path` it came from, the weights'
    `fingerprint` (the embedding cache key's model part), `extra` (SAM 1: the checkpoint's unused keys, under
    'unexpected') and the `backend` that encodes and decodes for its family."""

    model: object  # segment_anything.modeling.Sam or a transformers SAM-family model, on `device`, in eval mode
    arch: object  # SamArch (a SAM 1 checkpoint) or hf.HfArch (a Hugging Face folder): .name, .img_size
    path: Path
    device: str
    fingerprint: str  # identifies the weights (not the file name): the embedding cache key's model part
    extra: dict = field(default_factory=dict)
    backend: object = None  # backends.Sam1Backend / TransformersBackend: encode and decode for this family


# ---- reading checkpoints ---------------------------------------------------------------------------------------
def _unwrap(obj) -> dict:
    """A state dict, possibly wrapped as {"model": ...} / {"state_dict": ...}, keys possibly prefixed."""
    import torch

    for _ in range(3):
        if isinstance(obj, dict) and not any(isinstance(v, torch.Tensor) for v in obj.values()):
            for key in ("model", "state_dict", "module", "sam"):
                if isinstance(obj.get(key), dict):
                    obj = obj[key]
                    break
            else:
                break
    if not isinstance(obj, dict):
        raise UserError("This file holds no model weights (expected a state dict of tensors).")
    tensors = {k: v for k, v in obj.items() if isinstance(k, str) and isinstance(v, torch.Tensor)}
    for prefix in ("module.", "model.", "sam."):
        if tensors and all(k.startswith(prefix) for k in tensors):
            tensors = {k[len(prefix):]: v for k, v in tensors.items()}
    return tensors


def read_state_dict(path: str | Path, mmap: bool = False) -> dict:
    """Tensors of a checkpoint, loaded safely. UserError for a missing, unsafe, corrupt or foreign file."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"Model file not found: {path}")
    if path.is_dir():
        raise UserError(f"{path} is a folder; choose a Segment Anything checkpoint file (.pth).")
    import torch

    if path.suffix.lower() == ".safetensors":
        try:
            from safetensors.torch import load_file

            state = load_file(str(path))
        except Exception as exc:
            raise UserError(f"{path.name} is not a readable safetensors file ({exc}).") from exc
    else:
        try:
            state = torch.load(str(path), map_location="cpu", weights_only=True, mmap=mmap)
        except RuntimeError as exc:
            # mmap needs the zip format; older checkpoints use the legacy format.
            if mmap and "mmap" in str(exc):
                return read_state_dict(path, mmap=False)
            raise UserError(f"{path.name} is not a readable PyTorch checkpoint ({_short(exc)}).") from exc
        except Exception as exc:
            if type(exc).__name__ == "UnpicklingError" or "weights_only" in str(exc):
                raise UserError(
                    f"Refused to open {path.name}: it is not a plain weights file, and loading it would run code "
                    "stored inside it. Only use checkpoints from a source you trust, saved as a state dict "
                    "(or .safetensors)."
                ) from exc
            raise UserError(f"{path.name} is not a readable PyTorch checkpoint ({_short(exc)}).") from exc
    return _unwrap(state)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def _foreign_format(state: dict) -> str | None:
    """A sentence for weights of a SAM family Hearth opens another way, or None."""
    if any(k.startswith("image_encoder.trunk.") for k in state):
        return ("This is a SAM 2 checkpoint in Meta's original format. Hearth opens SAM 2 / 2.1 in the Hugging Face "
                "format: download \"SAM 2.1 hiera tiny\" (or another size) in Models, or open a folder holding its "
                "config.json and model.safetensors.")
    if any(k.startswith("vision_encoder.") for k in state):
        return ("These are the weights of a Hugging Face format model: open the folder that holds them together with "
                "its config.json.")
    return None


def infer_arch(state: dict) -> SamArch:
    """Read the architecture from tensor shapes. UserError when the tensors are not a SAM model."""
    foreign = _foreign_format(state)
    if foreign:
        raise UserError(foreign)
    try:
        patch = state["image_encoder.patch_embed.proj.weight"]  # [embed, 3, p, p]
        embed_dim, patch_size = int(patch.shape[0]), int(patch.shape[-1])
        blocks = sorted({int(m.group(1)) for k in state if (m := _BLOCK.match(k))})
        depth = len(blocks)
        if depth == 0 or blocks != list(range(depth)):
            raise KeyError("image_encoder.blocks")
        pos = state.get("image_encoder.pos_embed")  # [1, grid, grid, embed]
        if pos is not None:
            grid = int(pos.shape[1])
        else:
            grid = 1024 // patch_size
        img_size = grid * patch_size
        use_rel_pos = "image_encoder.blocks.0.attn.rel_pos_h" in state
        global_idx: list[int] = []
        window = 0
        if use_rel_pos:
            head_dim = int(state["image_encoder.blocks.0.attn.rel_pos_h"].shape[1])
            for i in blocks:
                span = (int(state[f"image_encoder.blocks.{i}.attn.rel_pos_h"].shape[0]) + 1) // 2
                if span == grid:
                    global_idx.append(i)
                else:
                    window = span
            if window == 0:  # every block spans the whole grid
                window = 0
            num_heads = embed_dim // head_dim
        else:
            num_heads = {768: 12, 1024: 16, 1280: 16}.get(embed_dim, max(1, embed_dim // 64))
            window = 14
        mlp_dim = int(state["image_encoder.blocks.0.mlp.lin1.weight"].shape[0])
        prompt_dim = int(state["image_encoder.neck.0.weight"].shape[0])
        mask_in = int(state["prompt_encoder.mask_downscaling.3.weight"].shape[0])
        dec_layers = {int(k.split(".")[3]) for k in state if k.startswith("mask_decoder.transformer.layers.")}
        dec_mlp = int(state["mask_decoder.transformer.layers.0.mlp.lin1.weight"].shape[0])
        tokens = int(state["mask_decoder.mask_tokens.weight"].shape[0])
        iou_layers = {int(k.split(".")[3]) for k in state if k.startswith("mask_decoder.iou_prediction_head.layers.")}
        iou_hidden = int(state["mask_decoder.iou_prediction_head.layers.0.weight"].shape[0])
        cross_dim = int(state["mask_decoder.transformer.final_attn_token_to_image.q_proj.weight"].shape[0])
    except (KeyError, IndexError, AttributeError) as exc:
        raise UserError(
            f"This checkpoint is not a Segment Anything (SAM) model: tensor {exc} is missing or has an unexpected "
            "shape. Hearth opens the original SAM checkpoints (vit_b, vit_l, vit_h)."
        ) from exc
    # The decoder's head count is not visible in shapes; SAM uses 8. Use the largest count <= 8 that divides.
    decoder_heads = next(h for h in (8, 4, 2, 1) if cross_dim % h == 0 and prompt_dim % h == 0)
    return SamArch(
        embed_dim=embed_dim, depth=depth, num_heads=num_heads, global_attn_indexes=tuple(global_idx),
        window_size=window, img_size=img_size, patch_size=patch_size, mlp_ratio=mlp_dim / embed_dim,
        qkv_bias="image_encoder.blocks.0.attn.qkv.bias" in state, use_rel_pos=use_rel_pos,
        prompt_embed_dim=prompt_dim, mask_in_chans=mask_in, decoder_depth=len(dec_layers), decoder_mlp_dim=dec_mlp,
        decoder_heads=decoder_heads, num_multimask_outputs=tokens - 1, iou_head_depth=len(iou_layers),
        iou_head_hidden_dim=iou_hidden,
    )


def build_sam(arch: SamArch):
    """An untrained Sam with this architecture, from segment_anything's own modules."""
    from functools import partial

    import torch
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    grid = arch.img_size // arch.patch_size
    return Sam(
        image_encoder=ImageEncoderViT(
            depth=arch.depth, embed_dim=arch.embed_dim, img_size=arch.img_size, mlp_ratio=arch.mlp_ratio,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=arch.num_heads, patch_size=arch.patch_size,
            qkv_bias=arch.qkv_bias, use_rel_pos=arch.use_rel_pos, global_attn_indexes=arch.global_attn_indexes,
            window_size=arch.window_size, out_chans=arch.prompt_embed_dim,
        ),
        prompt_encoder=PromptEncoder(
            embed_dim=arch.prompt_embed_dim, image_embedding_size=(grid, grid),
            input_image_size=(arch.img_size, arch.img_size), mask_in_chans=arch.mask_in_chans,
        ),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=arch.num_multimask_outputs,
            transformer=TwoWayTransformer(depth=arch.decoder_depth, embedding_dim=arch.prompt_embed_dim,
                                          mlp_dim=arch.decoder_mlp_dim, num_heads=arch.decoder_heads),
            transformer_dim=arch.prompt_embed_dim, iou_head_depth=arch.iou_head_depth,
            iou_head_hidden_dim=arch.iou_head_hidden_dim,
        ),
    )


def fingerprint(state: dict, arch: SamArch) -> str:
    """A short id of the weights' content (not the file name): renamed copies share embedding cache entries."""
    h = hashlib.blake2b(digest_size=12)
    h.update(repr(sorted(arch.to_dict().items())).encode())
    for key in ("image_encoder.patch_embed.proj.weight", "image_encoder.neck.0.weight", "image_encoder.neck.2.weight",
                f"image_encoder.blocks.{arch.depth - 1}.mlp.lin2.bias"):
        tensor = state.get(key)
        if tensor is not None:
            data = tensor.detach().contiguous().cpu().flatten()[: 1 << 16]
            h.update(data.float().numpy().tobytes())
    return h.hexdigest()


def inspect_checkpoint(path: str | Path):
    """The architecture of a checkpoint file (memory-mapped where the format allows, so vit_h is cheap to inspect)
    or of a Hugging Face model folder (from its config.json)."""
    if Path(path).is_dir():
        from app.core.segment.hf import inspect_folder

        return inspect_folder(path)
    return infer_arch(read_state_dict(path, mmap=True))


def best_device(preference: str = "auto") -> str:
    """`preference` unless it is 'auto' or empty; otherwise 'cuda' when available, then 'mps', else 'cpu'. An explicit
    choice is not checked here (`place` falls back to the CPU)."""
    import torch

    if preference and preference != "auto":
        return preference
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"


def limit_cpu_threads() -> None:
    """Torch on CPU: no more threads than physical cores (hyper-threads slow the encoder down)."""
    import torch

    from app.core.devices import physical_cores

    cores = max(1, physical_cores())
    if torch.get_num_threads() > cores:
        torch.set_num_threads(cores)


def place(model, device: str) -> str:
    """Move `model` to `device` in eval mode; out of GPU memory or a broken driver falls back to the CPU.
    Returns the device used. On the CPU, torch uses no more threads than physical cores."""
    import torch

    model.eval()
    try:
        model.to(device)
    except Exception as exc:
        if device == "cpu":
            raise
        logging.getLogger(__name__).warning("SAM could not move to %s (%s); using the CPU", device, exc)
        torch.cuda.empty_cache() if device == "cuda" else None
        device = "cpu"
        model.to(device)
    if device == "cpu":
        limit_cpu_threads()
    return device


def load_sam(path: str | Path, device: str = "auto", state=None) -> LoadedSam:
    """Load a checkpoint (safely), build the matching model, move it to the best device. A folder is loaded as a
    Hugging Face format model (hf.build_hf)."""
    from app.core.segment.backends import Sam1Backend

    path = Path(path)
    if path.is_dir():
        from app.core.segment import hf
        from app.core.segment.backends import TransformersBackend

        arch, model, processor = hf.build_hf(path, state)
        dev = place(model, best_device(device))
        backend = TransformersBackend(model, processor, arch.family, arch.img_size, dev)
        return LoadedSam(model=model, arch=arch, path=path, device=dev, fingerprint=hf.fingerprint(model, arch),
                         backend=backend)
    if state is not None:
        state.progress(None, f"Reading {path.name}")
    tensors = read_state_dict(path)
    arch = infer_arch(tensors)
    if state is not None:
        state.check()
        state.progress(None, f"Building {arch.name}")
    model = build_sam(arch)
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    if missing:
        raise UserError(f"{path.name} is missing {len(missing)} SAM weights (first: {missing[0]}); the file may be "
                        "truncated or from another model family.")
    dev = place(model, best_device(device))
    return LoadedSam(model=model, arch=arch, path=path, device=dev, fingerprint=fingerprint(tensors, arch),
                     extra={"unexpected": list(unexpected)}, backend=Sam1Backend(model, arch.img_size, dev))
