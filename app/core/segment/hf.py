"""Segment Anything models in the Hugging Face format, loaded through `transformers`.

A model is a folder: `config.json` + `model.safetensors` (or safetensors shards with their index), plus the
processor configs. Recognised by config.json's `model_type`, never by the folder's name:

    sam2, sam2_video          SAM 2 / 2.1 (Hiera tiny / small / base+ / large)   Sam2Model
    edgetam, edgetam_video    EdgeTAM (RepViT-M1 encoder, through timm)            EdgeTamModel
    sam                       SAM (vit_b / vit_l / vit_h) converted to transformers SamModel
    sam_hq                    SAM-HQ                                               SamHQModel

The *_video configs (what facebook/sam2.1-hiera-* ship) hold the video model; its image part is loaded. Weights load
from safetensors only (no pickle); a file the config does not describe (missing, foreign or truncated weights) is
refused with a sentence saying which. transformers and torch are imported inside the functions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from app.core.errors import UserError

# model_type -> (family, transformers model class, image processor class)
FAMILIES = {
    "sam2": ("sam2", "Sam2Model", "Sam2ImageProcessor"),
    "sam2_video": ("sam2", "Sam2Model", "Sam2ImageProcessor"),
    "edgetam": ("edgetam", "EdgeTamModel", "Sam2ImageProcessor"),
    "edgetam_video": ("edgetam", "EdgeTamModel", "Sam2ImageProcessor"),
    "sam": ("sam", "SamModel", "SamImageProcessor"),
    "sam_hq": ("sam_hq", "SamHQModel", "SamImageProcessor"),
}
HIERA = {(1, 2, 7, 2): "tiny", (1, 2, 11, 2): "small", (2, 3, 16, 3): "base+", (2, 6, 36, 4): "large"}
VIT = {(768, 12): "vit_b", (1024, 24): "vit_l", (1280, 32): "vit_h"}
TITLES = {"sam2": "SAM 2", "edgetam": "EdgeTAM", "sam": "SAM", "sam_hq": "SAM-HQ"}


@dataclass(frozen=True)
class HfArch:
    """What a folder's config.json says about the model."""

    family: str  # sam2 | edgetam | sam | sam_hq
    model_type: str
    img_size: int  # the encoder's square input side, pixels
    detail: str  # "hiera tiny", "vit_b", "RepViT-M1", or the sizes of a custom model

    @property
    def name(self) -> str:
        """e.g. "SAM 2 hiera tiny", "EdgeTAM", "SAM-HQ vit_b"."""
        title = TITLES[self.family]
        return f"{title} {self.detail}" if self.detail and self.family != "edgetam" else title

    def to_dict(self) -> dict:
        """The fields as a plain dict (JSON-ready; also hashed into the fingerprint)."""
        return asdict(self)


def read_config(folder: Path) -> dict:
    """config.json of a model folder. UserError when the folder is not a Hugging Face model folder."""
    folder = Path(folder)
    config = folder / "config.json"
    if not config.exists():
        has_weights = any(folder.glob("*.safetensors")) or any(folder.glob("*.bin"))
        what = "holds weights but no config.json" if has_weights else "has no config.json"
        raise UserError(f"{folder.name} {what}: a Hugging Face model folder needs config.json next to "
                        "model.safetensors. Download the model again from Models, or open the checkpoint file itself.")
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except (OSError, ValueError) as exc:
        raise UserError(f"{folder.name}/config.json cannot be read ({exc}).") from exc
    return data


def inspect_folder(folder: str | Path) -> HfArch:
    """The architecture named by the folder's config.json. UserError for a folder that is not a SAM-family model."""
    data = read_config(Path(folder))
    model_type = str(data.get("model_type", ""))
    if model_type not in FAMILIES:
        raise UserError(f"{Path(folder).name} holds a {model_type or 'unknown'!r} model, not Segment Anything. "
                        "Hearth opens SAM 2 / 2.1, EdgeTAM, SAM and SAM-HQ folders in the Hugging Face format, and "
                        "SAM .pth files.")
    family = FAMILIES[model_type][0]
    vision = data.get("vision_config") or {}
    prompt = data.get("prompt_encoder_config") or {}
    img_size = int(prompt.get("image_size") or vision.get("image_size") or 1024)
    if family == "sam2":
        backbone = vision.get("backbone_config") or {}
        stages = tuple(backbone.get("blocks_per_stage") or (1, 2, 7, 2))
        known = stages in HIERA and img_size == 1024
        detail = f"hiera {HIERA[stages]}" if known else f"custom (stages {list(stages)}, {img_size}px)"
    elif family == "edgetam":
        arch = (vision.get("backbone_config") or {}).get("architecture", "repvit_m1")
        detail = "RepViT-M1" if arch == "repvit_m1" else str(arch)
    else:
        key = (int(vision.get("hidden_size", 768)), int(vision.get("num_hidden_layers", 12)))
        detail = VIT.get(key, f"custom (width {key[0]}, depth {key[1]})") if img_size == 1024 else \
            f"custom (width {key[0]}, depth {key[1]}, {img_size}px)"
    return HfArch(family, model_type, img_size, detail)


