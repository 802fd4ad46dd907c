#!/usr/bin/env python3
"""Measure how much llama.cpp disagrees with itself under a benign change of arithmetic.

The golden files hold llama.cpp's outputs with flash attention off. Turning flash attention on
changes only the rounding of the attention (same model, same math); the disagreement this causes is
the noise floor below which no independent implementation can be expected to agree with the golden
files, short of copying llama.cpp's SIMD code paths bit for bit.

For each real model this re-runs the golden teacher-forced sequences (the first ones, >= 2048
positions, as tests/golden/model_golden_test.cpp uses them) and the 10 greedy prompts with flash
attention ON, and compares with the committed golden files (flash attention OFF):
top-1 agreement, mean KL(golden || flash) over the top-32 + rest bucket, greedy continuations
identical, and the largest top-2 logit margin at a point of divergence.

For the goldens computed on f32 weights ("-f32": no activation rounding) it measures instead how far
llama.cpp's own 8-bit activation path (the 4-bit file as it is) lands from them: the floor that
infera's 8-bit path is held to against the same goldens.

Writes tests/data/golden/reference-noise.json, which the golden test reads to set its bounds.

    python tools/measure_reference_noise.py        # needs llama-cpp-python (tools/requirements-reference.txt)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gen_golden_logits as g  # noqa: E402

MIN_POSITIONS = 2048
OUT = g.GOLDEN_DIR / "reference-noise.json"


def load_flash(path: Path):
    import llama_cpp
    return llama_cpp.Llama(model_path=str(path), n_ctx=g.N_CTX, n_batch=g.N_BATCH, n_ubatch=g.N_BATCH,
                           logits_all=True, n_threads=g.N_THREADS, n_threads_batch=g.N_THREADS,
                           seed=g.SEED, verbose=False, flash_attn=True)


def measure(name: str, llm) -> dict:
    n_vocab, seqs, greedy_runs = g.read_golden(g.GOLDEN_DIR / f"{name}.golden")
    positions = agree = 0
    kls = []
    for tokens, ids, lps in seqs:
        if positions >= MIN_POSITIONS:
            break
        lp = g.log_softmax64(g.eval_logits(llm, list(tokens)))
        kls.extend(g.kl_top_rest(ids, lps, lp).tolist())
        agree += int((lp.argmax(axis=1) == ids[:, 0]).sum())
        positions += len(tokens)
    identical = 0
    max_margin = 0.0
    for prompt, gen in greedy_runs:
        llm.reset()
        llm.eval(list(prompt))
        for step, want in enumerate(gen):
            logits = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float32)
            tok = int(np.argmax(logits))
            if tok != want:
                two = np.partition(logits, -2)[-2:]
                max_margin = max(max_margin, float(two[1] - two[0]))
                break
            if step + 1 < len(gen):
                llm.eval([tok])
        else:
            identical += 1
    return {
        "positions": positions,
        "top1_agreement": agree / positions,
        "mean_kl": float(np.mean(kls)),
        "greedy_identical": identical,
        "greedy_prompts": len(greedy_runs),
        "max_margin_at_divergence": max_margin,
    }


def main() -> int:
    result = {
        "what": "the reference's own noise floor per golden file: llama.cpp with flash attention "
                "ON against goldens made with it OFF; for the -f32 goldens (f32 weights) llama.cpp "
                "on the 4-bit file as it is (8-bit activations)",
        "reference": g.reference_info(),
        "regenerate": "python tools/measure_reference_noise.py",
        "models": {},
    }
    for name, entry in g.MODELS.items():
        if not entry.real:
            continue
        print(f"measuring {name} ...", file=sys.stderr)
        if entry.f32_weights:
            llm, what = g.load(entry.path()), "llama.cpp 8-bit activation path vs f32 weights"
        else:
            llm, what = load_flash(entry.path()), "llama.cpp flash attention on vs off"
        result["models"][name] = {"what": what, **measure(name, llm)}
        del llm
        print(json.dumps(result["models"][name]), file=sys.stderr)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
