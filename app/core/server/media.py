"""`POST /v1/embeddings` (the Documents embedders) and `POST /v1/images/generations` (the Images engine).

Embeddings are L2-normalised, as Documents stores them; `encoding_format` "base64" (what the openai client asks
for by default) is little-endian float32. Images are made by the app's ImageEngine on the "image-model" resource,
into a temporary folder (the PNGs are sent as `b64_json` with Hearth's parameters in them and not kept), with
Hearth's extra fields `seed`, `negative_prompt`, `steps`, `guidance_scale` and `scheduler`; every image carries the
seed it was made with.
"""

from __future__ import annotations

import base64
import tempfile
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from app.core.errors import UserError
from app.core.jobs import Job
from app.core.server import models
from app.core.server.errors import ApiError, from_exception
from app.core.server.runtime import JobStream

router = APIRouter()
MAX_INPUTS = 2048


class EmbeddingsBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = ""
    input: str | list[str] | list[int] | list[list[int]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None


class ImagesBody(BaseModel):
    model_config = ConfigDict(extra="allow")
    model: str = ""
    prompt: str = Field(min_length=1)
    n: int = Field(1, ge=1, le=10)
    size: str | None = None
    response_format: Literal["b64_json", "url"] = "b64_json"
    seed: int | None = None  # Hearth: the first image's seed (the next ones +1, +2 …)
    negative_prompt: str = ""
    steps: int | None = Field(None, ge=1, le=200)
    guidance_scale: float | None = Field(None, ge=0, le=30)
    scheduler: str | None = None


def embed(inputs: tuple[str, list[str]], state) -> tuple[object, int]:
    """Job: (vectors N×D float32, tokens counted) for the texts with the embedder `key`."""
    from app.core.documents.embedder import get_embedder

    key, texts = inputs
    embedder = get_embedder(key)
    state.check()
    return embedder.encode(texts), sum(embedder.count_tokens(texts))


async def _run(request: Request, job: Job):
    stream = JobStream(request.app.state.runtime, job)
    try:
        return await stream.wait(request)
    except Exception as exc:  # noqa: BLE001 - answered in OpenAI's shape
        raise from_exception(exc) from None
    finally:
        stream.close()


@router.post("/v1/embeddings")
async def embeddings(body: EmbeddingsBody, request: Request):
    from starlette.concurrency import run_in_threadpool

    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts or not all(isinstance(t, str) for t in texts):
        raise ApiError(400, "'input' must be a string or a list of strings (token arrays are not taken).",
                       "invalid_value", "input")
    if any(not t for t in texts) or len(texts) > MAX_INPUTS:
        raise ApiError(400, f"'input' takes 1 to {MAX_INPUTS} non-empty strings.", "invalid_value", "input")
    runtime = request.app.state.runtime
    model = await run_in_threadpool(models.find, runtime, body.model, "embedding")
    vectors, tokens = await _run(request, Job(embed, (model.path, texts), name=f"Server: embed with {model.id}"))
    if body.dimensions is not None and body.dimensions != vectors.shape[1]:
        raise ApiError(400, f"'{model.id}' makes {vectors.shape[1]}-dimensional embeddings; it cannot make "
                            f"{body.dimensions}.", "invalid_value", "dimensions")
    import numpy as np

    def encoded(vector):
        if body.encoding_format == "base64":
            return base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode("ascii")
        return [float(x) for x in vector]

    data = [{"object": "embedding", "index": i, "embedding": encoded(v)} for i, v in enumerate(vectors)]
    return JSONResponse({"object": "list", "data": data, "model": model.id,
                         "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})


def image_params(body: ImagesBody, path: str):
    """The GenerationParams for a request on the installed model at `path` (its family's defaults for what the
    request leaves out). Raises UserError for a bad size."""
    from app.core.images import families
    from app.core.images.params import GenerationParams, defaults_for, parse_size

    model = Path(path)
    family = families.detect_family(model) if model.is_dir() or model.suffix.lower() == ".safetensors" else "sd1"
    defaults = defaults_for(family, model.name)
    width, height = parse_size(body.size) if body.size else (defaults.width, defaults.height)
    return GenerationParams(prompt=body.prompt, negative_prompt=body.negative_prompt, model=str(model),
                            seed=body.seed if body.seed is not None else -1,
                            steps=body.steps or defaults.steps,
                            guidance=body.guidance_scale if body.guidance_scale is not None else defaults.guidance,
                            scheduler=body.scheduler or defaults.scheduler, width=width, height=height,
                            batch_count=body.n)


def generate(engine):
    """The job function: make the images into a temporary folder, return [(PNG bytes, seed, revised)]."""
    def run(params, state):
        from app.core.images.jobs import ImageRequest, validate

        validate(params)
        with tempfile.TemporaryDirectory(prefix="hearth-server-") as folder:
            results = engine.generate(ImageRequest(params, out=str(Path(folder) / "image.png"), previews=False),
                                      state)
            return [(r.path.read_bytes(), r.seed) for r in results]
    return run


@router.post("/v1/images/generations")
async def images(body: ImagesBody, request: Request):
    from starlette.concurrency import run_in_threadpool

    from app.core.images.jobs import RESOURCE

    if body.response_format != "b64_json":
        raise ApiError(400, "Hearth returns images as b64_json only (it keeps no files to link to).",
                       "unsupported_value", "response_format")
    runtime = request.app.state.runtime
    model = await run_in_threadpool(models.find, runtime, body.model, "image")
    try:
        params = await run_in_threadpool(image_params, body, model.path)
    except UserError as exc:
        raise ApiError(400, str(exc), "invalid_value", "size") from None
    made = await _run(request, Job(generate(runtime.engines.images), params, name=f"Server: images with {model.id}",
                                   resource=RESOURCE))
    data = [{"b64_json": base64.b64encode(png).decode("ascii"), "seed": seed, "revised_prompt": None}
            for png, seed in made]
    return JSONResponse({"created": models.now(), "data": data, "model": model.id})
