"""What a user asks for: one dataclass the GUI, the CLI and the PNG metadata share."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass, field
from pathlib import Path

MODES = ("txt2img", "img2img", "inpaint")
MAX_SEED = 2**64 - 1  # torch.Generator.manual_seed takes 0..2^64-1
RANDOM_SEED = -1  # A1111's convention: -1 asks for a random seed, and the seed drawn is recorded and shown
AUTO_SIZE = "Match image"  # size 0x0: keep the starting (or control) image's aspect ratio (images/inputs.py)
CONTROL_KINDS = ("canny", "depth", "scribble")

# Display name (A1111 spelling, which PNG `parameters` use) → (diffusers class, extra config).
SCHEDULERS: dict[str, tuple[str, dict]] = {
    "Euler": ("EulerDiscreteScheduler", {}),
    "Euler a": ("EulerAncestralDiscreteScheduler", {}),
    "DPM++ 2M": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": False}),
    "DPM++ 2M Karras": ("DPMSolverMultistepScheduler", {"use_karras_sigmas": True}),
    "DDIM": ("DDIMScheduler", {}),
    "UniPC": ("UniPCMultistepScheduler", {}),
    "Heun": ("HeunDiscreteScheduler", {}),
    "LMS": ("LMSDiscreteScheduler", {}),
    "PNDM": ("PNDMScheduler", {"skip_prk_steps": True}),
    "LCM": ("LCMScheduler", {}),
}

SIZE_PRESETS: dict[str, list[tuple[int, int]]] = {
    "sd1": [(512, 512), (512, 768), (768, 512), (448, 640), (640, 448)],
    "sd2-base": [(512, 512), (512, 768), (768, 512)],
    "sd2-v": [(768, 768), (640, 896), (896, 640), (512, 512)],
    "sdxl": [(1024, 1024), (896, 1152), (1152, 896), (832, 1216), (1216, 832), (768, 1344), (1344, 768)],
}


@dataclass
class GenerationParams:
    """One generation request; paths are strings. Sizes in pixels (0 x 0: match the starting or control image); `seed`
    0..2^64-1 or -1 for random; `steps` denoising steps; `guidance` the CFG scale (classifier-free guidance, Ho &
    Salimans 2022); `strength` img2img / inpaint denoising strength in (0, 1]; `control_scale` the ControlNet weight;
    canny thresholds for OpenCV's Canny; `loras` (path, weight). jobs.validate checks it."""

    prompt: str = ""
    negative_prompt: str = ""
    model: str = ""  # path to a diffusers folder or a single-file checkpoint
    seed: int = RANDOM_SEED  # 0..MAX_SEED, or -1: pick a random one (the chosen seed is recorded)
    steps: int = 25
    guidance: float = 7.0
    scheduler: str = "Euler a"
    width: int = 512  # 0 x 0: "auto", the starting / control image's aspect ratio at the model's native area
    height: int = 512
    mode: str = "txt2img"  # txt2img | img2img | inpaint
    init_image: str = ""  # path (img2img / inpaint)
    mask_image: str = ""  # path (inpaint): white = repaint
    strength: float = 0.75
    batch_count: int = 1
    control: str = ""  # "" | canny | depth | scribble
    control_image: str = ""
    controlnet: str = ""  # path to a ControlNet (folder or single file)
    control_scale: float = 1.0
    canny_low: int = 100
    canny_high: int = 200
    loras: list[tuple[str, float]] = field(default_factory=list)  # (path, weight)
    config: str = ""  # diffusers config folder for a single-file checkpoint (default: the family's shipped one)

    def resolved_seed(self) -> int:
        """The seed to use: this one, or for -1 a random one below 2^32 - 1 (A1111 draws the same range)."""
        check_seed(self.seed)
        return self.seed if self.seed >= 0 else random.randrange(0, 2**32 - 1)

    def to_dict(self) -> dict:
        """Every field as a JSON-ready dict (LoRAs as [path, weight] lists)."""
        data = dataclasses.asdict(self)
        data["loras"] = [[p, w] for p, w in self.loras]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "GenerationParams":
        """The inverse of `to_dict`: unknown keys are ignored, missing ones take the defaults; no validation
        (jobs.validate does that)."""
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        if "loras" in kwargs:
            kwargs["loras"] = [(str(p), float(w)) for p, w in kwargs["loras"]]
        return cls(**kwargs)

    @property
    def model_name(self) -> str:
        """The model file's or folder's name without suffix ('' when none is set)."""
        return Path(self.model).stem if self.model else ""


