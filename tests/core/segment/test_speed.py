"""Encode times remembered per model and device, and the fastest installed model as the default."""

import json

from app.core.models import registry
from app.core.segment import speed


def test_times_are_remembered_per_model_and_device():
    store = {}
    model = registry.kind_dir("sam") / "edgetam"
    assert speed.measured(store, model) is None
    for seconds in (3.0, 0.7, 0.6, 0.65, 0.62, 0.61):
        speed.remember(store, model, "cpu", seconds)
    assert list(store) == ["sam/edgetam@cpu"] and len(store["sam/edgetam@cpu"]["seconds"]) == speed.KEEP
    assert speed.measured(store, model, "cpu") == (0.62, "cpu")  # median of the last five: the warm-up run aged out
    speed.remember(store, model, "cuda", 0.05)
    assert speed.measured(store, model, "cpu") == (0.62, "cpu")
    assert speed.measured(store, model) == (0.05, "cuda")  # not asked for a device: the latest measured one
    store["sam/broken@cpu"] = "not a dict"
    assert speed.measured(store, registry.kind_dir("sam") / "broken") is None
    assert [speed.describe(s) for s in (0.421, 3.14, 16.2)] == ["0.42 s", "3.1 s", "16 s"]


def test_the_fastest_estimate_comes_from_config_or_file_size(tmp_path):
    def folder(name, model_type, **vision):
        path = tmp_path / name
        path.mkdir()
        (path / "config.json").write_text(json.dumps({"model_type": model_type, "vision_config": vision}))
        return path

    vit_b = tmp_path / "a-checkpoint.pth"
    vit_b.write_bytes(b"0" * 1000)
    tiny = folder("b", "sam2_video", backbone_config={"blocks_per_stage": [1, 2, 7, 2]})
    edgetam = folder("c", "edgetam", backbone_config={"architecture": "repvit_m1"})
    broken = folder("d", "bert")
    assert speed.estimated_cost(edgetam) < speed.estimated_cost(tiny) < speed.estimated_cost(vit_b) < \
        speed.estimated_cost(broken)
    assert speed.fastest([vit_b, broken, tiny, edgetam]) == str(edgetam)
    assert speed.fastest([vit_b, tiny]) == str(tiny) and speed.fastest([]) is None