def _weight_files(folder: Path) -> list[Path]:
    single = folder / "model.safetensors"
    if single.exists():
        return [single]
    index = folder / "model.safetensors.index.json"
    if index.exists():
        try:
            shards = sorted(set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values()))
        except (OSError, ValueError, KeyError) as exc:
            raise UserError(f"{folder.name}/model.safetensors.index.json cannot be read ({exc}).") from exc
        missing = [s for s in shards if not (folder / s).exists()]
        if missing:
            raise UserError(f"{folder.name} is missing {missing[0]} (one of {len(shards)} weight files); download the "
                            "model again.")
        return [folder / s for s in shards]
    if any(folder.glob("*.bin")) or any(folder.glob("*.pt")) or any(folder.glob("*.pth")):
        raise UserError(f"{folder.name} has no model.safetensors, only pickle-based weights (.bin/.pt): Hearth loads "
                        "Hugging Face models from safetensors only. Download the model from Models instead.")
    raise UserError(f"{folder.name} is missing model.safetensors (the weights); download the model again.")


def _check_keys(folder: Path, files: list[Path], arch: HfArch) -> None:
    """Refuse weights that belong to another format before transformers sees them (it would start from random)."""
    from safetensors import safe_open

    keys: list[str] = []
    for f in files:
        try:
            with safe_open(str(f), framework="pt") as fh:
                keys.extend(fh.keys())
        except Exception as exc:  # noqa: BLE001 - header unreadable: truncated or not safetensors
            raise UserError(f"{folder.name}/{f.name} is not a readable safetensors file ({exc}); the download may "
                            "be incomplete.") from exc
    if any(k.startswith(("vision_encoder.", "model.vision_encoder.")) for k in keys):
        return
    if any(k.startswith("image_encoder.trunk.") for k in keys):
        found = "SAM 2 weights in Meta's original layout"
    elif any(k.startswith("image_encoder.") for k in keys):
        found = "original Segment Anything (SAM 1) weights"
    else:
        found = "weights of another kind of model"
    raise UserError(f"{folder.name}/{files[0].name} holds {found}, not the {arch.name} weights its config.json "
                    "describes. Open a SAM 1 checkpoint file (.pth) directly, or download the model from Models.")


def fingerprint(model, arch: HfArch) -> str:
    """A short id of the weights' content (config + a sample of first and last tensors), like the SAM 1 one."""
    h = hashlib.blake2b(digest_size=12)
    h.update(repr(sorted(arch.to_dict().items())).encode())
    h.update(model.config.to_json_string(use_diff=False).encode())
    state = model.state_dict()
    names = list(state)
    for name in names[:2] + names[-2:]:
        data = state[name].detach().contiguous().cpu().flatten()[: 1 << 16]
        h.update(name.encode())
        h.update(data.float().numpy().tobytes())
    return h.hexdigest()


def build_hf(folder: str | Path, state=None):
    """Build the model of a Hugging Face format SAM-family folder (on the CPU, eval mode) and its image processor.
    Returns (HfArch, model, processor); `model.load_sam` places it on a device. Raises UserError for a folder that is
    not a SAM-family model, or whose weights are missing, foreign or truncated."""
    folder = Path(folder)
    if state is not None:
        state.progress(None, f"Reading {folder.name}")
    arch = inspect_folder(folder)
    files = _weight_files(folder)
    _check_keys(folder, files, arch)
    if state is not None:
        state.check()
        state.progress(None, f"Building {arch.name}")
    model, processor = _from_pretrained(folder, arch)
    if arch.family == "edgetam":
        fuse_repvit(model)
    return arch, model, processor


def fuse_repvit(model) -> None:
    """Re-parameterize EdgeTAM's RepViT encoder for inference, as RepViT is designed to be deployed: the RepVGG-style
    branches and BatchNorms fold into single convolutions (timm's reparameterize_model). Same features to ~1e-7;
    about a third less encoder time on a CPU (tests/benchmarks/segment.py)."""
    from timm.utils.model import reparameterize_model

    reparameterize_model(model.vision_encoder.backbone.timm_model, inplace=True)


def _from_pretrained(folder: Path, arch: HfArch):
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import transformers
    from transformers.utils import logging as tlog

    tlog.disable_progress_bar()
    _, model_cls, processor_cls = FAMILIES[arch.model_type]
    verbosity = tlog.get_verbosity()
    tlog.set_verbosity_error()  # "a sam2_video checkpoint into Sam2Model" is expected; missing weights are checked
    try:
        model, info = getattr(transformers, model_cls).from_pretrained(
            str(folder), use_safetensors=True, local_files_only=True, output_loading_info=True)
    except ImportError as exc:  # EdgeTAM's encoder comes from timm
        raise UserError(f"{arch.name} needs a library that is not installed ({exc}).") from exc
    except (OSError, ValueError, RuntimeError) as exc:
        raise UserError(f"{folder.name} could not be loaded: its weights do not match its config.json "
                        f"({str(exc).strip().splitlines()[0][:200]}).") from exc
    finally:
        tlog.set_verbosity(verbosity)
    missing = list(info.get("missing_keys") or [])
    if missing:
        raise UserError(f"{folder.name} is missing {len(missing)} of the weights its config.json describes "
                        f"(first: {missing[0]}); the file may be truncated or from another model.")
    processor_class = getattr(transformers, processor_cls)
    has_config = any((folder / n).exists() for n in ("preprocessor_config.json", "processor_config.json"))
    try:
        processor = processor_class.from_pretrained(str(folder), local_files_only=True) if has_config else None
    except (OSError, ValueError):
        processor = None
    if processor is None:  # the library's defaults, sized for this model
        square = {"height": arch.img_size, "width": arch.img_size}
        processor = processor_class(size={"longest_edge": arch.img_size}, pad_size=square) \
            if arch.family in ("sam", "sam_hq") else processor_class(size=square)
    logging.getLogger(__name__).info("loaded %s (%s) from %s", arch.name, arch.model_type, folder)
    return model.eval(), processor
