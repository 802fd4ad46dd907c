#!/usr/bin/env python3
"""Load benchmark of `infera serve` (or any OpenAI-compatible server) with the `openai` SDK.

Streams chat completions of fixed prompts (temperature 0, max_tokens N, stream_options
include_usage) at several concurrency levels, R requests per level, and prints a markdown table
for bench/RESULTS.md.

Per request:
  TTFT  send -> first chunk with content (includes any wait for a free slot on the server)
  ITL   (last content chunk - first content chunk) / (completion_tokens - 1); a chunk may hold
        several tokens, so the gaps between chunks are not used directly; completion_tokens comes
        from the usage chunk
  e2e   send -> end of the stream
Per level: TTFT p50/p99, ITL p50/p99, e2e p50, generated tokens/s (sum of completion tokens /
wall time of the level) and requests/s (requests / wall time).

    # against a running server
    python tools/load_bench.py --base-url http://127.0.0.1:8080/v1 -c 1,4,16 -n 64
    # start one (free port), measure, stop it
    python tools/load_bench.py --infera build/release/infera --model M.gguf \\
        --serve-args="--parallel 4 -c 1024" -c 1,4
"""
import argparse
import asyncio
import os
import platform
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import openai

PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how a refrigerator works.",
    "List some facts about the planet Mars.",
    "Describe the water cycle to a child.",
    "What are the benefits of regular exercise?",
    "Give me a recipe for pancakes.",
    "Summarise the history of the printing press.",
    "Why is the sky blue?",
]


def percentile(values, q):
    """Linear interpolation between closest ranks (numpy's default); None for no values."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`infera serve` on a free loopback port, stopped with SIGTERM."""

    def __init__(self, infera, model, extra):
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        cmd = [infera, "serve", "--port", str(self.port)]
        if model:
            cmd += ["-m", model]
        self.proc = subprocess.Popen(cmd + extra, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 180
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("infera serve exited: " + self.proc.stderr.read())
            try:
                url = f"http://127.0.0.1:{self.port}/health"
                with urllib.request.urlopen(url, timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("infera serve did not become healthy in 180 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


async def one_request(client, model, prompt, max_tokens):
    """Streams one chat completion; returns a dict of timings (seconds) and token counts."""
    t_send = time.perf_counter()
    first = last = None
    chunks = 0
    usage = None
    stream = await client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": prompt}],
        temperature=0,
        max_tokens=max_tokens,
        stream=True,
        stream_options={"include_usage": True},
    )
    async for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            if choice.delta and choice.delta.content:
                now = time.perf_counter()
                if first is None:
                    first = now
                last = now
                chunks += 1
    t_end = time.perf_counter()
    if usage is None:
        raise RuntimeError("the stream carried no usage chunk (stream_options.include_usage)")
    n = usage.completion_tokens
    return {
        "ttft": (first - t_send) if first is not None else None,
        "itl": (last - first) / (n - 1) if first is not None and n > 1 else None,
        "e2e": t_end - t_send,
        "completion_tokens": n,
        "chunks": chunks,
    }


async def run_level(client, model, concurrency, n_requests, max_tokens, offset):
    sem = asyncio.Semaphore(concurrency)
    results, errors = [], []

    async def worker(i):
        async with sem:
            try:
                results.append(await one_request(client, model,
                                                 PROMPTS[(offset + i) % len(PROMPTS)],
                                                 max_tokens))
            except Exception as e:  # noqa: BLE001 - counted and reported, not fatal
                errors.append(f"{type(e).__name__}: {e}")

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(n_requests)))
    wall = time.perf_counter() - t0
    ttft = [r["ttft"] for r in results if r["ttft"] is not None]
    itl = [r["itl"] for r in results if r["itl"] is not None]
    tokens = sum(r["completion_tokens"] for r in results)
    return {
        "concurrency": concurrency,
        "requests": n_requests,
        "errors": errors,
        "ttft_p50": percentile(ttft, 50),
        "ttft_p99": percentile(ttft, 99),
        "itl_p50": percentile(itl, 50),
        "itl_p99": percentile(itl, 99),
        "e2e_p50": percentile([r["e2e"] for r in results], 50),
        "tokens": tokens,
        "tok_s": tokens / wall,
        "req_s": len(results) / wall,
        "wall": wall,
    }