@dataclass
class ModelDefaults:
    """First settings suggested for a model: `steps`, `guidance` (CFG scale), `scheduler` (a SCHEDULERS name),
    `width` x `height` in pixels, and a `note` for the user ('' for ordinary models)."""

    steps: int
    guidance: float
    scheduler: str
    width: int
    height: int
    note: str = ""


def defaults_for(family: str, name: str = "") -> ModelDefaults:
    """Sensible first settings for a model: few-step models (Turbo, LCM, Lightning) need very different ones."""
    lowered = name.lower()
    w, h = SIZE_PRESETS.get(family, SIZE_PRESETS["sd1"])[0]
    if "turbo" in lowered:
        size = 512
        return ModelDefaults(1 if family != "sdxl" else 2, 0.0, "Euler a", size, size,
                             "Turbo model: 1–4 steps, guidance 0")
    if "lcm" in lowered:
        return ModelDefaults(4, 1.0, "LCM", w, h, "LCM model: 4–8 steps, guidance 1–2")
    if "lightning" in lowered or "hyper" in lowered:
        return ModelDefaults(4, 0.0 if "lightning" in lowered else 1.0, "Euler", w, h, "Few-step model: 4–8 steps")
    if family == "sdxl":
        return ModelDefaults(30, 6.0, "DPM++ 2M Karras", w, h)
    return ModelDefaults(25, 7.0, "Euler a", w, h)


def check_seed(seed) -> None:
    """UserError unless `seed` is -1 (random) or a whole number from 0 to 2^64 - 1."""
    from app.core.errors import UserError

    if isinstance(seed, bool) or not isinstance(seed, int):
        raise UserError(f"Seed {seed!r} is not a whole number: use 0 to {MAX_SEED}, or -1 for a random seed.")
    if seed < RANDOM_SEED:
        raise UserError(f"Seed {seed} is negative: use 0 to {MAX_SEED}, or -1 for a random seed.")
    if seed > MAX_SEED:
        raise UserError(f"Seed {seed} is too large: seeds go from 0 to {MAX_SEED} (2^64 - 1); -1 picks a random one.")


def seed_note(seed: int) -> str:
    """What a user should know about a seed above 2^32 - 1: torch's CPU generator (Hearth's, so that a seed makes
    the same image on every device, as in diffusers' examples) seeds its Mersenne Twister with the low 32 bits."""
    if seed < 2**32:
        return ""
    return (f"Seed {seed} draws the same noise as seed {seed % 2**32}: torch's CPU random generator, which Hearth "
            "uses so that a seed gives the same image on every device, reads only a seed's low 32 bits.")


def parse_size(text: str) -> tuple[int, int]:
    """"WxH" → (W, H); "auto" or "Match image" → (0, 0), the starting image's aspect ratio. UserError otherwise."""
    from app.core.errors import UserError

    if text.strip().lower() in ("auto", "match", AUTO_SIZE.lower()):
        return 0, 0
    try:
        w, h = (int(v) for v in text.lower().replace("×", "x").split("x"))
    except ValueError:
        raise UserError(f"Size {text!r} is not WIDTHxHEIGHT, for example 512x512.") from None
    if w <= 0 or h <= 0 or w % 8 or h % 8:
        raise UserError(f"Size {w}x{h} must be positive multiples of 8 (for example 512x512).")
    return w, h
