"""Loads a checkpoint once and hands out pipelines for every mode that share its components.

txt2img, img2img, inpaint and their ControlNet variants of one checkpoint are built from the same UNet / VAE /
text encoders (`cls(**components)` copies nothing), so switching mode costs no reload. ControlNets and LoRAs are
cached too. Everything here runs on a job thread; the cache is used by one job at a time (resource "image-model").
"""

from __future__ import annotations

import inspect
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from app.core import paths
from app.core.errors import UserError
from app.core.images import families, safety
from app.core.images.policy import DevicePlan

log = logging.getLogger(__name__)

_CLASSES = {
    # (sdxl, mode, controlnet) → diffusers class name
    (False, "txt2img", False): "StableDiffusionPipeline",
    (False, "img2img", False): "StableDiffusionImg2ImgPipeline",
    (False, "inpaint", False): "StableDiffusionInpaintPipeline",
    (False, "txt2img", True): "StableDiffusionControlNetPipeline",
    (False, "img2img", True): "StableDiffusionControlNetImg2ImgPipeline",
    (False, "inpaint", True): "StableDiffusionControlNetInpaintPipeline",
    (True, "txt2img", False): "StableDiffusionXLPipeline",
    (True, "img2img", False): "StableDiffusionXLImg2ImgPipeline",
    (True, "inpaint", False): "StableDiffusionXLInpaintPipeline",
    (True, "txt2img", True): "StableDiffusionXLControlNetPipeline",
    (True, "img2img", True): "StableDiffusionXLControlNetImg2ImgPipeline",
    (True, "inpaint", True): "StableDiffusionXLControlNetInpaintPipeline",
}


def _offline() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    try:
        from diffusers.utils import logging as dlog
        from transformers.utils import logging as tlog

        dlog.disable_progress_bar()
        tlog.disable_progress_bar()
    except Exception:  # noqa: BLE001 - cosmetic
        pass


def _torch_dtype(plan: DevicePlan):
    import torch

    return torch.float16 if plan.dtype == "float16" else torch.float32


def _dtype_kwargs(dtype) -> dict:
    """The from_pretrained/from_single_file keyword for `dtype`: diffusers 0.42 renamed `torch_dtype` to `dtype`
    (the old name prints a FutureWarning on every load); older releases only know `torch_dtype`."""
    import diffusers

    try:
        major, minor = (int(x) for x in diffusers.__version__.split(".")[:2])
    except ValueError:
        return {"torch_dtype": dtype}
    return {"dtype": dtype} if (major, minor) >= (0, 42) else {"torch_dtype": dtype}


def _describe_load_error(path: Path, exc: Exception) -> UserError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if len(text) > 300:
        text = text[:300] + "…"
    return UserError(f"Could not load {path.name}: {text}. The file may be incomplete, corrupt, or not a "
                     "Stable Diffusion model.")


@dataclass
class LoadedModel:
    """A loaded checkpoint: its cache `key` (path, device, dtype, CPU offload, config), `path`, `family`, DevicePlan,
    the txt2img pipeline `base` whose components every mode shares, the `pipelines` built from it per (mode,
    ControlNet), the applied `loras` ((path, weight), ...) and the pipeline holding the CPU-offload hooks."""

    key: tuple
    path: Path
    family: str
    plan: DevicePlan
    base: object  # the txt2img pipeline whose components everything shares
    pipelines: dict = field(default_factory=dict)  # (mode, controlnet path) → pipeline
    loras: tuple = ()
    offloaded_for: object = None


