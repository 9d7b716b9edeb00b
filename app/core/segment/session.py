"""Object layers and their prompts, with undo/redo of every prompt change. Pure Python, no model calls.

Each layer version is immutable. A prompt change (point, box, clear, candidate choice, new/removed/renamed layer)
pushes a new snapshot; undo/redo move along the snapshots. Predictions arrive later (from a background job) and
are attached to the exact layer version they were computed for (`vid`), wherever it sits in the history, so undo
shows the earlier mask again without running the decoder.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from app.core.segment.predictor import Prediction, Prompts

PALETTE = [(30, 144, 255), (255, 99, 71), (50, 205, 50), (255, 215, 0), (186, 85, 211), (0, 206, 209),
           (255, 140, 0), (255, 105, 180)]
MAX_HISTORY = 100
_ids = itertools.count(1)


@dataclass(frozen=True)
class Layer:
    """One version of an object: `name`, overlay `color` (RGB, 0..255), `lid` (its lineage, the same across versions),
    `vid` (this version), its `prompts`, the user's candidate `choice` (None: the best by predicted IoU), the
    `prediction` for exactly these prompts (None until decoded) and whether it is `visible`."""

    name: str
    color: tuple[int, int, int]
    lid: int  # lineage: the same object across versions
    vid: int  # this version of its prompts
    prompts: Prompts = Prompts()
    choice: int | None = None  # the candidate the user picked; None: the best by predicted IoU
    prediction: Prediction | None = None  # for exactly these prompts
    visible: bool = True

    @property
    def chosen(self) -> int | None:
        """Index of the candidate to show: the user's choice when the prediction has it, else the best; None without a
        prediction."""
        if self.prediction is None:
            return None
        if self.choice is not None and self.choice < self.prediction.count:
            return self.choice
        return self.prediction.best

    @property
    def pending(self) -> bool:
        """Has prompts but no prediction yet."""
        return not self.prompts.empty and self.prediction is None


@dataclass(frozen=True)
class Snapshot:
    """One undo step: every layer (immutable versions) and the index of the active one."""

    layers: tuple[Layer, ...]
    active: int


def _new_layer(name: str, index: int) -> Layer:
    return Layer(name=name, color=PALETTE[index % len(PALETTE)], lid=next(_ids), vid=next(_ids))


class SegmentSession:
    """The object layers of one photo, with undo/redo of every prompt change (at most MAX_HISTORY snapshots). Pure
    Python, no model calls; not locked, so use it from one thread."""

    def __init__(self) -> None:
        self._history: list[Snapshot] = [Snapshot((_new_layer("object 1", 0),), 0)]
        self._pos = 0
        self._created = 1

    # ---- reading -----------------------------------------------------------------------------------------------
    @property
    def snapshot(self) -> Snapshot:
        """The snapshot undo/redo stand at."""
        return self._history[self._pos]

    @property
    def layers(self) -> tuple[Layer, ...]:
        """The current layers."""
        return self.snapshot.layers

    @property
    def active_index(self) -> int:
        """Index of the active layer in `layers`."""
        return self.snapshot.active

    @property
    def active(self) -> Layer:
        """The active layer (the one prompts go to)."""
        return self.snapshot.layers[self.snapshot.active]

    @property
    def can_undo(self) -> bool:
        """True when there is an earlier snapshot."""
        return self._pos > 0

    @property
    def can_redo(self) -> bool:
        """True when an undone snapshot can be restored."""
        return self._pos < len(self._history) - 1

    def pending_layers(self) -> list[Layer]:
        """Layers with prompts but no prediction yet (what the decoder still has to do)."""
        return [layer for layer in self.layers if layer.pending]

    def feed_for(self, layer: Layer):
        """Low-res logits of the latest earlier prediction of this object (the refinement input), or None."""
        for snap in reversed(self._history[: self._pos + 1]):
            for old in snap.layers:
                if old.lid == layer.lid and old.vid != layer.vid and old.prediction is not None:
                    if old.prompts.empty:
                        return None
                    return old.prediction.logits(old.chosen)
        return None

    # ---- changes (each one undoable) ---------------------------------------------------------------------------
    def _push(self, layers: tuple[Layer, ...], active: int) -> None:
        del self._history[self._pos + 1 :]
        self._history.append(Snapshot(layers, active))
        if len(self._history) > MAX_HISTORY:
            del self._history[0]
        self._pos = len(self._history) - 1

    def _change_active(self, **changes) -> Layer:
        snap = self.snapshot
        layer = replace(self.active, vid=next(_ids), **changes)
        layers = tuple(layer if i == snap.active else l for i, l in enumerate(snap.layers))
        self._push(layers, snap.active)
        return layer

    def add_point(self, x: float, y: float, positive: bool = True) -> Layer:
        """Add a point (image pixels; positive or negative) to the active layer: a new version without prediction, its
        candidate choice reset. Returns that version."""
        p = self.active.prompts
        return self._change_active(prompts=Prompts(p.points + ((float(x), float(y), 1 if positive else 0),), p.box),
                                   prediction=None, choice=None)

    def set_box(self, x0: float, y0: float, x1: float, y1: float) -> Layer:
        """Set the active layer's box from two opposite corners (image pixels), stored as (x0, y0, x1, y1) with x0 <=
        x1, y0 <= y1: a new version as for `add_point`. Returns it."""
        box = (float(min(x0, x1)), float(min(y0, y1)), float(max(x0, x1)), float(max(y0, y1)))
        return self._change_active(prompts=Prompts(self.active.prompts.points, box), prediction=None, choice=None)

    def clear_prompts(self) -> Layer:
        """Remove the active layer's points and box: a new, empty version. Returns it."""
        return self._change_active(prompts=Prompts(), prediction=None, choice=None)

    def choose(self, index: int) -> Layer:
        """Show candidate `index` instead of the best one."""
        if self.active.prediction is None or not 0 <= index < self.active.prediction.count:
            raise ValueError(f"no candidate {index}")
        return self._change_active(choice=int(index))

    def add_layer(self, name: str | None = None) -> Layer:
        """Add an empty layer (default name 'object N'), make it active and return it."""
        snap = self.snapshot
        self._created += 1
        layer = _new_layer(name or f"object {self._created}", self._created - 1)
        self._push(snap.layers + (layer,), len(snap.layers))
        return layer

    def add_objects(self, found: list[tuple[Prompts, Prediction]]) -> int:
        """Add one layer per (prompts, prediction) found by segment everything, in one undoable step. An untouched
        empty first layer is replaced. Returns how many layers were added."""
        if not found:
            return 0
        snap = self.snapshot
        untouched = len(snap.layers) == 1 and snap.layers[0].prompts.empty and snap.layers[0].prediction is None
        layers = () if untouched else snap.layers
        added = []
        for prompts, prediction in found:
            self._created += 1
            layer = _new_layer(f"object {self._created}", self._created - 1)
            added.append(replace(layer, prompts=prompts, prediction=prediction))
        layers = layers + tuple(added)
        self._push(layers, len(layers) - len(added))
        return len(added)

    def remove_layer(self, index: int) -> None:
        """Remove layer `index` (removing the only one leaves a fresh empty layer). The active layer stays active; when
        it is the one removed, the layer before it (or the new first one) becomes active."""
        snap = self.snapshot
        layers = tuple(l for i, l in enumerate(snap.layers) if i != index)
        if not layers:
            self._created += 1
            layers = (_new_layer(f"object {self._created}", self._created - 1),)
        self._push(layers, min(snap.active if snap.active < index else max(0, snap.active - 1), len(layers) - 1))

    def rename_layer(self, index: int, name: str) -> None:
        """Rename layer `index` (a blank name keeps the old one); an undo step."""
        snap = self.snapshot
        name = name.strip() or snap.layers[index].name
        layers = tuple(replace(l, name=name) if i == index else l for i, l in enumerate(snap.layers))
        self._push(layers, snap.active)

    def set_visible(self, index: int, visible: bool) -> None:
        """Show or hide layer `index` (an undo step)."""
        snap = self.snapshot
        layers = tuple(replace(l, visible=visible) if i == index else l for i, l in enumerate(snap.layers))
        self._push(layers, snap.active)

    def set_active(self, index: int) -> None:
        """Selecting another object is not a prompt change: it does not add an undo step."""
        snap = self.snapshot
        if 0 <= index < len(snap.layers):
            self._history[self._pos] = Snapshot(snap.layers, index)

    def undo(self) -> bool:
        """Step back one snapshot. False when there is none."""
        if self.can_undo:
            self._pos -= 1
            return True
        return False

    def redo(self) -> bool:
        """Step forward one snapshot. False when there is none."""
        if self.can_redo:
            self._pos += 1
            return True
        return False

    # ---- results -----------------------------------------------------------------------------------------------
    def attach(self, vid: int, prediction: Prediction) -> bool:
        """Attach a prediction to the layer version it was made for. True when that version is in the history."""
        found = False
        for n, snap in enumerate(self._history):
            if any(l.vid == vid for l in snap.layers):
                layers = tuple(replace(l, prediction=prediction) if l.vid == vid else l for l in snap.layers)
                self._history[n] = Snapshot(layers, snap.active)
                found = True
        return found

    def forget_predictions(self) -> None:
        """The model changed: every mask must be predicted again (prompts stay)."""
        self._history = [Snapshot(tuple(replace(l, prediction=None) for l in s.layers), s.active)
                         for s in self._history]

    def find(self, vid: int) -> Layer | None:
        """The current layer whose version is `vid`, or None."""
        for layer in self.layers:
            if layer.vid == vid:
                return layer
        return None
