"""The segmentation engine: a loaded SAM, image embeddings (computed or from the disk cache), mask prediction.

Encoding (the heavy step, seconds on a CPU) and decoding (a click: tens of milliseconds) are separate, and an
`Embedding` carries the model it was made with, so a background job may pre-encode the next photo of a folder
while the user clicks on the current one. Masks are predicted as SAM's low-resolution logits and scaled up only to
the size asked for (the screen copy for display, the full photo for exports), never three 24-megapixel masks per
click.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.core.errors import UserError
from app.core.segment.cache import CachedEmbedding, EmbeddingCache
from app.core.segment.images import LoadedImage
from app.core.segment.model import LoadedSam, load_sam

_tls = threading.local()  # the job state of the encoder running on this thread (for the progress hooks)


@dataclass(frozen=True)
class Prompts:
    """One object's prompts: `points` (x, y, label) in image pixels, label 1 positive or 0 negative, and an optional
    `box` (x0, y0, x1, y1) in image pixels."""

    points: tuple[tuple[float, float, int], ...] = ()  # (x, y, 1 positive | 0 negative), image pixels
    box: tuple[float, float, float, float] | None = None  # x0, y0, x1, y1, image pixels

    @property
    def empty(self) -> bool:
        """True when there is no point and no box."""
        return not self.points and self.box is None


@dataclass
class Embedding:
    """An image's encoder output and what decoding it needs: `features` (torch tensors on the model's device, the
    1 x C x h x w embedding first), `original_size` (H, W) and `input_size` (h, w before padding) in pixels, the image's
    pixel hash, the LoadedSam that made it, whether it came from the cache, and the encoder's `seconds` (None from the
    cache)."""

    features: tuple  # torch.Tensors on the model's device: the 1 x C x h x w embedding first, then what the
    #                  decoder also reads (SAM 2's high-resolution maps, SAM-HQ's early ViT features); see backends
    original_size: tuple[int, int]  # (H, W)
    input_size: tuple[int, int]
    image_key: str
    sam: LoadedSam
    from_cache: bool = False
    seconds: float | None = None  # how long the encoder took (None: from the cache)


@dataclass
class Prediction:
    """SAM's answer to one prompt state: C candidates as low-resolution logits, with predicted IoU."""

    low_res: np.ndarray  # C x h x w float32 logits
    ious: np.ndarray  # C
    original_size: tuple[int, int]  # (H, W)
    input_size: tuple[int, int]
    encoder_size: int
    display: dict = field(default_factory=dict, repr=False)  # (index, (w, h)) -> bool mask, filled on demand
    letterbox: bool = True  # SAM 1 / SAM / SAM-HQ pad the photo to the square; SAM 2 / EdgeTAM stretch it

    @property
    def count(self) -> int:
        """The number of candidate masks C."""
        return int(self.low_res.shape[0])

    @property
    def best(self) -> int:
        """Index of the candidate with the highest predicted IoU."""
        return int(np.argmax(self.ious))

    def logits(self, index: int) -> np.ndarray:
        """1 x h x w low-resolution logits of one candidate (fed back as the next click's mask input)."""
        return self.low_res[index : index + 1]

    def mask(self, index: int, size: tuple[int, int] | None = None) -> np.ndarray:
        """Binary mask of candidate `index` at `size` (width, height); default the full image size.

        Full size uses the library's exact resampling: SamPredictor's (bilinear to the encoder's square, crop the
        padding, bilinear to the photo), or for a stretched (SAM 2) input Sam2Processor's single bilinear step to the
        photo. Other sizes (the screen copy, thumbnails) take one bilinear step straight to the
        size needed, cropping the padding afterwards: no full-resolution intermediate for a 24-megapixel photo."""
        import torch

        h, w = self.original_size
        out_w, out_h = size or (w, h)
        key = (index, (out_w, out_h))
        cached = self.display.get(key)
        if cached is not None:
            return cached
        with torch.inference_mode():
            t = torch.from_numpy(self.low_res[index : index + 1][None])  # 1 x 1 x h x w
            mask = (self.upscale(t, (out_w, out_h))[0, 0] > 0.0).numpy()
        if (out_w, out_h) != (w, h):
            self.display[key] = mask  # screen-size copies are small; keep them for redraws and undo
        return mask

    def upscale(self, t, size: tuple[int, int]):
        """Low-res logits N x C x h x w (torch) -> logits N x C x height x width at `size` (width, height), with
        the resampling `mask` describes."""
        import torch.nn.functional as F

        h, w = self.original_size
        out_w, out_h = size
        ih, iw = self.input_size
        if (out_w, out_h) == (w, h) and not self.letterbox:
            return F.interpolate(t, (h, w), mode="bilinear", align_corners=False)
        if (out_w, out_h) == (w, h):
            t = F.interpolate(t, (self.encoder_size, self.encoder_size), mode="bilinear", align_corners=False)
            return F.interpolate(t[..., :ih, :iw], (out_h, out_w), mode="bilinear", align_corners=False)
        full_h = max(out_h, round(self.encoder_size * out_h / ih))
        full_w = max(out_w, round(self.encoder_size * out_w / iw))
        return F.interpolate(t, (full_h, full_w), mode="bilinear", align_corners=False)[..., :out_h, :out_w]


