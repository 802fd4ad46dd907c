#!/usr/bin/env python3
"""Time llama.cpp (through llama-cpp-python) the way `infera bench` times infera.

pp N: one eval of N random token ids on an empty context (n_batch = n_ubatch = N, so one decode
call), tokens/s = N / time. tg N: one untimed first token (BOS when the model has one), then N
single-token evals of random ids, tokens/s = N / total time. Each test runs once untimed, then
`-r` times timed; mean ± sample stddev. With -d D, D random tokens are evaluated first, untimed
(after the first token, for tg), as `infera bench -d D` does. Flash attention off and an f16 KV
cache (the library's defaults), as infera computes.

    python tools/bench_llama_cpp.py -m MODEL.gguf -p 512 -n 128 [-d 1024] -t 2 -r 3 [--json]
"""

import argparse
import json
import statistics
import sys
import time

import llama_cpp
import numpy as np


def random_tokens(llm, n, rng):
    return rng.integers(0, llm.n_vocab(), size=n).tolist()


def time_pp(llm, n, depth, rng):
    tokens = random_tokens(llm, n, rng)
    llm.reset()
    if depth > 0:
        llm.eval(random_tokens(llm, depth, rng))
    t0 = time.perf_counter()
    llm.eval(tokens)
    return n / (time.perf_counter() - t0)


def time_tg(llm, n, depth, rng):
    bos = llm.token_bos()
    first = bos if 0 <= bos < llm.n_vocab() else int(rng.integers(0, llm.n_vocab()))
    steps = random_tokens(llm, n, rng)
    llm.reset()
    llm.eval([first] + random_tokens(llm, depth, rng))
    t0 = time.perf_counter()
    for tok in steps:
        llm.eval([tok])
    return n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-m", "--model", required=True)
    ap.add_argument("-p", "--n-prompt", type=int, default=512)
    ap.add_argument("-n", "--n-gen", type=int, default=128)
    ap.add_argument("-d", "--n-depth", type=int, default=0,
                    help="tokens already in the context when each test starts")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("-r", "--repetitions", type=int, default=3)
    ap.add_argument("-s", "--seed", type=int, default=1234)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--no-mmap", action="store_true",
                    help="read the model into memory instead of mapping it (llama.cpp's --no-mmap)")
    args = ap.parse_args()

    if args.n_depth < 0:
        ap.error("the depth must not be negative")
    n_ctx = args.n_depth + max(args.n_prompt, 1 + args.n_gen)
    # The depth goes in batches of the prompt size (512 when only tg runs), as a prompt would.
    batch = args.n_prompt if args.n_prompt > 0 else 512
    llm = llama_cpp.Llama(
        model_path=args.model,
        n_ctx=n_ctx,
        n_batch=batch,
        n_ubatch=batch,
        n_threads=args.threads,
        n_threads_batch=args.threads,
        flash_attn=False,
        use_mmap=not args.no_mmap,
        verbose=False,
    )
    rng = np.random.default_rng(args.seed)
    results = []
    for name, n, fn in (("pp", args.n_prompt, time_pp), ("tg", args.n_gen, time_tg)):
        if n <= 0:
            continue
        fn(llm, n, args.n_depth, rng)  # warm-up
        samples = [fn(llm, n, args.n_depth, rng) for _ in range(args.repetitions)]
        sd = statistics.stdev(samples) if len(samples) > 1 else 0.0
        label = f"{name}{n}" + (f" @ d{args.n_depth}" if args.n_depth > 0 else "")
        results.append(
            {"name": label, "n_depth": args.n_depth, "avg_ts": statistics.fmean(samples),
             "stddev_ts": sd, "samples_ts": samples})

    info = {
        "model": args.model,
        "llama_cpp_python": llama_cpp.__version__,
        "system_info": llama_cpp.llama_print_system_info().decode(),
        "n_threads": args.threads,
        "tests": results,
    }
    if args.json:
        json.dump(info, sys.stdout)
        print()
        return
    print(f"llama-cpp-python {info['llama_cpp_python']}, {args.threads} threads")
    print(f"system_info: {info['system_info'].strip()}")
    for r in results:
        print(f"{r['name']:>6}  {r['avg_ts']:9.2f} ± {r['stddev_ts']:.2f} t/s")


if __name__ == "__main__":
    main()
