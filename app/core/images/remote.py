"""Images made by another Hearth (a GPU box): `POST /images/generations` on a connection, saved here like local ones.

An ImageRequest whose model is a "remote:CONNECTION/MODEL" reference comes here from ImageEngine.generate. The
request carries Hearth's extra fields (seed, negative_prompt, steps, guidance_scale, scheduler); every image comes
back as a PNG with the seed it was made with, and ImageEngine saves it with this request's parameters (the model
recorded as the reference). Text to image only: a starting image, a mask, a ControlNet or LoRAs stay on this computer. Cancel
closes the HTTP connection, which the other Hearth takes as the end of the job.
"""

from __future__ import annotations

import base64
import io
import threading

from app.core import connections
from app.core.errors import JobCancelled, UserError
from app.core.images.params import GenerationParams

POLL_S = 0.2


def fetch(params: GenerationParams, state, settings=None) -> list[tuple[object, int]]:
    """Make params' images on the connection its model names; [(PIL image, seed)]. ImageEngine saves them. Raises
    UserError (unknown connection, server down, key refused, model gone, an image-to-image request) or
    JobCancelled."""
    from PIL import Image

    from app.core.settings import Settings

    name, model = connections.parse_ref(params.model)
    conn = connections.find(settings or Settings.load(), name)
    if params.mode != "txt2img" or params.control or params.loras:
        raise UserError(f"{conn.name} makes images from a text prompt only here: a starting image, a mask, a "
                        "ControlNet or LoRAs need a model on this computer.")
    state.progress(None, f"Generating on {conn.name}")
    extra = {"negative_prompt": params.negative_prompt, "steps": params.steps, "guidance_scale": params.guidance,
             "scheduler": params.scheduler}
    if params.seed >= 0:
        extra["seed"] = params.seed
    client = conn.client()
    outcome: dict = {}

    def call() -> None:
        try:
            outcome["response"] = client.images.generate(
                model=model, prompt=params.prompt, n=params.batch_count, size=f"{params.width}x{params.height}",
                response_format="b64_json", extra_body=extra)
        except BaseException as exc:  # noqa: BLE001 - handed to the job's thread
            outcome["error"] = exc

    worker = threading.Thread(target=call, name="hearth-remote-images", daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(POLL_S)
            if state.cancelled:
                client.close()  # the request fails at once; the server sees the client go
                worker.join(5)
                raise JobCancelled()
    finally:
        client.close()
    if "error" in outcome:
        raise connections.explain(outcome["error"], conn, model) from None
    made = []
    for index, item in enumerate(outcome["response"].data):
        seed = int((item.model_extra or {}).get("seed", params.seed + index if params.seed >= 0 else -1))
        image = Image.open(io.BytesIO(base64.b64decode(item.b64_json)))
        image.load()
        made.append((image.convert("RGB"), seed))
    return made
