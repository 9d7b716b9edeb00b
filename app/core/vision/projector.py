"""Tell a projector (mmproj) GGUF from a language model, and check that a projector fits a model.

A vision GGUF comes as two files: the language model (general.architecture = llama, qwen2, gemma3 …) and its
projector (general.architecture = "clip", general.type = "mmproj"), which turns an image into embeddings the language
model reads as if they were token embeddings. They only work together when the projector's output width equals the
language model's embedding width; llama.cpp's converter records that width as `clip.vision.projection_dim`
(convert_hf_to_gguf.py, MmprojModel: `add_vision_projection_dim(self.n_embd_text)`).

Only headers are read (app.core.chat.gguf_info): fast, no ML library imported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from app.core.chat import gguf_info
from app.core.errors import UserError

CLIP_ARCH = "clip"
MMPROJ_TYPE = "mmproj"
DEFAULT_INPUT_SIDE = 896  # when a projector states no usable size
MAX_INPUT_SIDE = 2048  # never hand llama.cpp more than this per side


@dataclass(frozen=True)
class ProjectorInfo:
    """What Hearth needs from a projector's header.

    projector_type: clip.cpp's name ("mlp" for LLaVA, "idefics3" for SmolVLM, "gemma3", "qwen2.5vl_merger" …).
    embedding_size: width of the embeddings it produces (= the language model's n_embd), None when the file does
        not say (LLaVA files from the legacy converter store the CLIP projection width there instead).
    image_size: the encoder's square input in pixels; input_side: the longest side worth handing over (pixels), see
        `input_side_of`.
    """

    path: Path
    projector_type: str
    embedding_size: int | None
    image_size: int
    input_side: int
    name: str


def is_projector(info: gguf_info.GGUFInfo) -> bool:
    """True for a multimodal projector file (clip architecture or general.type mmproj)."""
    return info.architecture == CLIP_ARCH or info.get("general.type") == MMPROJ_TYPE


def input_side_of(info: gguf_info.GGUFInfo) -> int:
    """The longest image side (pixels) the projector can use; larger photos are downscaled to it first.

    Fixed-size encoders (LLaVA 1.5: 336) use clip.vision.image_size; tiling ones say more: the preprocessing size
    (SmolVLM/Idefics3: clip.vision.preproc_image_size), the largest grid pinpoint (LLaVA 1.6), or the pixel budget
    of dynamic-resolution encoders (Qwen2-VL: clip.vision.image_max_pixels). Capped at MAX_INPUT_SIDE."""
    size = _int(info.get("clip.vision.image_size"))
    candidates = [size]
    max_pixels = _int(info.get("clip.vision.image_max_pixels"))
    if max_pixels:
        candidates.append(int(math.sqrt(max_pixels)))
    candidates.append(_int(info.get("clip.vision.preproc_image_size")))
    pinpoints = info.get("clip.vision.image_grid_pinpoints")
    if isinstance(pinpoints, list) and pinpoints:
        candidates.append(max(_int(p) for p in pinpoints))
    side = max(candidates)
    return min(side if side > 0 else DEFAULT_INPUT_SIDE, MAX_INPUT_SIDE)


def read_projector(path: str | Path) -> ProjectorInfo:
    """Read a projector's header. UserError when the file is missing, damaged, or a language model instead."""
    info = gguf_info.read(path)
    if not is_projector(info):
        raise UserError(f"{info.path.name} is a language model ({info.architecture}), not an image projector "
                        "(mmproj). Choose the mmproj-….gguf file that came with the vision model.")
    if info.get("clip.has_vision_encoder") is False:
        raise UserError(f"{info.path.name} is an audio projector; it cannot read images.")
    projector_type = str(info.get("clip.projector_type") or info.get("clip.vision.projector_type") or "")
    width = _int(info.get("clip.vision.projection_dim"))
    legacy = info.get("general.type") != MMPROJ_TYPE  # legacy LLaVA files store CLIP's own projection width
    return ProjectorInfo(path=info.path, projector_type=projector_type or "unknown",
                         embedding_size=None if legacy or not width else width,
                         image_size=_int(info.get("clip.vision.image_size")), input_side=input_side_of(info),
                         name=info.name)


def model_embedding_size(info: gguf_info.GGUFInfo) -> int | None:
    """A language model's embedding width ({arch}.embedding_length), None when the header does not say."""
    value = _int(info.arch_value("embedding_length"))
    return value or None


def check_pair(model: str | Path | gguf_info.GGUFInfo, projector: str | Path | ProjectorInfo) -> ProjectorInfo:
    """Check that `projector` can feed `model`; returns the projector's info.

    Raises UserError when the model file is itself a projector, the projector file is a language model, or the
    projector's output width differs from the model's embedding width (they come from different models)."""
    model_info = model if isinstance(model, gguf_info.GGUFInfo) else gguf_info.read(model)
    if is_projector(model_info):
        raise UserError(f"{model_info.path.name} is an image projector (mmproj), not a language model. Choose the "
                        "model file; Hearth pairs the projector with it.")
    proj = projector if isinstance(projector, ProjectorInfo) else read_projector(projector)
    n_embd = model_embedding_size(model_info)
    if proj.embedding_size and n_embd and proj.embedding_size != n_embd:
        raise UserError(mismatch_message(proj.path.name, proj.embedding_size, model_info.path.name, n_embd))
    return proj


def mismatch_message(projector_name: str, projector_width: int, model_name: str, model_width: int) -> str:
    return (f"The projector {projector_name} makes {projector_width}-wide image embeddings but {model_name} reads "
            f"{model_width}-wide ones: they belong to different models. Use the mmproj file published with "
            f"{model_name}.")


def _int(value) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else 0