class PipelineCache:
    """Holds one loaded checkpoint (and one ControlNet) with its pipelines per mode; `loads` counts how many times a
    checkpoint was actually read. Used by one job at a time."""

    def __init__(self) -> None:
        self.model: LoadedModel | None = None
        self._controlnets: dict[tuple, object] = {}
        self.loads = 0  # how many times a checkpoint was actually read (tests and the benchmark check reuse)

    # ---- checkpoints -------------------------------------------------------------------------------------------
    def load(self, model_path: str, plan: DevicePlan, allow_pickle: bool = False, config: str = "") -> LoadedModel:
        """Load the checkpoint at `model_path` (a diffusers folder or a single file; pickle files only with
        `allow_pickle`, converted to safetensors first) placed as `plan` says, or return the loaded one when path,
        device, dtype, offload and `config` (a config folder for a single file; default the family's shipped one) match.
        UserError for a missing, unsafe, unrecognised or unloadable model."""
        _offline()
        path = safety.check_model_path(model_path, allow_pickle, "Model")
        key = (str(path), plan.device, plan.dtype, plan.cpu_offload, config)
        if self.model is not None and self.model.key == key:
            return self.model
        self.free()
        dtype = _torch_dtype(plan)
        if path.is_dir():
            family = families.family_of_folder(path)
            base = self._load_folder(path, family, dtype, allow_pickle)
        else:
            source = path
            if path.suffix.lower() != ".safetensors":
                source = safety.pickle_to_safetensors(path, paths.cache_dir() / "converted")
            keys = families.safetensors_keys(source)
            family = families.family_of_keys(keys, path.name)
            config_dir = Path(config) if config else families.assembled_config(family, families.unet_in_channels(keys))
            base = self._load_single_file(source, family, config_dir, dtype)
        self._place(base, plan)
        self.loads += 1
        self.model = LoadedModel(key=key, path=path, family=family, plan=plan, base=base)
        log.info("loaded %s (%s) on %s", path.name, family, plan.describe())
        return self.model

    def _load_folder(self, path: Path, family: str, dtype, allow_pickle: bool):
        from diffusers import DiffusionPipeline

        has_safe = any(path.rglob("*.safetensors"))
        kwargs = dict(**_dtype_kwargs(dtype), local_files_only=True, use_safetensors=has_safe or not allow_pickle)
        if family != "sdxl":
            kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        try:
            return DiffusionPipeline.from_pretrained(str(path), **kwargs)
        except Exception as exc:  # missing files, wrong shapes, unreadable weights
            raise _describe_load_error(path, exc) from exc

    def _load_single_file(self, path: Path, family: str, config_dir: Path, dtype):
        import diffusers

        cls = diffusers.StableDiffusionXLPipeline if family == "sdxl" else diffusers.StableDiffusionPipeline
        kwargs = {}
        if family != "sdxl":
            kwargs.update(safety_checker=None, feature_extractor=None, requires_safety_checker=False)
        try:
            return cls.from_single_file(str(path), config=str(config_dir), local_files_only=True,
                                        **_dtype_kwargs(dtype), **kwargs)
        except Exception as exc:
            raise _describe_load_error(path, exc) from exc

    @staticmethod
    def _place(pipe, plan: DevicePlan) -> None:
        if plan.cpu_offload and plan.device == "cuda":
            pipe.enable_model_cpu_offload()
        else:
            pipe.to(plan.device)
        if plan.attention_slicing:
            pipe.enable_attention_slicing()
        vae = getattr(pipe, "vae", None)
        if vae is not None:
            if plan.vae_slicing and hasattr(vae, "enable_slicing"):
                vae.enable_slicing()
            if plan.vae_tiling and hasattr(vae, "enable_tiling"):
                vae.enable_tiling()
        pipe.set_progress_bar_config(disable=True)

    # ---- ControlNet --------------------------------------------------------------------------------------------
    def controlnet(self, cn_path: str, family: str, plan: DevicePlan, allow_pickle: bool = False):
        """The ControlNet at `cn_path` (a diffusers folder, or a single file built with the family's shipped ControlNet
        config) on `plan`'s device; the last one is kept for reuse. UserError for a missing, unsafe or unloadable
        model."""
        _offline()
        path = safety.check_model_path(cn_path, allow_pickle, "ControlNet")
        key = (str(path), plan.device, plan.dtype)
        if key in self._controlnets:
            return self._controlnets[key]
        from diffusers import ControlNetModel

        dtype = _torch_dtype(plan)
        try:
            if path.is_dir():
                model = ControlNetModel.from_pretrained(str(path), **_dtype_kwargs(dtype), local_files_only=True,
                                                        use_safetensors=any(path.glob("*.safetensors")))
            else:
                source = path if path.suffix.lower() == ".safetensors" else \
                    safety.pickle_to_safetensors(path, paths.cache_dir() / "converted")
                cfg_family = "sd2" if family.startswith("sd2") else family
                config = families.resources_dir() / "images" / "configs" / f"controlnet-{cfg_family}"
                model = ControlNetModel.from_single_file(str(source), config=str(config), local_files_only=True,
                                                         **_dtype_kwargs(dtype))
        except UserError:
            raise
        except Exception as exc:
            raise _describe_load_error(path, exc) from exc
        if not (plan.cpu_offload and plan.device == "cuda"):
            model.to(plan.device)
        self._controlnets.clear()  # keep one: they are as big as a UNet
        self._controlnets[key] = model
        return model

    # ---- pipelines per mode ------------------------------------------------------------------------------------
    def pipeline(self, mode: str, controlnet=None, controlnet_key: str = ""):
        """The diffusers pipeline for `mode` (txt2img | img2img | inpaint), with `controlnet` when given
        (`controlnet_key` names it in the cache), built from the loaded model's components without copying them. Call
        `load` first (AssertionError otherwise)."""
        import diffusers

        model = self.model
        assert model is not None, "load() first"
        key = (mode, controlnet_key if controlnet is not None else "")
        pipe = model.pipelines.get(key)
        if pipe is None:
            if mode == "txt2img" and controlnet is None:
                pipe = model.base
            else:
                cls = getattr(diffusers, _CLASSES[(model.family == "sdxl", mode, controlnet is not None)])
                components = dict(model.base.components)
                if controlnet is not None:
                    components["controlnet"] = controlnet
                params = inspect.signature(cls.__init__).parameters
                kwargs = {name: components.get(name) for name in params if name != "self"
                          and params[name].kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
                          and (name in components or params[name].default is inspect.Parameter.empty)}
                if "requires_safety_checker" in params:
                    kwargs["requires_safety_checker"] = False
                pipe = cls(**kwargs)
                pipe.set_progress_bar_config(disable=True)
            model.pipelines[key] = pipe
        if model.plan.cpu_offload and model.plan.device == "cuda" and model.offloaded_for is not pipe:
            pipe.enable_model_cpu_offload()  # hooks are per pipeline: move them to the one about to run
            model.offloaded_for = pipe
        return pipe

    # ---- LoRA --------------------------------------------------------------------------------------------------
    def apply_loras(self, loras: list[tuple[str, float]], allow_pickle: bool = False) -> None:
        """Make `loras` [(path, weight)] the LoRAs applied to the loaded model, unloading others (nothing to do when
        they already are). UserError for a missing or unsafe file or one that does not fit the model's family; no LoRA
        stays applied then."""
        model = self.model
        assert model is not None
        wanted = tuple((str(Path(p).expanduser().resolve()), float(w)) for p, w in loras)
        if wanted == model.loras:
            return
        base = model.base
        if model.loras:
            base.unload_lora_weights()
            model.loras = ()
        if not wanted:
            return
        names = []
        for i, (lora_path, _weight) in enumerate(wanted):
            path = safety.check_model_path(lora_path, allow_pickle, "LoRA")
            try:
                base.load_lora_weights(str(path), adapter_name=f"lora{i}")
            except Exception as exc:
                base.unload_lora_weights()
                raise UserError(f"Could not apply LoRA {path.name}: {str(exc).splitlines()[0][:300]}. "
                                f"Is it a LoRA for {families.FAMILY_NAMES[model.family]}?") from exc
            names.append(f"lora{i}")
        base.set_adapters(names, adapter_weights=[w for _p, w in wanted])
        model.loras = wanted

    def free(self) -> None:
        """Drop the loaded model and ControlNet and release their memory (garbage collection, the CUDA cache)."""
        if self.model is None:
            return
        self.model = None
        self._controlnets.clear()
        import gc

        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except Exception:  # noqa: BLE001 - freeing memory is best effort
            pass
