"""Images' entry: the image engine holds the loaded pipelines across jobs and runs one generation request per job.

    engine = ImageEngine(settings.images)
    ctx.jobs.submit(Job(engine.generate, ImageRequest(params), name="Generate image", resource=RESOURCE))

Partial results (state.partial): a Note for each thing decided for the user (size, long prompt, seed) before the
first step, a Preview at each denoising step, and the GeneratedImage when an image is saved.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from app.core import connections, paths
from app.core.errors import JobCancelled, UserError
from app.core.images import policy
from app.core.images.loader import PipelineCache
from app.core.images.metadata import save_png
from app.core.images.params import CONTROL_KINDS, MODES, SCHEDULERS, MAX_SEED, GenerationParams, check_seed, seed_note
from app.core.images.previews import Previewer

log = logging.getLogger(__name__)

RESOURCE = "image-model"


@dataclass
class ImageRequest:
    """One generation: the parameters, where to save (a PNG path; "" = the images folder) and whether to preview."""

    params: GenerationParams
    out: str = ""  # a file path (CLI); empty: images_dir()/<date>/<time>-<seed>.png
    previews: bool = True


@dataclass(frozen=True)
class Preview:
    """Partial: what image `index` (0-based, of the batch) looks like after `step` of `steps` denoising steps."""

    image: object  # H x W x 3 uint8 numpy array (TAESD or the latent→RGB approximation; smaller than the result)
    step: int
    steps: int
    index: int


@dataclass(frozen=True)
class Note:
    """Partial: one sentence on what Hearth decided for the user before generating (the size kept from the starting
    image, a long prompt encoded in chunks, the random seed picked). Sent before the first step; also kept in
    GeneratedImage.notes."""

    text: str


@dataclass
class GeneratedImage:
    """A saved image (also sent as a partial when it is saved): its PNG, the seed and parameters it was made with,
    seconds it took and each step's seconds."""

    path: Path
    seed: int
    params: GenerationParams
    seconds: float = 0.0
    step_seconds: list = field(default_factory=list)
    notes: list = field(default_factory=list)  # what Hearth decided for the user (size kept, prompt chunked…)


def make_scheduler(name: str, config):
    """The diffusers scheduler named `name` (a key of params.SCHEDULERS: "Euler a", "DPM++ 2M Karras"…) built from
    a pipeline's scheduler config. Raises UserError for an unknown name."""
    import diffusers

    if name not in SCHEDULERS:
        raise UserError(f"Unknown scheduler {name!r}. Choose one of: {', '.join(SCHEDULERS)}.")
    cls_name, extra = SCHEDULERS[name]
    return getattr(diffusers, cls_name).from_config(config, **extra)


def validate(params: GenerationParams) -> None:
    """Check `params` before anything loads. UserError, one sentence, for: no model; an unknown mode, control kind or
    scheduler; steps outside 1..200; guidance (CFG scale) outside 0..30; a bad seed; a size that is not 0 x 0 (auto) or
    multiples of 8 of at least 64, or above 2048 x 2048 pixels; a missing starting image, mask, ControlNet or control
    image; strength outside (0, 1]; batch count outside 1..100."""
    if not params.model:
        raise UserError("Choose an image model first (an installed one, or open a .safetensors file).")
    if params.mode not in MODES:
        raise UserError(f"Unknown mode {params.mode!r}: use txt2img, img2img or inpaint.")
    if not 1 <= params.steps <= 200:
        raise UserError(f"Steps must be between 1 and 200 (got {params.steps}).")
    if not 0 <= params.guidance <= 30:
        raise UserError(f"Guidance must be between 0 and 30 (got {params.guidance:g}).")
    check_seed(params.seed)
    if (params.width, params.height) == (0, 0):
        pass  # auto: the starting / control image's aspect ratio (images/inputs.py)
    elif params.width % 8 or params.height % 8 or params.width < 64 or params.height < 64:
        raise UserError(f"Size {params.width}x{params.height} must be multiples of 8, at least 64.")
    if params.width * params.height > 2048 * 2048:
        raise UserError(f"Size {params.width}x{params.height} is larger than Hearth allows (2048x2048).")
    if params.mode in ("img2img", "inpaint"):
        if not params.init_image:
            raise UserError(f"{params.mode} needs a starting image (--init IMAGE).")
        if not 0 < params.strength <= 1:
            raise UserError(f"Strength must be above 0 and at most 1 (got {params.strength:g}).")
    if params.mode == "inpaint" and not params.mask_image:
        raise UserError("Inpainting needs a mask (white where the image should change).")
    if params.control:
        if params.control not in CONTROL_KINDS:
            raise UserError(f"Unknown control {params.control!r}: use canny, depth or scribble.")
        if not params.controlnet:
            raise UserError(f"{params.control} control needs a ControlNet model (--controlnet PATH).")
        if not params.control_image:
            raise UserError(f"{params.control} control needs a control image (--control-image IMG).")
    if not 1 <= params.batch_count <= 100:
        raise UserError(f"Batch count must be between 1 and 100 (got {params.batch_count}).")
    if params.scheduler not in SCHEDULERS:
        raise UserError(f"Unknown scheduler {params.scheduler!r}. Choose one of: {', '.join(SCHEDULERS)}.")


