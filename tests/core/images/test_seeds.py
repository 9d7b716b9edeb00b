"""Seeds over the whole range torch.Generator takes (issue 12, item 8): no silent wrap to 32 bits, refusals in a
sentence, and the seed used is the one recorded and printed. Real diffusers with the tiny pipeline."""

import numpy as np
import pytest
from PIL import Image

from app.cli import main as cli_main
from app.core.errors import UserError
from app.core.images.jobs import ImageRequest, Note, validate
from app.core.images.metadata import a1111_text, parse_a1111, read_png
from app.core.images.params import MAX_SEED, GenerationParams
from app.core.jobs import JobState
from tests.core.images.tiny import pixels

BIG = 4324379876  # above 2^32: the reported seed that silently became 29412580


def _params(tiny_models, seed, **kw):
    return GenerationParams(prompt="a cat", model=str(tiny_models["folder"]), steps=2, width=64, height=64,
                            seed=seed, scheduler="Euler", **kw)


@pytest.mark.parametrize("seed,message", [
    (-5, "Seed -5 is negative: use 0 to 18446744073709551615, or -1 for a random seed."),
    (2**64, "Seed 18446744073709551616 is too large: seeds go from 0 to 18446744073709551615 (2^64 - 1); "
            "-1 picks a random one."),
])
def test_out_of_range_seeds_are_refused_with_a_sentence(seed, message):
    with pytest.raises(UserError) as info:
        validate(GenerationParams(model="m", seed=seed))
    assert str(info.value) == message


def test_big_seeds_survive_the_png_text_both_ways():
    params = GenerationParams(prompt="x", seed=MAX_SEED)
    assert parse_a1111(a1111_text(params, MAX_SEED)).seed == MAX_SEED


@pytest.mark.slow
def test_a_seed_above_2_32_is_used_recorded_and_explained_not_wrapped(tiny_models, engine):
    """The seed goes to torch.Generator("cpu").manual_seed unchanged and is recorded as given. torch's CPU
    Mersenne Twister reads its low 32 bits, so it draws the noise of BIG mod 2^32 (as in any diffusers script
    with that seed): Hearth says so in a note instead of silently recording the other number."""
    notes = []
    state = JobState(on_partial=lambda v: notes.append(v.text) if isinstance(v, Note) else None)
    big = engine.generate(ImageRequest(_params(tiny_models, BIG), previews=False), state)[0]
    assert big.seed == BIG and read_png(big.path)[0].seed == BIG
    with Image.open(big.path) as img:
        assert f"Seed: {BIG}," in img.text["parameters"]
    assert notes == big.notes == [f"Seed {BIG} draws the same noise as seed {BIG % 2**32}: torch's CPU random "
                                  "generator, which Hearth uses so that a seed gives the same image on every "
                                  "device, reads only a seed's low 32 bits."]
    low = engine.generate(ImageRequest(_params(tiny_models, BIG % 2**32), previews=False), JobState())[0]
    other = engine.generate(ImageRequest(_params(tiny_models, BIG + 1), previews=False), JobState())[0]
    assert np.array_equal(pixels(big.path), pixels(low.path)) and low.notes == []
    assert not np.array_equal(pixels(big.path), pixels(other.path))


@pytest.mark.slow
def test_the_largest_seed_works_and_a_batch_past_it_wraps_to_zero_as_recorded(tiny_models, engine):
    results = engine.generate(ImageRequest(_params(tiny_models, MAX_SEED, batch_count=2), previews=False),
                              JobState())
    assert [r.seed for r in results] == [MAX_SEED, 0]
    assert [read_png(r.path)[0].seed for r in results] == [MAX_SEED, 0]
    zero = engine.generate(ImageRequest(_params(tiny_models, 0), previews=False), JobState())[0]
    assert np.array_equal(pixels(results[1].path), pixels(zero.path))  # the recorded seed remakes the image


@pytest.mark.slow
def test_cli_prints_and_records_the_big_seed_and_refuses_negative_ones(tiny_models, tmp_path, capsys):
    out = tmp_path / "big.png"
    base = ["image", "--model", str(tiny_models["folder"]), "a cat", "--steps", "1", "--size", "64x64"]
    assert cli_main([*base, "--seed", str(BIG), "--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"{out}\tseed={BIG}"
    assert read_png(out)[0].seed == BIG
    assert cli_main([*base, "--seed", "-5", "--out", str(tmp_path / "neg.png")]) == 1
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == ("error: Seed -5 is negative: use 0 to 18446744073709551615, or -1 for "
                                            "a random seed.")
    assert cli_main([*base, "--out", str(tmp_path / "random.png")]) == 0
    printed = int(capsys.readouterr().out.strip().split("seed=")[1])
    assert 0 <= printed < 2**32 and read_png(tmp_path / "random.png")[0].seed == printed
