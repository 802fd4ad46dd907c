#!/usr/bin/env python3
"""Generate (or check) golden reference outputs with llama-cpp-python, an independent reference.

For each model this writes tests/data/golden/<model>.golden (binary, format below) and
tests/data/golden/<model>.json (provenance, settings, self-consistency figures):

  * teacher-forced log-probabilities: the committed corpus tools/golden_text/*.txt, tokenized with
    the model's own tokenizer and split at paragraph boundaries into sequences of <= 512 tokens
    (real models), or 4 sequences of 256 random token ids (synthetic tiny models); each sequence is
    evaluated from an empty KV cache and, for every position, the top-32 token ids and their
    log-probabilities (log_softmax of the full logits in float64) are stored;
  * greedy continuations: 10 prompts, exactly 64 argmax tokens each (no sampler, no penalties, no
    stop at end-of-generation tokens: a consumer that stops at EOG compares the prefix).

    python tools/gen_golden_logits.py                 # all models
    python tools/gen_golden_logits.py --only tiny-qwen3-f32
    python tools/gen_golden_logits.py --check         # re-run the reference, compare with the files

Binary format (little-endian):
    char magic[8] = "INFGLD01"; u32 version = 1;
    u32 n_vocab;
    u32 n_sequences; repeated: u32 n_tokens; i32 tokens[n_tokens]; u32 top_k;
        then for each position p: i32 ids[top_k]; f32 logprobs[top_k]
        (sorted by decreasing log-prob; the logits at position p predict token p+1)
    u32 n_greedy;    repeated: u32 n_prompt; i32 prompt[n_prompt]; u32 n_gen; i32 gen[n_gen]

The files go stale when the model file or the reference (llama-cpp-python / llama.cpp) changes:
regenerate them with this script and commit them together with the .json.
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import io
import json
import os
import platform
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
GOLDEN_DIR = REPO / "tests" / "data" / "golden"
SYNTH_DIR = REPO / "tests" / "data" / "models"
TEXT_DIR = REPO / "tools" / "golden_text"
MAGIC = b"INFGLD01"
VERSION = 1
TOP_K = 32
MAX_SEQ = 512
N_CTX = 512
N_BATCH = 512
N_GEN = 64
N_THREADS = 2
SEED = 1234
NOISE_SEQS = 4          # sequences re-run with n_batch=64 to measure the reference's own noise


def models_dir() -> Path:
    if os.environ.get("INFERA_MODELS_DIR"):
        return Path(os.environ["INFERA_MODELS_DIR"])
    return Path(os.environ.get("INFERA_DATA_DIR", Path.home() / ".cache" / "infera")) / "models"


@dataclass
class ModelEntry:
    name: str
    file: str
    real: bool
    chat: str | None = None   # chat prompt style for the greedy set: chatml | gemma | None
    # Both engines compute with every weight dequantized to f32 (infera: LoadOptions::f32_weights),
    # so neither rounds activations to 8 bits: the file's model without activation rounding.
    f32_weights: bool = False

    def path(self) -> Path:
        return (models_dir() if self.real else SYNTH_DIR) / self.file

    def reference_path(self) -> Path:
        """The file llama.cpp runs: the model itself, or its f32 copy (made once, then reused)."""
        if not self.f32_weights:
            return self.path()
        out = models_dir() / "f32" / (Path(self.file).stem + ".F32.gguf")
        if not out.exists() or out.stat().st_mtime < self.path().stat().st_mtime:
            dequantize_to_f32(self.path(), out)
        return out


MODELS = {m.name: m for m in [
    ModelEntry("smollm2-135m-instruct-q4_1", "SmolLM2-135M-Instruct.Q4_1.gguf", True, "chatml"),
    ModelEntry("gemma3-270m-q4_k_m", "gemma-3-270m-q4_k_m.gguf", True, "gemma"),
    ModelEntry("smollm2-135m-instruct-q4_1-f32", "SmolLM2-135M-Instruct.Q4_1.gguf", True, "chatml",
               f32_weights=True),
    ModelEntry("gemma3-270m-q4_k_m-f32", "gemma-3-270m-q4_k_m.gguf", True, "gemma",
               f32_weights=True),
    ModelEntry("tiny-llama-f32", "tiny-llama-f32.gguf", False),
    ModelEntry("tiny-qwen2-f32", "tiny-qwen2-f32.gguf", False),
    ModelEntry("tiny-qwen3-f32", "tiny-qwen3-f32.gguf", False),
    ModelEntry("tiny-llama-q8_0", "tiny-llama-q8_0.gguf", False),
    ModelEntry("tiny-llama-k-q4_k_m", "tiny-llama-k-q4_k_m.gguf", False),
    ModelEntry("tiny-llama-k-q4_0", "tiny-llama-k-q4_0.gguf", False),
]}

# Commands that recreate the committed synthetic models (seed 1).
SYNTH_COMMANDS = {
    "tiny-llama-f32.gguf": "--arch-preset tiny-llama --type F32 --seed 1",
    "tiny-qwen2-f32.gguf": "--arch-preset tiny-qwen2 --type F32 --seed 1",
    "tiny-qwen3-f32.gguf": "--arch-preset tiny-qwen3 --type F32 --seed 1",
    "tiny-llama-q8_0.gguf": "--arch-preset tiny-llama --type Q8_0 --seed 1",
    "tiny-llama-k-q4_k_m.gguf": "--arch-preset tiny-llama-k --type Q4_K_M --seed 1",
    "tiny-llama-k-q4_0.gguf": "--arch-preset tiny-llama-k --type Q4_0 --seed 1",
}

PLAIN_PROMPTS = [
    "The capital of France is Paris. The capital of Germany is",
    "Once upon a time, in a small village at the edge of a dark forest, there lived",
    "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n",
    "#include <stdio.h>\n\nint main(void) {\n    int total = 0;\n    for (int i = 0;",
    "Here is a list of the planets of the solar system, in order from the sun:\n1. Mercury\n2.",
    "Photosynthesis is the process by which green plants",
    "Q: What is 17 multiplied by 3?\nA:",
    "{\"name\": \"Alice\", \"age\": 30, \"languages\": [\"English\",",
]
CHAT_PROMPTS = {
    "chatml": [
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "What is the boiling point of water at sea level?<|im_end|>\n<|im_start|>assistant\n",
        "<|im_start|>user\nWrite a haiku about autumn leaves.<|im_end|>\n<|im_start|>assistant\n",
    ],
    "gemma": [
        "<start_of_turn>user\nWhat is the boiling point of water at sea level?<end_of_turn>\n"
        "<start_of_turn>model\n",
        "<start_of_turn>user\nWrite a haiku about autumn leaves.<end_of_turn>\n<start_of_turn>model\n",
    ],
}
EXTRA_PLAIN = [
    "The three primary colours of light are red, green and",
    "Le petit déjeuner français typique se compose de",
]


# ----------------------------------------------------------------------------------------------
# Reference runs
# ----------------------------------------------------------------------------------------------
def load(path: Path, n_batch: int = N_BATCH):
    import llama_cpp
    return llama_cpp.Llama(model_path=str(path), n_ctx=N_CTX, n_batch=n_batch, n_ubatch=n_batch,
                           logits_all=True, n_threads=N_THREADS, n_threads_batch=N_THREADS,
                           seed=SEED, verbose=False)


def dequantize_to_f32(src: Path, dst: Path) -> None:
    """llama.cpp's own quantizer with LLAMA_FTYPE_ALL_F32: every tensor dequantized to f32."""
    import ctypes
    import llama_cpp
    dst.parent.mkdir(parents=True, exist_ok=True)
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_ALL_F32
    params.allow_requantize = True
    params.nthread = N_THREADS
    tmp = dst.with_suffix(".tmp")
    if llama_cpp.llama_model_quantize(str(src).encode(), str(tmp).encode(),
                                      ctypes.byref(params)) != 0:
        raise RuntimeError(f"llama_model_quantize failed for {src}")
    tmp.rename(dst)