def output_path(seed: int, index: int = 0) -> Path:
    """A new file images_dir()/<YYYY-MM-DD>/<HHMMSS>-<seed>[-n].png that does not exist yet."""
    day = time.strftime("%Y-%m-%d")
    stamp = time.strftime("%H%M%S")
    folder = paths.images_dir() / day
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{stamp}-{seed}.png"
    n = 1
    while path.exists():
        path = folder / f"{stamp}-{seed}-{n}.png"
        n += 1
    return path


def save_result(request: ImageRequest, image, seed: int, index: int, state, seconds: float = 0.0,
                step_seconds: list | None = None, notes: list | None = None) -> GeneratedImage:
    """Save image `index` of a request (PIL) with its parameters and seed (request.out, numbered in a batch, or a
    new file in the images folder), with the `notes` of what was decided for the user; send it as a partial and
    return it. Raises UserError when it cannot be saved."""
    params = request.params
    out = Path(request.out) if request.out else output_path(seed, index)
    if request.out and params.batch_count > 1:
        out = out.with_name(f"{out.stem}-{index + 1}{out.suffix}")
    recorded = GenerationParams.from_dict({**params.to_dict(), "seed": seed, "batch_count": 1,
                                           "width": image.width, "height": image.height})
    try:
        save_png(image, out, recorded, seed)
    except OSError as exc:
        raise UserError(f"Could not save the image to {out}: {exc.strerror or exc}.") from None
    result = GeneratedImage(out, seed, recorded, seconds, step_seconds or [], list(notes or []))
    state.partial(result)
    return result


