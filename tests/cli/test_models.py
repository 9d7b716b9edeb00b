import json
import subprocess
import sys

import pytest

from tests.fixtures.tiny_gguf import write_tiny_llama


def hearth(args, env, timeout=120):
    return subprocess.run([sys.executable, "-m", "app", "models", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_import_list_remove(subprocess_env, tmp_path):
    src = write_tiny_llama(tmp_path / "cli-model-Q4_K_M.gguf")
    r = hearth(["import", str(src)], subprocess_env)
    assert r.returncode == 0 and r.stdout.startswith("chat/cli-model-Q4_K_M.gguf\t"), r.stderr
    r = hearth(["list", "--json"], subprocess_env)
    (item,) = json.loads(r.stdout)
    assert item["id"] == "chat/cli-model-Q4_K_M.gguf" and item["quantization"] == "Q4_K_M"
    assert item["size_bytes"] == src.stat().st_size and item["source"]["imported_from"] == str(src)
    assert hearth(["list", "--kind", "sam", "--json"], subprocess_env).stdout.strip() == "[]"
    r = hearth(["remove", "chat/cli-model-Q4_K_M.gguf"], subprocess_env)
    assert r.returncode == 0 and "removed" in r.stdout
    r = hearth(["remove", "chat/cli-model-Q4_K_M.gguf"], subprocess_env)
    assert r.returncode == 1 and r.stderr.startswith("error: No installed model") and "Traceback" not in r.stderr


def test_catalog_list_json_has_fit(subprocess_env):
    r = hearth(["list", "--catalog", "--kind", "chat", "--json"], subprocess_env)
    rows = json.loads(r.stdout)
    assert {row["fit"] for row in rows} <= {"fits", "tight", "won't fit"}
    assert any(row["id"] == "qwen2.5-0.5b-instruct:Q4_K_M" for row in rows)


def test_download_with_sha_from_local_server(subprocess_env, server):
    import hashlib

    data = b"GGUF" + bytes(range(256)) * 400
    url = server.add_file("/files/cli-dl.gguf", data)
    r = hearth(["download", url, "--sha256", hashlib.sha256(data).hexdigest()], subprocess_env)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("chat/cli-dl.gguf\t")
    r = hearth(["download", server.add_file("/files/cli-bad.gguf", data), "--sha256", "1" * 64], subprocess_env)
    assert r.returncode == 1 and "error: Checksum mismatch" in r.stderr and "quarantine" in r.stderr


def test_search_offline_and_via_local_endpoint(subprocess_env, server):
    env = dict(subprocess_env, HF_HUB_OFFLINE="1")
    r = hearth(["search", "qwen"], env)
    assert r.returncode == 1 and r.stderr.startswith("error: No network")
    server.add_hub_file("acme/Beta-GGUF", "beta-Q6_K.gguf", b"GGUF1234")
    env = dict(subprocess_env, HF_HUB_OFFLINE="0", HF_ENDPOINT=server.url)
    r = hearth(["search", "beta", "--files"], env)
    assert r.returncode == 0, r.stderr
    assert "acme/Beta-GGUF" in r.stdout and "beta-Q6_K.gguf" in r.stdout and "Q6_K" in r.stdout


@pytest.mark.slow
def test_quantize_cli(subprocess_env, tmp_path):
    src = write_tiny_llama(tmp_path / "cli-tiny-F32.gguf")
    out = tmp_path / "out-q8.gguf"
    r = hearth(["quantize", str(src), "--type", "Q8_0", "--out", str(out)], subprocess_env)
    assert r.returncode == 0, r.stderr
    assert out.exists() and out.stat().st_size < src.stat().st_size / 3
    r = hearth(["quantize", str(out), "--type", "Q4_K_M"], subprocess_env)
    assert r.returncode == 1 and "already quantized" in r.stderr


def test_fp16_inside_the_models_folder_records_where_it_came_from(subprocess_env, hearth_home):
    import torch
    from safetensors.torch import save_file

    folder = hearth_home / "models" / "diffusion"
    folder.mkdir(parents=True)
    src = folder / "tiny-unet.safetensors"
    save_file({"conv.weight": torch.randn(64, 32, 3, 3)}, str(src))
    r = hearth(["fp16", str(src)], subprocess_env)
    assert r.returncode == 0, r.stderr
    out = folder / "tiny-unet-fp16.safetensors"
    assert r.stdout.strip() == str(out) and out.stat().st_size < src.stat().st_size * 0.55
    listed = {m["id"]: m for m in json.loads(hearth(["list", "--json"], subprocess_env).stdout)}
    source = listed["diffusion/tiny-unet-fp16.safetensors"]["source"]
    assert source["converted_from"] == str(src) and source["precision"] == "fp16"
    r = hearth(["fp16", str(src)], subprocess_env)  # the output exists now: one clear line
    assert r.returncode == 1 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr


def test_starter_dry_run_says_the_set_and_offline_says_so_with_import(subprocess_env):
    r = hearth(["starter", "--dry-run", "--json"], subprocess_env)
    assert r.returncode == 0, r.stderr
    plan = json.loads(r.stdout)
    roles = [p["role"] for p in plan["picks"]]
    assert roles[0] == "chat" and "documents" in roles
    assert plan["total_bytes"] == sum(p["download_bytes"] for p in plan["picks"]) > 0
    assert "time unknown" in plan["estimate"]
    r = hearth(["starter", "--without", "images"], subprocess_env)  # HF_HUB_OFFLINE=1 in the tests
    assert r.returncode == 1 and "error: No network" in r.stderr and "hearth models import PATH" in r.stderr
    assert "images " not in r.stderr and "Traceback" not in r.stderr
    assert hearth(["list", "--json"], subprocess_env).stdout.strip() == "[]"
