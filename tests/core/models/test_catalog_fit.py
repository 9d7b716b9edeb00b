import re

import pytest

from app.core.errors import UserError
from app.core.models import catalog, fit
from app.core.models.registry import KINDS

GB = 10**9


def test_every_entry_has_what_the_tabs_need():
    entries = catalog.load()
    ids = [e.id for e in entries]
    assert len(ids) == len(set(ids))
    for e in entries:
        assert e.kind in KINDS and e.name and e.license and e.description, e.id
        assert (e.repo is None) != (e.url is None), f"{e.id}: exactly one of repo / url"
        if e.repo:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+", e.repo) and e.revision, e.id
        assert isinstance(e.verified, bool)
        assert e.files, e.id
        for v in e.files:
            assert v.size_bytes > 0 and (v.file or v.include), e.id
            assert e.memory_bytes(v) >= v.size_bytes, e.id
        if e.kind == "chat":
            # a choice of quantizations; vision repositories (model + mmproj) publish fewer
            assert e.format == "gguf" and len(e.files) >= (2 if e.vision else 3), e.id
            assert all(v.file.endswith(".gguf") and v.quantization for v in e.files), e.id
            # Q4_K_M by default; the tiny SmolVLMs come as Q8_0 and F16 only (4 bits hurt models that small)
            assert e.default_variant.quantization == ("Q8_0" if e.id.startswith("smolvlm") else "Q4_K_M"), e.id


def test_catalog_covers_every_tab():
    by_kind = {}
    for e in catalog.load():
        by_kind.setdefault(e.kind, []).append(e.id)
    assert len(by_kind["chat"]) >= 8 and len(by_kind["embedding"]) >= 3 and len(by_kind["reranker"]) >= 2
    assert len(by_kind["diffusion"]) >= 4 and len(by_kind["controlnet"]) >= 5
    assert {"sam-vit-b", "sam-vit-l", "sam-vit-h"} <= set(by_kind["sam"])
    assert "taesd" in by_kind["vae"]


def test_find_entry_and_quantization():
    entry, variant = catalog.find("qwen2.5-0.5b-instruct:Q8_0")
    assert variant.quantization == "Q8_0" and variant.file == "qwen2.5-0.5b-instruct-q8_0.gguf"
    assert catalog.find("qwen2.5-0.5b-instruct")[1].quantization == "Q4_K_M"
    assert catalog.find("nope") is None
    with pytest.raises(UserError, match="no Q9_9 variant"):
        catalog.find("qwen2.5-0.5b-instruct:Q9_9")


@pytest.mark.parametrize("need,ram,expected", [
    (6.0, 10, fit.FITS), (6.01, 10, fit.TIGHT), (8.5, 10, fit.TIGHT), (8.51, 10, fit.WONT_FIT),
])
def test_cpu_and_unified_thresholds(need, ram, expected):
    assert fit.label(int(need * GB), fit.Memory(ram * GB)) == expected
    assert fit.label(int(need * GB), fit.Memory(ram * GB, unified=True)) == expected


@pytest.mark.parametrize("need,vram,ram,expected", [
    (7.2, 8, 16, fit.FITS), (7.21, 8, 16, fit.TIGHT), (15.2, 8, 16, fit.TIGHT), (15.21, 8, 16, fit.WONT_FIT),
])
def test_cuda_thresholds(need, vram, ram, expected):
    assert fit.label(int(need * GB), fit.Memory(ram * GB, vram * GB)) == expected


def test_recommendation_is_best_quality_that_fits():
    entry, _ = catalog.find("llama-3.2-3b-instruct")
    mem = {q: entry.memory_bytes(entry.variant(q)) for q in ("Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")}
    # RAM such that Q5_K_M fits (<= 60 %) but Q6_K does not
    ram = int(mem["Q5_K_M"] / 0.6) + 1
    assert mem["Q6_K"] > 0.6 * ram
    assert fit.recommend(entry, fit.Memory(ram)).quantization == "Q5_K_M"
    assert fit.recommend(entry, fit.Memory(64 * GB)).quantization == "Q8_0"
    ram = int(mem["Q4_K_M"] / 0.6) + 1
    assert fit.recommend(entry, fit.Memory(ram)).quantization == "Q4_K_M"
    # nothing fits but the smallest is tight: recommend the smallest
    ram = int(mem["Q4_K_M"] / 0.8)
    assert fit.label(mem["Q4_K_M"], fit.Memory(ram)) == fit.TIGHT
    assert fit.recommend(entry, fit.Memory(ram)).quantization == "Q4_K_M"
    assert fit.recommend(entry, fit.Memory(1 * GB)) is None
    assert fit.note("Q4_K_M") == "recommended" and fit.note("Q8_0") == "best" and fit.note("Q5_K_M") == "higher quality"


def test_memory_from_device_info():
    from app.core.devices import DeviceInfo, Gpu

    cpu = DeviceInfo("cpu", [], 4, 16 * GB)
    assert fit.Memory.from_device(cpu) == fit.Memory(16 * GB)
    cuda = DeviceInfo("cpu", [], 4, 32 * GB, [Gpu("RTX", "cuda", 12 * GB)])
    assert fit.Memory.from_device(cuda) == fit.Memory(32 * GB, 12 * GB)
    mac = DeviceInfo("M2", [], 8, 16 * GB, [Gpu("M2", "metal", 16 * GB)])
    assert fit.Memory.from_device(mac).unified
