"""`hearth serve` refusals and `hearth connections` / `hearth chat --model CONNECTION/MODEL` against a real remote
engine (llama-cpp-python's server with the real Gemma)."""

import socket

import pytest

from app.cli import main as cli_main
from app.core.chat.store import ConversationStore
from app.core.settings import Settings


def test_serve_refuses_the_network_without_the_flag_and_a_busy_port(capsys):
    rc = cli_main(["serve", "--host", "0.0.0.0", "--port", "0"])
    err = capsys.readouterr().err
    assert rc == 1 and "--allow-network" in err and "Traceback" not in err
    assert Settings.load().server.api_key.startswith("hearth-")  # made (and kept) on first start
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        rc = cli_main(["serve", "--port", str(taken.getsockname()[1])])
    err = capsys.readouterr().err
    assert rc == 1 and "already in use" in err and "Traceback" not in err


@pytest.mark.slow
def test_connections_and_chat_through_one(llama_api, capsys):
    assert cli_main(["connections", "add", "box", llama_api.url]) == 0
    out = capsys.readouterr().out
    assert "offers 1 model: gemma" in out and "box/MODEL" in out
    assert cli_main(["connections", "list", "--models"]) == 0
    out = capsys.readouterr().out
    assert f"box\t{llama_api.url}\t(no key" in out and "box/gemma\tchat" in out

    rc = cli_main(["chat", "--model", "box/gemma", "Name a colour.", "--max-tokens", "8", "--temperature", "0",
                   "--seed", "1"])
    captured = capsys.readouterr()
    assert rc == 0, captured.err
    assert captured.out.strip() and "tok/s" in captured.err
    conv = ConversationStore().list()[0]
    assert conv.model == "remote:box/gemma"
    rc = cli_main(["chat", "--conversation", conv.id, "And another?", "--max-tokens", "6"])  # stored reference
    assert rc == 0, capsys.readouterr().err

    # a server that is down: one sentence, nothing saved
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    rc = cli_main(["connections", "add", "gone", f"http://127.0.0.1:{dead}/v1"])
    err = capsys.readouterr().err
    assert rc == 1 and "Cannot reach gone" in err and "gone" not in Settings.load().connections
    assert cli_main(["connections", "remove", "box"]) == 0
    assert Settings.load().connections == {}
    assert cli_main(["chat", "--model", "box/gemma", "hi"]) == 1  # no such connection now: a plain path
    assert "Traceback" not in capsys.readouterr().err