class ImageEngine:
    """Holds the loaded pipelines (diffusers, github.com/huggingface/diffusers) across jobs; `generate` is the job
    the Images tab and `hearth image` run under RESOURCE."""

    def __init__(self, settings=None) -> None:
        self.settings = settings  # an ImagesSettings (or None: defaults)
        self.cache = PipelineCache()
        self.previewer = Previewer(getattr(settings, "preview", "auto"))
        self.last_plan: policy.DevicePlan | None = None

    @property
    def allow_pickle(self) -> bool:
        """Pickle checkpoints (.ckpt/.bin/.pt) may be opened (weights-only) — off by default."""
        return bool(getattr(self.settings, "allow_pickle", False))

    def plan_for(self, params: GenerationParams, family: str = "sd1") -> policy.DevicePlan:
        """Device, dtype and memory savers for an image of params' size (policy.choose)."""
        return policy.choose(self.settings, family, params.width * params.height)

    def load(self, params: GenerationParams, state=None):
        """Load params.model (or reuse the loaded one); returns the loader's LoadedModel. Raises UserError for a
        file that is missing, refused (pickle) or not a known Stable Diffusion family."""
        if state is not None:
            state.progress(None, f"Loading {params.model_name}…")
        plan = self.plan_for(params)
        model = self.cache.load(params.model, plan, self.allow_pickle, params.config)
        self.last_plan = model.plan
        return model

    def generate(self, request: ImageRequest | GenerationParams, state) -> list[GeneratedImage]:
        """Job function: load (or reuse) the model and make `batch_count` images. Returns them, saved. A model on
        a connection ("remote:CONNECTION/MODEL") makes them on that server (images/remote.py)."""
        import torch

        if isinstance(request, GenerationParams):
            request = ImageRequest(request)
        params = request.params
        validate(params)
        if connections.is_remote(params.model):  # another Hearth makes them (images/remote.py)
            return self._generate_remote(request, state)
        self.previewer.mode = getattr(self.settings, "preview", "auto") if request.previews else "off"
        self.previewer.begin()
        state.check()
        model = self.load(params, state)
        state.check()
        from app.core.images import inputs, preprocess, prompts

        fitted = inputs.prepare(params, model.family, model.base)  # opens and fits the pictures; resolves size "auto"
        params = dataclasses.replace(params, width=fitted.width, height=fitted.height)  # the size recorded
        init, mask, control = fitted.init, fitted.mask, None
        controlnet = None
        if params.control:
            control = preprocess.preprocess(params.control, fitted.control, params.canny_low, params.canny_high)
            controlnet = self.cache.controlnet(params.controlnet, model.family, model.plan, self.allow_pickle)
        self.cache.apply_loras(params.loras, self.allow_pickle)
        pipe = self.cache.pipeline(params.mode, controlnet, params.controlnet)
        pipe.scheduler = make_scheduler(params.scheduler, pipe.scheduler.config)
        text = prompts.prompt_inputs(pipe, params.prompt, params.negative_prompt)  # long prompts: 75-token chunks
        first_seed = params.resolved_seed()
        notes = [n for n in (*fitted.notes, text.note, seed_note(first_seed)) if n]
        for note in notes:
            state.partial(Note(note))
        results: list[GeneratedImage] = []
        for index in range(params.batch_count):
            state.check()
            seed = (first_seed + index) % (MAX_SEED + 1)
            started = time.perf_counter()
            step_times: list[float] = []
            last = [started]

            def on_step(p, step, timestep, kwargs, index=index):
                now = time.perf_counter()
                step_times.append(now - last[0])
                last[0] = now
                if state.cancelled:
                    raise JobCancelled()
                total = max(1, int(getattr(p, "_num_timesteps", 0) or params.steps))
                done = (index + (step + 1) / total) / params.batch_count
                state.progress(done, f"image {index + 1}/{params.batch_count}, step {step + 1}/{total}")
                if request.previews and "latents" in kwargs:
                    image = self.previewer.preview(kwargs["latents"], model.family, model.plan.device)
                    if image is not None:
                        state.partial(Preview(image, step + 1, total, index))
                return kwargs

            call = dict(
                **text.kwargs,
                num_inference_steps=params.steps,
                guidance_scale=params.guidance,
                generator=torch.Generator("cpu").manual_seed(seed),
                callback_on_step_end=on_step,
                callback_on_step_end_tensor_inputs=["latents"],
                output_type="pil",
            )
            if params.mode == "txt2img" or params.mode == "inpaint":
                call.update(width=params.width, height=params.height)
            if init is not None:
                call.update(image=init, strength=params.strength)
            if mask is not None:
                call["mask_image"] = mask
            if control is not None:
                call["image" if params.mode == "txt2img" else "control_image"] = control
                call["controlnet_conditioning_scale"] = params.control_scale
            state.progress(index / params.batch_count, f"image {index + 1}/{params.batch_count}")
            image = pipe(**call).images[0]
            state.check()
            results.append(save_result(request, image, seed, index, state, time.perf_counter() - started,
                                       step_times, notes))
        state.progress(1.0, f"{len(results)} image{'s' if len(results) != 1 else ''} saved")
        return results

    def _generate_remote(self, request: ImageRequest, state) -> list[GeneratedImage]:
        """Images made on the connection params.model names (images/remote.py), saved here."""
        from app.core.images import remote

        made = remote.fetch(request.params, state)
        results = [save_result(request, image, seed, index, state) for index, (image, seed) in enumerate(made)]
        state.progress(1.0, f"{len(results)} image{'s' if len(results) != 1 else ''} saved")
        return results

    def free(self) -> None:
        """Drop the loaded pipelines (and their GPU memory)."""
        self.cache.free()
