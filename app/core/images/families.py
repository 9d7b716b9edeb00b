"""Model families (SD 1.x, SD 2.x base / 768-v, SDXL) and the offline config folders handed to diffusers.

A single-file checkpoint holds weights only. diffusers needs the matching configs (model_index, unet, vae, text
encoder, scheduler, tokenizer) to build the pipeline; Hearth ships them in `resources/images/configs/<family>/` and
passes the folder as `config=`, so the hub is never asked.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from app.core import paths
from app.core.errors import UserError
from app.core.resources import resources_dir

FAMILIES = ("sd1", "sd2-base", "sd2-v", "sdxl")
FAMILY_NAMES = {"sd1": "SD 1.x", "sd2-base": "SD 2.x (512)", "sd2-v": "SD 2.x (768-v)", "sdxl": "SDXL"}


def shipped_config(family: str) -> Path:
    """The config folder Hearth ships for `family` (resources/images/configs/<family>/); existence is not checked here
    (assembled_config does)."""
    return resources_dir() / "images" / "configs" / family


def safetensors_keys(path: Path) -> dict[str, list[int]]:
    """{tensor name: shape} from the header only (no weights read)."""
    from app.core.images.safety import check_safetensors

    header = check_safetensors(path)
    return {k: v.get("shape", []) for k, v in header.items() if k != "__metadata__"}


def family_of_keys(keys: dict[str, list[int]], name: str = "") -> str:
    """The family of a single-file checkpoint from its tensor names (`keys`: {name: shape}): 'sdxl' by its second text
    encoder, SD 2.x by its OpenCLIP encoder ('sd2-v' unless `name` says base, turbo or 512: then 'sd2-base'), else
    'sd1'. UserError when it holds no UNet weights (model.diffusion_model.*)."""
    if not any(k.startswith("model.diffusion_model.") for k in keys):
        raise UserError(
            f"{name or 'This file'} is not a Stable Diffusion checkpoint (no UNet weights). "
            "If it is a LoRA, VAE or ControlNet, load it in that slot instead."
        )
    if any(k.startswith("conditioner.embedders.1.") for k in keys):
        return "sdxl"
    if any(k.startswith("cond_stage_model.model.") for k in keys):
        lowered = name.lower()
        return "sd2-base" if any(t in lowered for t in ("base", "turbo", "512")) else "sd2-v"
    return "sd1"


def unet_in_channels(keys: dict[str, list[int]]) -> int:
    """The UNet's input channels from its first convolution's shape (4; 9 for an inpainting UNet), 4 when that tensor is
    absent."""
    shape = keys.get("model.diffusion_model.input_blocks.0.0.weight") or [0, 4]
    return int(shape[1]) if len(shape) > 1 else 4


def family_of_folder(folder: Path) -> str:
    """The family of a diffusers pipeline folder: SDXL by model_index.json, else by the UNet's cross_attention_dim
    (1024: SD 2.x, 'sd2-v' when the scheduler predicts v; 2048: SDXL; otherwise 'sd1'). UserError without a readable
    model_index.json."""
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise UserError(f"{folder.name} has no readable model_index.json; it is not a diffusers pipeline folder.") from None
    if "XL" in str(index.get("_class_name", "")) or "text_encoder_2" in index:
        return "sdxl"
    try:
        unet = json.loads((folder / "unet" / "config.json").read_text(encoding="utf-8"))
        cross = unet.get("cross_attention_dim")
    except (OSError, ValueError):
        cross = None
    if cross == 1024:
        try:
            sched = json.loads((folder / "scheduler" / "scheduler_config.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            sched = {}
        return "sd2-v" if sched.get("prediction_type") == "v_prediction" else "sd2-base"
    if cross == 2048:
        return "sdxl"
    return "sd1"


def detect_family(path: Path) -> str:
    """The family (one of FAMILIES) of a diffusers folder or a .safetensors file (read from its header only); other
    single files are taken as 'sd1'. UserError (IncompleteFile for a truncated file) as family_of_folder, family_of_keys
    and safety.check_safetensors raise."""
    path = Path(path)
    if path.is_dir():
        return family_of_folder(path)
    if path.suffix.lower() == ".safetensors":
        return family_of_keys(safetensors_keys(path), path.name)
    return "sd1"


CLIP_BPE = "bpe_simple_vocab_16e6.txt.gz"
CLIP_MERGES = 49152 - 256 - 2  # merges CLIP uses (the file has more)


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP / GPT-2's reversible byte -> printable character table."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def clip_tokenizer_from_bpe(bpe_gz: Path, out: Path) -> Path:
    """Write vocab.json + merges.txt (the files CLIPTokenizer reads) from CLIP's BPE merge list, built the way
    CLIP's SimpleTokenizer builds its vocabulary: bytes, bytes + '</w>', one token per merge, the two specials."""
    import gzip

    if (out / "vocab.json").is_file() and (out / "merges.txt").is_file():
        return out
    with gzip.open(bpe_gz, "rt", encoding="utf-8") as fh:
        lines = fh.read().split("\n")[1:CLIP_MERGES + 1]
    merges = [tuple(line.split()) for line in lines]
    vocab = list(_bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}, ensure_ascii=False),
                                    encoding="utf-8")
    (tmp / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n",
                                    encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out


def shipped_clip_bpe() -> Path:
    """Path of CLIP's BPE merge list in Hearth's resources (bpe_simple_vocab_16e6.txt.gz, from OpenAI's CLIP); existence
    is not checked here."""
    return resources_dir() / "images" / "tokenizer" / CLIP_BPE


def find_clip_tokenizer(extra: list[Path] | None = None) -> Path | None:
    """A folder with the CLIP BPE files (vocab.json + merges.txt): the same for every SD family. Hearth ships CLIP's
    BPE merge list and builds the pair from it when the user has no tokenizer of their own installed."""
    candidates = list(extra or [])
    candidates += [paths.models_dir() / "tokenizers" / "clip"]
    diffusion = paths.models_dir() / "diffusion"
    if diffusion.is_dir():
        candidates += sorted(p / "tokenizer" for p in diffusion.iterdir() if (p / "model_index.json").exists())
    for folder in candidates:
        if (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file() or (folder / "tokenizer.json").is_file():
            return folder
    bpe = shipped_clip_bpe()
    if bpe.is_file():
        return clip_tokenizer_from_bpe(bpe, paths.cache_dir() / "clip-tokenizer")
    return None


def has_tokenizer(config: Path) -> bool:
    """True when `config`/tokenizer holds vocab.json and merges.txt, or tokenizer.json."""
    tok = config / "tokenizer"
    return (tok / "vocab.json").is_file() and (tok / "merges.txt").is_file() or (tok / "tokenizer.json").is_file()


def assembled_config(family: str, in_channels: int = 4) -> Path:
    """The shipped config folder for `family`, completed with the CLIP tokenizer files and any per-file change
    (inpainting UNets take 9 input channels). Built once under the cache folder."""
    source = shipped_config(family)
    if not source.is_dir():
        raise UserError(f"Hearth's configs for {FAMILY_NAMES.get(family, family)} are missing from {source}; "
                        "reinstall Hearth.")
    tokenizer = find_clip_tokenizer()
    if tokenizer is None:
        raise UserError(
            "Loading a single-file checkpoint needs the CLIP tokenizer files (vocab.json and merges.txt, or "
            f"tokenizer.json), and Hearth's own copy ({CLIP_BPE}) is missing from its resources: reinstall Hearth, "
            f"install any Stable Diffusion model in diffusers format, or put those two files in "
            f"{paths.models_dir() / 'tokenizers' / 'clip'}."
        )
    key = hashlib.sha1(f"{source}|{in_channels}|{tokenizer}".encode()).hexdigest()[:12]
    out = paths.cache_dir() / "diffusion-configs" / f"{family}-{key}"
    if (out / "model_index.json").exists():
        return out
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(source, tmp)
    for sub in ("tokenizer", "tokenizer_2"):
        if (tmp / sub).is_dir():
            for name in ("vocab.json", "merges.txt", "tokenizer.json"):
                if (tokenizer / name).is_file():
                    shutil.copy2(tokenizer / name, tmp / sub / name)
    if in_channels != 4:
        unet_cfg = tmp / "unet" / "config.json"
        data = json.loads(unet_cfg.read_text(encoding="utf-8"))
        data["in_channels"] = in_channels
        unet_cfg.write_text(json.dumps(data, indent=2), encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)
    return out
