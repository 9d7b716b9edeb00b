"""Models' entry: the jobs the Models tab and `hearth models` run — import, download, quantize, convert to fp16,
search Hugging Face, detect this computer's memory, plan and download the starter set (Get started) — and the
resources they name. Each is `fn(inputs, state)`.

Imports of the modules doing the work happen inside the jobs: the window imports this module at start-up.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import UserError

log = logging.getLogger(__name__)

IMPORT = "models-import"  # one import at a time (copies can be many GB)
STARTER = "models-starter"  # one starter-set download at a time
CONVERT = "models-convert"
CHECK = "models-check"  # reading installed models' headers for the Installed list
QUANTIZE = "quantize"


def download_resource(spec_id: str) -> str:
    """The resource of the download `spec_id`: the same file is never fetched twice at once, others run in
    parallel."""
    return f"download:{spec_id}"


@dataclass
class ImportRequest:
    """A model file or folder to copy (or link) into the models folder; kind None: told from the file."""

    path: str
    kind: str | None = None
    link: bool = False


def import_model(request: ImportRequest, state):
    """Job: copy (or symlink) the model into `<models>/<kind>/`; returns the registered InstalledModel. A chat
    GGUF with a vision projector (mmproj) beside it brings the projector along, recorded as its pair, as a
    catalog download does. Raises UserError (missing file, unknown kind, already installed, no space) or
    JobCancelled (nothing is left behind)."""
    from app.core.models import registry

    model = registry.import_model(request.path, kind=request.kind, link=request.link, state=state)
    if model.kind == "chat" and model.format == "gguf":
        try:
            _import_projector(Path(request.path).expanduser(), model, request.link, state)
        except UserError as exc:  # the model itself is installed: say why its projector is not, keep the model
            state.progress(1.0, f"{model.name} installed; its projector was not: {exc}")
            log.warning("projector beside %s not imported: %s", request.path, exc)
    return model


def _import_projector(source: Path, model, link: bool, state) -> None:
    """Install the projector found beside `source` (vision/pairing.find_projector) and pair it with `model`; one
    already installed under the same name is paired as it is."""
    from app.core.models import registry
    from app.core.vision import pairing

    found = pairing.find_projector(source)
    if found is None:
        return
    installed = next((m for m in registry.installed("mmproj") if m.path.name == found.path.name), None)
    if installed is None:
        # into the chat folder, beside its model (the registry lists it as kind "mmproj", never as a chat model)
        installed = registry.import_model(found.path, kind="chat", link=link, state=state)
    pairing.record_projector(model.path, installed.path)


def check_installed(models: list, state) -> dict[str, str]:
    """{model id: why it is not a whole model} for the installed `models` (registry.InstalledModel) that are
    truncated or damaged; headers only (validate.py), checked one by one so the job can be cancelled between."""
    found: dict[str, str] = {}
    for i, model in enumerate(models):
        state.check()
        state.progress(i / max(1, len(models)), f"checking {model.name}")
        problem = model.problem
        if problem:
            found[model.id] = problem
    return found


def download(spec, state):
    """Job: fetch a DownloadSpec (resuming a partial download), verify its SHA-256 and size, and install it;
    returns the InstalledModel. Cancelling pauses (the partial data is kept). Raises UserError (no network, no
    space, checksum mismatch: the file goes to quarantine)."""
    from app.core.models import downloads

    return downloads.download_job(spec, state)


def quantize(inputs: dict, state):
    """Job: {"src": F32/F16/BF16 GGUF, "type": "Q4_K_M"…, "out": optional path} → the registered quantized GGUF,
    made by llama.cpp's quantizer in a child process (cancelling stops it and leaves nothing)."""
    from app.core.models import quantize as quantizer

    return quantizer.quantize(inputs, state)


def convert_fp16(inputs: dict, state) -> Path:
    """Job: {"src": a diffusion .safetensors file or diffusers folder, "out": optional} → its fp16 copy (about half
    the size). A copy made inside the models folder is recorded as converted from its source, with precision
    fp16, so the Models tab shows where it came from. Raises UserError for pickle files or an existing output."""
    from app.core import paths
    from app.core.models import convert, registry

    out = Path(convert.to_fp16(inputs, state))
    if paths.models_dir().resolve() in out.resolve().parents:
        registry.record_source(out, {"converted_from": str(inputs["src"]), "precision": "fp16"})
    return out


def search_hub(query: str, state, limit: int = 25):
    """Job: GGUF repositories on Hugging Face matching `query` (HubRepo list, most downloaded first). Raises
    UserError ("No network …") when the hub cannot be reached."""
    from app.core.models import hub

    state.progress(None, f"Searching Hugging Face for '{query}'")
    return hub.search_gguf(query, limit=limit)


def list_hub_files(repo_id: str, state):
    """Job: the .gguf files of a Hugging Face repository (HubFile list with size and quantization)."""
    from app.core.models import hub

    state.progress(None, f"Listing {repo_id}")
    return hub.gguf_files(repo_id)


def detect_memory(_inputs, state):
    """Job: this computer's RAM/VRAM as fit.Memory, for the catalog's fits / tight / won't fit labels."""
    from app.core import devices
    from app.core.models import fit

    state.progress(None, "Detecting memory")
    return fit.Memory.from_device(devices.detect())


@dataclass
class StarterPlan:
    """What Get started shows: the starter set for this computer (starter.StarterSet), the speed measured by the
    last download (bytes/s, None before any) and, when the model hub cannot be reached, why in a few words
    ("could not reach huggingface.co"; "" when it can)."""

    starter: object
    speed_bps: float | None
    offline: str = ""


def plan_starter(_inputs, state) -> StarterPlan:
    """Job: read this computer's memory and free disk, choose the starter set, and check the network (a quick
    connection to the model hub; nothing is downloaded)."""
    from urllib.parse import urlparse

    from app.core.models import hub, starter

    state.progress(None, "Looking at this computer")
    chosen = starter.choose(starter.Machine.detect())
    offline = ""
    if chosen.to_download:
        try:
            hub.probe()
        except hub.NoNetwork:
            offline = ("offline mode is on: HF_HUB_OFFLINE=1" if hub.offline()
                       else f"could not reach {urlparse(hub.endpoint()).hostname}")
    return StarterPlan(chosen, starter.remembered_speed(), offline)


def download_starter(starter_set, state):
    """Job: download a StarterSet's models as one progress (starter_download.download_set); partials
    StarterProgress and ModelLanded; cancelling pauses."""
    from app.core.models import starter_download

    return starter_download.download_set(starter_set, state)