class SegmentEngine:
    """Holds the loaded model; thread-safe for one encoder and one decoder job at a time."""

    def __init__(self, cache: EmbeddingCache | None = None, device: str = "auto", memory_slots: int = 4) -> None:
        self.cache = cache
        self.device = device
        self.sam: LoadedSam | None = None
        self.encoder_runs = 0  # how many times the image encoder actually ran (tests and benchmarks count it)
        self._memory: OrderedDict[tuple[str, str], Embedding] = OrderedDict()
        self._slots = memory_slots
        self._lock = threading.Lock()

    # ---- model -------------------------------------------------------------------------------------------------
    def load(self, path: str | Path, state=None) -> LoadedSam:
        """Load a SAM 1 checkpoint file or a Hugging Face format folder (SAM 2 / 2.1, EdgeTAM, SAM-HQ)."""
        sam = load_sam(path, self.device, state)
        blocks = sam.backend.blocks()
        for i, block in enumerate(blocks):
            block.register_forward_hook(_progress_hook(i, len(blocks)))
        with self._lock:
            self.sam = sam
            self._memory.clear()
        return sam

    def require(self) -> LoadedSam:
        """The loaded model. UserError when none is loaded."""
        if self.sam is None:
            raise UserError("No Segment Anything model is loaded. Choose one in the model picker (or Open .pth…).")
        return self.sam

    def unload(self) -> None:
        """Forget the model and the embeddings held in memory (the disk cache stays)."""
        with self._lock:
            self.sam = None
            self._memory.clear()

    # ---- encoding ----------------------------------------------------------------------------------------------
    def cached(self, image: LoadedImage) -> Embedding | None:
        """The embedding from memory or disk, or None; never runs the encoder."""
        sam = self.require()
        key = (image.key, sam.fingerprint)
        with self._lock:
            hit = self._memory.get(key)
            if hit is not None:
                self._memory.move_to_end(key)
                return hit
        if self.cache is None:
            return None
        entry = self.cache.get(*key)
        if entry is None:
            return None
        import torch

        features = tuple(torch.from_numpy(a).to(sam.device) for a in (entry.features, *entry.extra))
        emb = Embedding(features, entry.original_size, entry.input_size, image.key, sam, from_cache=True)
        self._remember(key, emb)
        return emb

    def encode(self, image: LoadedImage, state=None) -> Embedding:
        """The image's embedding: from the cache when there, otherwise by running the encoder (with progress)."""
        emb = self.cached(image)
        if emb is not None:
            if state is not None:
                state.progress(1.0, "Embedding from cache")
            return emb
        sam = self.require()
        if state is not None:
            state.progress(0.0, f"Encoding {image.name}")
        _tls.state, _tls.name = state, image.name
        start = time.perf_counter()
        try:
            features, input_size = sam.backend.encode(image.rgb)
        finally:
            _tls.state = None
        seconds = time.perf_counter() - start
        self.encoder_runs += 1
        emb = Embedding(features, tuple(image.rgb.shape[:2]), input_size, image.key, sam, seconds=seconds)
        if self.cache is not None:
            arrays = [f.float().cpu().numpy() for f in features]
            self.cache.put(image.key, sam.fingerprint,
                           CachedEmbedding(arrays[0], emb.original_size, input_size, tuple(arrays[1:])))
        self._remember((image.key, sam.fingerprint), emb)
        return emb

    def _remember(self, key, emb: Embedding) -> None:
        with self._lock:
            self._memory[key] = emb
            self._memory.move_to_end(key)
            while len(self._memory) > self._slots:
                self._memory.popitem(last=False)

    # ---- decoding ----------------------------------------------------------------------------------------------
    def predict(self, emb: Embedding, prompts: Prompts, mask_input: np.ndarray | None = None,
                multimask: bool = True) -> Prediction:
        """Masks for a prompt state. `mask_input` (1 x h x w low-res logits of the previous step) refines."""
        if prompts.empty:
            raise UserError("Add a point or a box first.")
        import torch

        sam = emb.sam
        backend, dev = sam.backend, sam.device
        H, W = emb.original_size
        points = labels = boxes = masks = None
        if prompts.points:
            coords = backend.to_input(np.array([(x, y) for x, y, _ in prompts.points]), (H, W))
            points = torch.as_tensor(coords, dtype=torch.float, device=dev)[None]
            labels = torch.as_tensor([int(l) for _, _, l in prompts.points], dtype=torch.int, device=dev)[None]
        if prompts.box is not None:
            x0, y0, x1, y1 = prompts.box
            corners = np.array([[min(x0, x1), min(y0, y1)], [max(x0, x1), max(y0, y1)]])
            boxes = torch.as_tensor(backend.to_input(corners, (H, W)).reshape(1, 4), dtype=torch.float, device=dev)
        if mask_input is not None:
            masks = torch.as_tensor(np.asarray(mask_input, dtype=np.float32), device=dev)[None]
        low_res, iou = backend.decode(emb.features, points, labels, boxes, masks, multimask)
        return Prediction(low_res[0].float().cpu().numpy(), iou[0].float().cpu().numpy(), (H, W), emb.input_size,
                          sam.arch.img_size, letterbox=backend.letterbox)

    def decode_points(self, emb: Embedding, xy: np.ndarray, multimask: bool = True):
        """One positive point per object for a batch of N points (image pixels, N x 2): (N x C x h x w low-res
        logits, N x C predicted IoU) as torch tensors. The automatic mask generator's step."""
        import torch

        backend = emb.sam.backend
        coords = torch.as_tensor(backend.to_input(xy, emb.original_size), dtype=torch.float, device=emb.sam.device)
        labels = torch.ones(coords.shape[0], 1, dtype=torch.int, device=emb.sam.device)
        return backend.decode(emb.features, coords[:, None, :], labels, None, None, multimask)


def _progress_hook(index: int, total: int):
    def hook(_module, _inputs, _output):
        state = getattr(_tls, "state", None)
        if state is not None:
            state.check()  # cancelled (the user moved on): abandon the forward pass between blocks
            state.progress((index + 1) / total, f"Encoding {getattr(_tls, 'name', 'image')}")
    return hook
