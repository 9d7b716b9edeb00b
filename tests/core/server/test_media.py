"""Images over the API (the tiny random-weight SD, a server running in this process on the app's own kind of
scheduler and engines), and a second Hearth using it through a connection: `hearth image --model box/tiny-sd`."""

import base64
import io

import openai
import pytest
from PIL import Image

from app.cli import main as cli_main
from app.core import connections
from app.core.engines import Engines
from app.core.images.metadata import read_png
from app.core.scheduler import Scheduler
from app.core.server.runtime import Runtime
from app.core.server.serve import ServerThread
from app.core.settings import Settings
from tests.fixtures.servers import install

pytestmark = pytest.mark.slow
KEY = "media-test-key"


@pytest.fixture
def api(tiny_models, hearth_home):
    install(hearth_home, {"diffusion": [tiny_models["folder"]]})
    settings = Settings.load()
    scheduler = Scheduler()
    runtime = Runtime(scheduler, Engines(settings), settings)
    server = ServerThread(runtime, port=0, api_key=KEY)
    server.start()
    yield server
    server.stop()
    scheduler.shutdown(5)
    runtime.engines.close(1)


def test_images_come_back_as_png_with_their_seeds_and_nothing_is_kept(api, hearth_home):
    client = openai.OpenAI(base_url=api.url, api_key=KEY, max_retries=0)
    assert "tiny-sd" in {m.id for m in client.models.list().data}
    made = client.images.generate(model="tiny-sd", prompt="a red square", n=2, size="64x64",
                                  extra_body={"seed": 7, "steps": 2, "negative_prompt": "blue"})
    assert len(made.data) == 2 and [d.model_extra["seed"] for d in made.data] == [7, 8]
    for item in made.data:
        image = Image.open(io.BytesIO(base64.b64decode(item.b64_json)))
        assert image.size == (64, 64) and image.format == "PNG"
        assert "a red square" in image.info["parameters"]
    assert list(hearth_home.rglob("*.png")) == []  # sent, not kept
    with pytest.raises(openai.BadRequestError) as err:
        client.images.generate(model="tiny-sd", prompt="x", size="65x64")
    assert "multiples of 8" in err.value.body["message"]
    with pytest.raises(openai.BadRequestError):
        client.images.generate(model="tiny-sd", prompt="x", response_format="url")
    with pytest.raises(openai.NotFoundError):
        client.images.generate(model="dall-e-3", prompt="x")


def test_a_laptop_makes_images_on_a_remote_hearth(api, tmp_path, capsys):
    settings = Settings.load()
    connections.add(settings, "box", api.url, KEY)
    settings.save()
    out = tmp_path / "remote.png"
    rc = cli_main(["image", "--model", "box/tiny-sd", "a cat", "--size", "64x64", "--steps", "2", "--seed", "5",
                   "--out", str(out)])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert captured.out.strip() == f"{out}\tseed=5"
    params, _ = read_png(out)
    assert (params.model, params.prompt, params.steps, params.width) == ("remote:box/tiny-sd", "a cat", 2, 64)
    rc = cli_main(["image", "--model", "box/tiny-sd", "x", "--init", str(out), "--out", str(tmp_path / "b.png")])
    assert rc == 1 and "text prompt only" in capsys.readouterr().err
