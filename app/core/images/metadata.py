"""PNG metadata: the A1111 `parameters` text chunk (what other tools read and write) plus a `hearth` JSON chunk.

`parameters` looks like:

    a cat in a hat
    Negative prompt: blurry
    Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 42, Size: 512x512, Model: sd15, Denoising strength: 0.75
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from app.core.errors import UserError
from app.core.images.params import SCHEDULERS, GenerationParams

# key: value pairs, values optionally double-quoted (A1111 quotes values that contain commas).
_PAIR = re.compile(r'\s*([\w ]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')
_LORA = re.compile(r"<lora:([^:>]+):([-\d.]+)>")


def _quote(value: str) -> str:
    if "," not in value and "\n" not in value and ":" not in value:
        return value
    return json.dumps(value)


def a1111_text(params: GenerationParams, seed: int) -> str:
    """The A1111 `parameters` text for `params` generated with `seed`: the prompt, a 'Negative prompt:' line, then
    'Steps: …, Sampler: …, CFG scale: …, Seed: …, Size: WxH, Model: …' plus the denoising strength, ControlNet and LoRA
    weights when used. `parse_a1111` reads it back."""
    lines = [params.prompt]
    if params.negative_prompt:
        lines.append(f"Negative prompt: {params.negative_prompt}")
    fields = [
        ("Steps", params.steps),
        ("Sampler", params.scheduler),
        ("CFG scale", f"{params.guidance:g}"),
        ("Seed", seed),
        ("Size", f"{params.width}x{params.height}"),
        ("Model", params.model_name),
    ]
    if params.mode != "txt2img":
        fields.append(("Denoising strength", f"{params.strength:g}"))
    if params.control:
        fields.append(("ControlNet", _quote(f"{params.control}, weight {params.control_scale:g}, "
                                            f"model {Path(params.controlnet).stem}")))
    if params.loras:
        fields.append(("Lora weights", _quote(", ".join(f"{Path(p).stem}: {w:g}" for p, w in params.loras))))
    lines.append(", ".join(f"{k}: {v}" for k, v in fields if v != ""))
    return "\n".join(lines)


def parse_a1111(text: str) -> GenerationParams:
    """Read an A1111-style `parameters` text into GenerationParams (unknown fields are ignored)."""
    lines = text.strip().split("\n")
    settings_line = ""
    if lines and _PAIR.findall(lines[-1]) and "Steps:" in lines[-1]:
        settings_line = lines.pop()
    prompt_lines, negative_lines, in_negative = [], [], False
    for line in lines:
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[len("Negative prompt:"):].strip()
        (negative_lines if in_negative else prompt_lines).append(line)
    params = GenerationParams(prompt="\n".join(prompt_lines).strip(), negative_prompt="\n".join(negative_lines).strip())
    values = {}
    for key, value in _PAIR.findall(settings_line):
        value = value.strip()
        if value.startswith('"') and value.endswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                value = value[1:-1]
        values[key.strip()] = value
    try:
        if "Steps" in values:
            params.steps = int(values["Steps"])
        if "CFG scale" in values:
            params.guidance = float(values["CFG scale"])
        if "Seed" in values:
            params.seed = int(values["Seed"])
        if "Size" in values:
            w, h = values["Size"].lower().split("x")
            params.width, params.height = int(w), int(h)
        if "Denoising strength" in values:
            params.strength = float(values["Denoising strength"])
    except ValueError:
        pass  # a malformed field keeps its default; the rest still applies
    sampler = values.get("Sampler", "")
    schedule = values.get("Schedule type", "")
    if schedule.lower() == "karras" and f"{sampler} Karras" in SCHEDULERS:
        sampler = f"{sampler} Karras"
    if sampler in SCHEDULERS:
        params.scheduler = sampler
    if values.get("Model"):
        params.model = values["Model"]
    params.loras = [(name, float(weight)) for name, weight in _LORA.findall(params.prompt)]
    return params


def save_png(image, path: Path, params: GenerationParams, seed: int) -> Path:
    """Save a PIL image with both chunks. Written to a temporary name, then renamed: never a half-written PNG."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", a1111_text(params, seed))
    data = params.to_dict()
    data["seed"] = seed
    info.add_text("hearth", json.dumps({"version": 1, "params": data}))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    image.save(tmp, format="PNG", pnginfo=info)
    tmp.replace(path)
    return path


def read_png(path: Path) -> tuple[GenerationParams, str]:
    """Parameters embedded in a PNG: Hearth's own chunk when there is one, otherwise A1111 `parameters`.

    Returns (params, source) where source is "hearth" or "a1111". UserError when the file has neither.
    """
    from app.core import imageio

    with imageio.opened(path) as img:  # one-sentence errors; images over the pixel limit refused from the header
        img.load()  # text chunks after the pixel data are read with them
        text = dict(getattr(img, "text", {}) or img.info)
    if isinstance(text.get("hearth"), str):
        try:
            data = json.loads(text["hearth"])
            return GenerationParams.from_dict(data["params"]), "hearth"
        except (ValueError, KeyError, TypeError):
            pass  # fall back to the A1111 text
    if isinstance(text.get("parameters"), str) and text["parameters"].strip():
        return parse_a1111(text["parameters"]), "a1111"
    raise UserError(f"{Path(path).name} carries no generation parameters (no `parameters` text in the PNG).")