def fmt_ms(x):
    return "–" if x is None else f"{x * 1000:.1f}"


def fmt_s(x):
    return "–" if x is None else f"{x:.2f}"


def markdown(levels, args, model, base_url):
    lines = [
        f"Command: `{' '.join(shlex.quote(a) for a in sys.argv)}`",
        "",
        f"Machine: {cpu_name()}, {os.cpu_count()} cores (os.cpu_count); "
        f"server {base_url}, model `{model}`; streamed chat completions, temperature 0, "
        f"max_tokens {args.max_tokens}, {len(PROMPTS)} fixed prompts.",
        "",
        "| concurrency | requests | errors | TTFT p50 (ms) | TTFT p99 (ms) | ITL p50 (ms) "
        "| ITL p99 (ms) | e2e p50 (s) | generated tok/s | req/s |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for lv in levels:
        lines.append(
            f"| {lv['concurrency']} | {lv['requests']} | {len(lv['errors'])} "
            f"| {fmt_ms(lv['ttft_p50'])} | {fmt_ms(lv['ttft_p99'])} "
            f"| {fmt_ms(lv['itl_p50'])} | {fmt_ms(lv['itl_p99'])} | {fmt_s(lv['e2e_p50'])} "
            f"| {lv['tok_s']:.1f} | {lv['req_s']:.2f} |")
    return "\n".join(lines)


async def bench(args, base_url):
    client = openai.AsyncOpenAI(base_url=base_url, api_key=args.api_key, max_retries=0,
                                timeout=args.timeout)
    try:
        model = args.model_name
        if not model:
            models = await client.models.list()
            model = models.data[0].id if models.data else "default"
        if args.warmup:
            await one_request(client, model, PROMPTS[0], min(args.max_tokens, 8))
        levels = []
        for i, c in enumerate(args.concurrency):
            n = args.requests or max(4, 2 * c)
            lv = await run_level(client, model, c, n, args.max_tokens, offset=i)
            print(f"concurrency {c}: {n} requests in {lv['wall']:.1f} s, "
                  f"{len(lv['errors'])} errors", file=sys.stderr, flush=True)
            for e in lv["errors"][:3]:
                print(f"  error: {e}", file=sys.stderr)
            levels.append(lv)
        return model, levels
    finally:
        await client.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[1:]))
    ap.add_argument("--base-url", default="http://127.0.0.1:8080/v1",
                    help="a running server (default %(default)s); ignored with --infera")
    ap.add_argument("--api-key", default=os.environ.get("OPENAI_API_KEY", "none"))
    ap.add_argument("--infera", help="start this infera binary as `serve` on a free port")
    ap.add_argument("--model", help="GGUF model for --infera (default: its default model)")
    ap.add_argument("--serve-args", default="",
                    help='extra `infera serve` arguments as one string: --serve-args="-c 1024"')
    ap.add_argument("--model-name", help="the request's model field (default: from /v1/models)")
    ap.add_argument("-c", "--concurrency", default="1,4,16",
                    type=lambda s: [int(x) for x in s.split(",") if x],
                    help="concurrency levels, comma-separated (default %(default)s)")
    ap.add_argument("-r", "--requests", type=int, default=0,
                    help="requests per level (default: 2 x concurrency, at least 4)")
    ap.add_argument("-n", "--max-tokens", type=int, default=64)
    ap.add_argument("--timeout", type=float, default=600, help="per request, seconds")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="skip the one untimed request before the first level")
    args = ap.parse_args()

    server = None
    base_url = args.base_url
    if args.infera:
        server = Server(args.infera, args.model, shlex.split(args.serve_args))
        base_url = server.base_url
    try:
        model, levels = asyncio.run(bench(args, base_url))
    finally:
        if server:
            server.stop()
    print(markdown(levels, args, model, base_url))
    return 1 if any(lv["errors"] for lv in levels) else 0


if __name__ == "__main__":
    sys.exit(main())