def add_bos_of(llm) -> bool:
    v = llm.metadata.get("tokenizer.ggml.add_bos_token")
    if v is None:
        return llm.metadata.get("tokenizer.ggml.model") == "llama"
    return str(v).lower() == "true"


def eval_logits(llm, tokens: list[int]) -> np.ndarray:
    """Teacher-forced logits (n_tokens, n_vocab) float32 from an empty KV cache."""
    llm.reset()
    llm.eval(tokens)
    return np.array(llm.scores[: len(tokens)], dtype=np.float32, copy=True)


def log_softmax64(logits: np.ndarray) -> np.ndarray:
    x = logits.astype(np.float64)
    x -= x.max(axis=1, keepdims=True)
    x -= np.log(np.exp(x).sum(axis=1, keepdims=True))
    return x


def top_k(lp: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: the k largest log-probs, sorted by (decreasing value, increasing id)."""
    part = np.argpartition(-lp, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(lp, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    ids = np.take_along_axis(part, order, axis=1)
    return ids.astype(np.int32), np.take_along_axis(vals, order, axis=1)


def greedy(llm, prompt: list[int], n_gen: int) -> tuple[list[int], float]:
    """Exactly n_gen argmax tokens (no EOG stop); also the smallest top-1/top-2 logit gap."""
    llm.reset()
    llm.eval(prompt)
    out: list[int] = []
    min_gap = float("inf")
    for step in range(n_gen):
        logits = np.asarray(llm.scores[llm.n_tokens - 1], dtype=np.float32)
        two = np.partition(logits, -2)[-2:]
        min_gap = min(min_gap, float(two[1] - two[0]))
        tok = int(np.argmax(logits))
        out.append(tok)
        if step + 1 < n_gen:
            llm.eval([tok])
    return out, min_gap


def corpus_paragraphs() -> list[str]:
    paras: list[str] = []
    for f in sorted(TEXT_DIR.glob("*.txt")):
        text = f.read_text(encoding="utf-8")
        paras += [p for p in text.split("\n\n") if p.strip()]
    return paras


def corpus_sequences(llm, add_bos: bool) -> list[list[int]]:
    """Pack whole paragraphs into texts of <= MAX_SEQ tokens; tokenize each text as a whole."""
    def tok(text: str) -> list[int]:
        return llm.tokenize(text.encode("utf-8"), add_bos=add_bos, special=False)

    seqs: list[list[int]] = []
    current = ""
    for para in corpus_paragraphs():
        candidate = para if not current else current + "\n\n" + para
        if len(tok(candidate)) <= MAX_SEQ:
            current = candidate
            continue
        if current:
            seqs.append(tok(current))
        current = para
        if len(tok(current)) > MAX_SEQ:            # a paragraph longer than a sequence: cut it
            seqs.append(tok(current)[:MAX_SEQ])
            current = ""
    if current:
        seqs.append(tok(current))
    return seqs


def random_sequences(n_vocab: int) -> list[list[int]]:
    rng = np.random.default_rng(SEED)
    return [[int(t) for t in rng.integers(0, n_vocab, 256)] for _ in range(4)]


def prompts_for(entry: ModelEntry, llm, add_bos: bool) -> tuple[list[list[int]], list[str]]:
    if not entry.real:
        rng = np.random.default_rng(SEED + 1)
        toks = [[int(t) for t in rng.integers(0, llm.n_vocab(), int(rng.integers(8, 25)))]
                for _ in range(10)]
        return toks, ["<random token ids>"] * 10
    texts = PLAIN_PROMPTS + (CHAT_PROMPTS[entry.chat] if entry.chat else EXTRA_PLAIN)
    toks = []
    for i, t in enumerate(texts):
        special = i >= len(PLAIN_PROMPTS) and entry.chat is not None
        ids = llm.tokenize(t.encode("utf-8"), add_bos=add_bos, special=special)
        assert len(ids) >= 8, (t, ids)
        toks.append(ids)
    return toks, texts


# ----------------------------------------------------------------------------------------------
# File format
# ----------------------------------------------------------------------------------------------
def write_golden(path: Path, n_vocab: int, seqs, greedy_runs) -> None:
    buf = io.BytesIO()
    buf.write(MAGIC)
    buf.write(struct.pack("<II", VERSION, n_vocab))
    buf.write(struct.pack("<I", len(seqs)))
    for tokens, ids, lps in seqs:
        buf.write(struct.pack("<I", len(tokens)))
        buf.write(np.asarray(tokens, dtype="<i4").tobytes())
        buf.write(struct.pack("<I", ids.shape[1]))
        for p in range(len(tokens)):
            buf.write(ids[p].astype("<i4").tobytes())
            buf.write(lps[p].astype("<f4").tobytes())
    buf.write(struct.pack("<I", len(greedy_runs)))
    for prompt, gen in greedy_runs:
        buf.write(struct.pack("<I", len(prompt)))
        buf.write(np.asarray(prompt, dtype="<i4").tobytes())
        buf.write(struct.pack("<I", len(gen)))
        buf.write(np.asarray(gen, dtype="<i4").tobytes())
    path.write_bytes(buf.getvalue())


def read_golden(path: Path):
    data = path.read_bytes()
    off = 0

    def take(fmt: str):
        nonlocal off
        vals = struct.unpack_from(fmt, data, off)
        off += struct.calcsize(fmt)
        return vals

    def arr(dtype: str, n: int) -> np.ndarray:
        nonlocal off
        a = np.frombuffer(data, dtype=dtype, count=n, offset=off)
        off += a.nbytes
        return a

    assert data[:8] == MAGIC, "bad magic"
    off = 8
    version, n_vocab = take("<II")
    assert version == VERSION
    (n_seq,) = take("<I")
    seqs = []
    for _ in range(n_seq):
        (n,) = take("<I")
        tokens = arr("<i4", n)
        (k,) = take("<I")
        rec = arr("<i4", n * 2 * k).reshape(n, 2 * k)
        ids = rec[:, :k].copy()
        lps = rec[:, k:].copy().view("<f4")
        seqs.append((tokens, ids, lps))
    (n_greedy,) = take("<I")
    runs = []
    for _ in range(n_greedy):
        (n,) = take("<I")
        prompt = arr("<i4", n)
        (g,) = take("<I")
        runs.append((prompt, arr("<i4", g)))
    assert off == len(data), "trailing bytes"
    return n_vocab, seqs, runs


# ----------------------------------------------------------------------------------------------
# Comparisons
# ----------------------------------------------------------------------------------------------
def kl_top_rest(ref_ids: np.ndarray, ref_lp: np.ndarray, other_lp_full: np.ndarray) -> np.ndarray:
    """KL(ref || other) over the reference's top-k ids plus one bucket for the rest."""
    p = np.exp(ref_lp.astype(np.float64))
    q = np.exp(np.take_along_axis(other_lp_full, ref_ids.astype(np.int64), axis=1))
    p_rest = np.clip(1.0 - p.sum(axis=1), 1e-12, None)
    q_rest = np.clip(1.0 - q.sum(axis=1), 1e-12, None)
    return (p * (np.log(p) - np.log(q))).sum(axis=1) + p_rest * (np.log(p_rest) - np.log(q_rest))


def summarize(values: np.ndarray) -> dict:
    return {"mean": float(values.mean()), "p99": float(np.percentile(values, 99)),
            "max": float(values.max())}


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def reference_info() -> dict:
    import llama_cpp
    libdir = Path(llama_cpp.__file__).parent / "lib"
    libs = sorted(p.name for p in libdir.glob("lib*.so.*.*.*")) if libdir.exists() else []
    return {"package": "llama-cpp-python", "version": llama_cpp.__version__,
            "bundled_libraries": libs,
            "llama_cpp_commit": "not exposed by the installed wheel (see the libraries' versions)",
            "system_info": llama_cpp.llama_print_system_info().decode(errors="replace").strip(),
            "python": platform.python_version(), "numpy": np.__version__}


# ----------------------------------------------------------------------------------------------
def generate(entry: ModelEntry, noise_floor: bool) -> None:
    path = entry.reference_path()
    t0 = time.time()
    llm = load(path)
    n_vocab = llm.n_vocab()
    add_bos = add_bos_of(llm)
    token_seqs = corpus_sequences(llm, add_bos) if entry.real else random_sequences(n_vocab)
    seqs = []
    full_logits = []
    top1_p = []
    logit_std = []
    for tokens in token_seqs:
        logits = eval_logits(llm, tokens)
        lp = log_softmax64(logits)
        ids, vals = top_k(lp, TOP_K)
        seqs.append((tokens, ids, vals.astype(np.float32)))
        top1_p.append(np.exp(vals[:, 0]))
        logit_std.append(logits.std(axis=1))
        if noise_floor and len(full_logits) < NOISE_SEQS:
            full_logits.append(logits)
    prompts, prompt_texts = prompts_for(entry, llm, add_bos)
    runs = []
    gaps = []
    for prompt in prompts:
        gen, gap = greedy(llm, prompt, N_GEN)
        runs.append((prompt, gen))
        gaps.append(gap)
    import llama_cpp
    eog = [t for t in range(n_vocab) if llama_cpp.llama_vocab_is_eog(llm._model.vocab, t)]
    del llm

    consistency = None
    if noise_floor:
        # The reference against itself with a different batch split (n_batch = n_ubatch = 64):
        # the smallest differences an independent implementation can be expected to reach.
        llm64 = load(path, n_batch=64)
        kls, kl_full, agree, dmax = [], [], 0, 0.0
        for (tokens, ids, vals), logits512 in zip(seqs, full_logits):
            lp64 = log_softmax64(eval_logits(llm64, tokens))
            kls.append(kl_top_rest(ids, vals, lp64))
            lp512 = log_softmax64(logits512)
            kl_full.append((np.exp(lp512) * (lp512 - lp64)).sum(axis=1))
            agree += int((lp64.argmax(axis=1) == ids[:, 0]).sum())
            dmax = max(dmax, float(np.abs(np.take_along_axis(lp64, ids.astype(np.int64), 1)
                                          - vals).max()))
        del llm64
        n_pos = sum(len(s[0]) for s in seqs[: len(full_logits)])
        consistency = {
            "what": "llama.cpp n_batch=n_ubatch=512 vs a second run with n_batch=n_ubatch=64, "
                    "same threads, same file, same machine",
            "n_sequences": len(full_logits), "n_positions": n_pos,
            "note": "kl_top32_rest uses the stored float32 log-probs, so values below ~1e-7 are "
                    "at the storage precision; kl_full_vocab uses both runs' float32 logits",
            "kl_top32_rest": summarize(np.concatenate(kls)),
            "kl_full_vocab": summarize(np.concatenate(kl_full)),
            "top1_agreement": agree / n_pos,
            "max_abs_logprob_diff_top32": dmax,
        }

    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    gpath = GOLDEN_DIR / f"{entry.name}.golden"
    write_golden(gpath, n_vocab, seqs, runs)
    tp = np.concatenate(top1_p)
    ls = np.concatenate(logit_std)
    n_pos = sum(len(s[0]) for s in seqs)
    model_cmd = (f"tools/fetch_models.sh" if entry.real else
                 f"python tools/make_synthetic_model.py {SYNTH_COMMANDS[entry.file]} "
                 f"--out tests/data/models/{entry.file}")
    meta = {
        "format": "INFGLD01 version 1 (see tools/gen_golden_logits.py docstring or tests/README.md)",
        "golden_file": gpath.name,
        "golden_sha256": sha256(gpath),
        "model": {"file": entry.file, "sha256": sha256(entry.path()), "real": entry.real,
                  "obtain": model_cmd, "f32_weights": entry.f32_weights,
                  "reference_weights": ("the file's tensors dequantized to f32 by llama.cpp "
                                        "(llama_model_quantize, LLAMA_FTYPE_ALL_F32); infera loads "
                                        "the file with LoadOptions::f32_weights")
                  if entry.f32_weights else "the file as it is"},
        "reference": reference_info(),
        "settings": {"n_ctx": N_CTX, "n_batch": N_BATCH, "n_ubatch": N_BATCH,
                     "n_threads": N_THREADS, "logits_all": True, "seed": SEED,
                     "flash_attn": False, "kv_cache_type": "f16 (llama.cpp default)",
                     "top_k": TOP_K, "logprobs": "log_softmax of the full logits in float64, "
                     "stored as float32, sorted by decreasing log-prob (ties by id)",
                     "add_bos": add_bos, "max_tokens_per_sequence": MAX_SEQ},
        "teacher_forced": {
            "source": ("tools/golden_text/*.txt (sorted by name), split at blank lines into "
                       "paragraphs, packed into texts of <= 512 tokens, each text tokenized as a "
                       "whole with llama.tokenize(text, add_bos, special=False)")
            if entry.real else
            f"4 sequences of 256 uniform random token ids, numpy default_rng({SEED})",
            "n_sequences": len(seqs), "tokens_per_sequence": [len(s[0]) for s in seqs],
            "n_positions": n_pos,
            "each_sequence": "evaluated from an empty KV cache (llm.reset()), positions 0..n-1; "
                             "position p's distribution predicts token p+1 (the last one predicts "
                             "a token not in the sequence)",
            "top1_prob": {"median": float(np.median(tp)), "p10": float(np.percentile(tp, 10)),
                          "p90": float(np.percentile(tp, 90))},
            "logit_std_mean": float(ls.mean()),
        },
        "greedy": {
            "n_prompts": len(runs), "n_gen": N_GEN,
            "rule": "argmax over the logits of llm.scores (ties: lowest id), exactly 64 tokens, "
                    "no penalties, no EOG stop (compare the prefix up to the first EOG if the "
                    "engine stops there)",
            "prompts": [{"text": t, "special_tokens_parsed": entry.real and i >= len(PLAIN_PROMPTS)
                         and entry.chat is not None, "n_prompt": len(p)}
                        for i, (t, p) in enumerate(zip(prompt_texts, prompts))],
            "min_top1_top2_logit_gap": gaps,
            "eog_token_ids": eog,
        },
        "self_consistency": consistency,
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "generation_seconds": round(time.time() - t0, 1),
        "regenerate": f"/path/to/venv/bin/python tools/gen_golden_logits.py --only {entry.name}",
        "staleness": "These outputs go stale when the model file (sha256 above) or the reference "
                     "(llama-cpp-python / its bundled llama.cpp) changes; regenerate and commit "
                     "the .golden and .json together.",
    }
    (GOLDEN_DIR / f"{entry.name}.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False)
                                                   + "\n", encoding="utf-8")
    print(f"{entry.name}: {len(seqs)} sequences, {n_pos} positions, {len(runs)} greedy runs, "
          f"{gpath.stat().st_size / 1024:.0f} KiB, top-1 p median {np.median(tp):.3f}, "
          f"logit std {ls.mean():.2f}, {time.time() - t0:.0f} s"
          + (f", noise floor KL(top32+rest) mean {consistency['kl_top32_rest']['mean']:.2e}"
             f" top-1 agreement {consistency['top1_agreement']:.4f}" if consistency else ""))


def check(entry: ModelEntry) -> bool:
    gpath = GOLDEN_DIR / f"{entry.name}.golden"
    n_vocab, seqs, runs = read_golden(gpath)
    llm = load(entry.reference_path())
    ok = llm.n_vocab() == n_vocab
    add_bos = add_bos_of(llm)
    if entry.real:
        fresh = corpus_sequences(llm, add_bos)
        same_tokens = len(fresh) == len(seqs) and all(
            list(a) == list(b[0]) for a, b in zip(fresh, seqs))
        ok &= same_tokens
    kls, agree, n_pos, dmax = [], 0, 0, 0.0
    for tokens, ids, lps in seqs:
        lp = log_softmax64(eval_logits(llm, [int(t) for t in tokens]))
        kls.append(kl_top_rest(ids, lps, lp))
        agree += int((lp.argmax(axis=1) == ids[:, 0]).sum())
        n_pos += len(tokens)
        dmax = max(dmax, float(np.abs(np.take_along_axis(lp, ids.astype(np.int64), 1) - lps).max()))
    kl = np.concatenate(kls)
    greedy_same = 0
    for prompt, gen in runs:
        out, _ = greedy(llm, [int(t) for t in prompt], len(gen))
        greedy_same += int(list(out) == list(gen))
    ok &= greedy_same == len(runs) and agree == n_pos
    print(f"{entry.name}: {'OK' if ok else 'DIFFERS'}  positions {n_pos}, top-1 agreement "
          f"{agree / n_pos:.4f}, KL(top32+rest) mean {kl.mean():.2e} max {kl.max():.2e}, "
          f"max |dlogprob| {dmax:.2e}, greedy identical {greedy_same}/{len(runs)}"
          + ("" if not entry.real else f", corpus tokenization identical {same_tokens}"))
    return ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", action="append", choices=sorted(MODELS),
                    help="only this model (repeatable)")
    ap.add_argument("--check", action="store_true",
                    help="re-run the reference and report agreement with the committed files")
    ap.add_argument("--no-noise-floor", action="store_true",
                    help="skip the second (n_batch=64) run that measures the reference's noise")
    a = ap.parse_args()
    names = a.only or list(MODELS)
    failed = False
    for name in names:
        entry = MODELS[name]
        if not entry.path().exists():
            print(f"{name}: model file {entry.path()} not found, skipped "
                  f"({'run tools/fetch_models.sh' if entry.real else 'see SYNTH_COMMANDS'})",
                  file=sys.stderr)
            failed = True
            continue
        if a.check:
            failed |= not check(entry)
        else:
            generate(entry, noise_floor=not a.no_noise_floor)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
