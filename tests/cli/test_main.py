import subprocess
import sys

import numpy as np
from PIL import Image

import app as hearth


def run_hearth(args, env, timeout=300):
    return subprocess.run([sys.executable, "-m", "app", *args], env=env, capture_output=True, text=True, timeout=timeout)


def test_version(subprocess_env):
    result = run_hearth(["--version"], subprocess_env)
    assert result.returncode == 0
    assert result.stdout.strip() == f"Hearth {hearth.__version__}"


def test_doctor_reports_engines_accelerators_paths_and_disk(subprocess_env, hearth_home):
    result = run_hearth(["doctor"], subprocess_env)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    for module in ["torch", "llama_cpp", "diffusers", "transformers", "chromadb", "sentence_transformers",
                   "segment_anything", "PySide6"]:
        assert f"ok    {module}" in out, module
    assert "torch CUDA" in out and "torch MPS" in out and "llama.cpp GPU offload" in out
    assert str(hearth_home) in out and "free disk" in out
    assert "All engines import." in out


def test_doctor_fails_when_an_engine_cannot_be_imported(subprocess_env, tmp_path):
    # A package that shadows an engine and raises on import, put first on the path.
    broken = tmp_path / "shadow" / "chromadb"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise ImportError('simulated broken install')\n")
    env = dict(subprocess_env)
    env["PYTHONPATH"] = str(tmp_path / "shadow") + ":" + env["PYTHONPATH"]
    result = run_hearth(["doctor"], env)
    assert result.returncode == 1
    assert "FAIL  chromadb" in result.stdout and "simulated broken install" in result.stdout


def test_screenshot_writes_every_tab(subprocess_env, tmp_path):
    out = tmp_path / "shots"
    result = run_hearth(["--screenshot", str(out)], subprocess_env, timeout=120)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.glob("*.png"))
    assert names == ["chat.png", "documents.png", "images.png", "models.png", "segment.png"]
    for path in out.glob("*.png"):
        with Image.open(path) as im:
            assert im.size[0] >= 800 and im.size[1] >= 500
            assert np.unique(np.asarray(im.convert("L"))).size > 5  # something was drawn, not a blank image


def test_unknown_subcommand_is_a_clear_error(subprocess_env):
    result = run_hearth(["frobnicate"], subprocess_env)
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
