#!/usr/bin/env python3
"""Write synthetic random-weight GGUF models with the shapes and metadata of real converted models.

The files carry the same tensor names, tensor shapes, `{arch}.*` hyper-parameter keys and
tokenizer keys that llama.cpp's convert_hf_to_gguf.py writes for the real model, so that both
llama.cpp and infera load them like the real thing; only the weights are random and the
vocabulary is a small byte-level BPE padded with placeholder tokens.

    python tools/make_synthetic_model.py --arch-preset tiny-qwen3 --type F32 --seed 1 \
        --out tests/data/models/tiny-qwen3-f32.gguf
    python tools/make_synthetic_model.py --list

The output is a pure function of (preset, type, seed): the same bytes on every run. Tensors are
generated, quantized and written one row-chunk at a time, so memory stays at a few hundred MB even
for the 8B preset (about 4.7 GB at Q4_0).

Weight types: F32, F16, BF16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 are quantized by gguf-py
(gguf.quants.quantize); Q2_K, Q3_K, Q4_K, Q5_K, Q6_K by the simple max-abs / min-max numpy
quantizers below (gguf-py 0.19 can only dequantize those), whose bytes are checked against
gguf-py's dequantizer with --self-test. Q4_K_M is llama.cpp's mix: Q6_K for the output matrix (the
token embedding when tied) and for attn_v / ffn_down of the layers llama.cpp's `use_more_bits`
picks, Q4_K elsewhere. Every other type is "pure": all 2-D weights get that type (llama.cpp's own
quantize would give output.weight Q6_K). A K type on a tensor whose rows are not a multiple of 256
falls back the way llama.cpp does (Q4_K->Q5_0, Q5_K->Q5_1, Q6_K->Q8_0, Q2_K/Q3_K->Q4_0 here, where
llama.cpp uses IQ4_NL). Norm weights, biases and rope_freqs stay F32 whatever --type says.
"""
from __future__ import annotations

import argparse
import hashlib
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

try:
    import gguf
    from gguf import GGMLQuantizationType as QT
except ImportError:  # pragma: no cover
    sys.exit("gguf-py is required: pip install -r tools/requirements.txt")

QK_K = 256


# ----------------------------------------------------------------------------------------------
# Presets: hyper-parameters of the real models (from their HF config.json), and tiny test shapes.
# ----------------------------------------------------------------------------------------------
@dataclass
class Preset:
    name: str
    arch: str               # llama | qwen2 | qwen3
    family: str             # llama3 | qwen  (tokenizer layout and chat template)
    n_vocab: int
    n_embd: int
    n_layer: int
    n_head: int
    n_head_kv: int
    head_dim: int
    n_ff: int
    n_ctx_train: int
    rope_theta: float
    rms_eps: float
    tied: bool
    qkv_bias: bool = False
    qk_norm: bool = False
    # Llama 3.1 rope scaling (factor, low_freq_factor, high_freq_factor, original ctx)
    rope_scaling: tuple[float, float, float, int] | None = None
    size_label: str = ""
    write_head_dim_keys: bool = True
    notes: str = ""
    extra: dict = field(default_factory=dict)


PRESETS: dict[str, Preset] = {p.name: p for p in [
    Preset("llama-3.2-1b", "llama", "llama3", 128256, 2048, 16, 32, 8, 64, 8192, 131072,
           500000.0, 1e-5, tied=True, rope_scaling=(32.0, 1.0, 4.0, 8192), size_label="1B"),
    Preset("llama-3.1-8b", "llama", "llama3", 128256, 4096, 32, 32, 8, 128, 14336, 131072,
           500000.0, 1e-5, tied=False, rope_scaling=(8.0, 1.0, 4.0, 8192), size_label="8B"),
    Preset("qwen2.5-0.5b", "qwen2", "qwen", 151936, 896, 24, 14, 2, 64, 4864, 32768,
           1000000.0, 1e-6, tied=True, qkv_bias=True, size_label="0.5B",
           write_head_dim_keys=False),
    Preset("qwen3-0.6b", "qwen3", "qwen3", 151936, 1024, 28, 16, 8, 128, 3072, 40960,
           1000000.0, 1e-6, tied=True, qk_norm=True, size_label="0.6B"),
    # Tiny test models (committed under tests/data/models as F32, each < 2 MB).
    Preset("tiny-llama", "llama", "llama3", 512, 128, 2, 4, 2, 32, 256, 2048,
           500000.0, 1e-5, tied=True, rope_scaling=(32.0, 1.0, 4.0, 8192), size_label="1M",
           notes="rope_freqs computed for head_dim 32 with the Llama 3.2 scaling parameters"),
    Preset("tiny-qwen2", "qwen2", "qwen", 512, 128, 2, 4, 2, 32, 256, 2048,
           1000000.0, 1e-6, tied=True, qkv_bias=True, size_label="1M",
           write_head_dim_keys=False),
    # head_dim 64 * 4 heads = 256 != n_embd 128, like Qwen3 (16 * 128 = 2048 != 1024).
    Preset("tiny-qwen3", "qwen3", "qwen3", 512, 128, 2, 4, 2, 64, 192, 2048,
           1000000.0, 1e-6, tied=True, qk_norm=True, size_label="1M"),
    # Rows of every 2-D weight are multiples of 256, so every K type applies to every tensor.
    Preset("tiny-llama-k", "llama", "llama3", 512, 256, 2, 4, 2, 64, 512, 2048,
           500000.0, 1e-5, tied=True, rope_scaling=(32.0, 1.0, 4.0, 8192), size_label="1M",
           notes="for K-quant tests: n_embd, n_head*head_dim and n_ff are multiples of 256"),
]}


# ----------------------------------------------------------------------------------------------
# Tokenizer: byte-level BPE (GPT-2 byte->unicode map) trained on a small built-in text.
# ----------------------------------------------------------------------------------------------
# Training text for the merges: written for this tool; the merges only need to be plausible.
BPE_TRAINING_TEXT = """\
The quick brown fox jumps over the lazy dog. The dog was not amused, and the fox ran into the
forest where the trees were tall and the light was green. In the morning the farmer counted his
chickens: one, two, three, four, five, six, seven, eight, nine, ten. There were ten of them, and
the fox had taken none. The farmer said that the fence would need to be mended before the winter.
It is a truth that models of language learn the patterns of the text that they are trained on,
and that the patterns of the text are the patterns of the people who wrote it. A model that has
seen the word "the" many thousands of times will give it a high probability in the next position.
def main(argv):
    for index, value in enumerate(argv):
        if value is None:
            return index
    return len(argv)

int main(int argc, char **argv) {
    for (int i = 0; i < argc; ++i) {
        printf("%d: %s\\n", i, argv[i]);
    }
    return 0;
}
{"name": "infera", "version": "0.1.0", "models": ["llama", "qwen2", "qwen3"], "threads": 2}
- first item in the list
- second item in the list
- third item in the list
On 2024-03-15 at 10:30 the temperature was 21.5 degrees and the pressure was 1013 hPa.
Le renard brun saute par-dessus le chien paresseux. Der schnelle braune Fuchs springt über den
faulen Hund. 敏捷的棕色狐狸跳过了懒狗。 素早い茶色の狐がのろまな犬を飛び越える。
The user asked the assistant a question, and the assistant answered the question with care.
"""

# GPT-2 style pre-split used only to train merges (llama.cpp applies its own regex at run time).
_TRAIN_SPLIT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d| ?[^\s\w]+|\s+(?!\S)|\s+""")


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable unicode character map."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) \
        + list(range(ord("®"), ord("ÿ") + 1))
    mapping = {}
    extra = 0
    for b in range(256):
        if b in printable:
            mapping[b] = chr(b)
        else:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


def train_bpe(text: str, n_merges: int) -> list[tuple[str, str]]:
    """Plain BPE: repeatedly merge the most frequent adjacent pair (ties broken by the pair's
    text, so the result is deterministic). Stops early when no pair occurs twice."""
    b2u = bytes_to_unicode()
    words: dict[tuple[str, ...], int] = {}
    for piece in _TRAIN_SPLIT.findall(text):
        symbols = tuple(b2u[b] for b in piece.encode("utf-8"))
        words[symbols] = words.get(symbols, 0) + 1
    merges: list[tuple[str, str]] = []
    while len(merges) < n_merges:
        counts: dict[tuple[str, str], int] = {}
        for symbols, freq in words.items():
            for pair in zip(symbols, symbols[1:]):
                counts[pair] = counts.get(pair, 0) + freq
        if not counts:
            break
        best = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        if best[1] < 2:
            break
        a, b = best[0]
        merges.append((a, b))
        merged: dict[tuple[str, ...], int] = {}
        for symbols, freq in words.items():
            out: list[str] = []
            i = 0
            while i < len(symbols):
                if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            key = tuple(out)
            merged[key] = merged.get(key, 0) + freq
        words = merged
    return merges


LLAMA3_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)
CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)

CONTROL = int(gguf.TokenType.CONTROL)
USER_DEFINED = int(gguf.TokenType.USER_DEFINED)
NORMAL = int(gguf.TokenType.NORMAL)
UNUSED = int(gguf.TokenType.UNUSED)


def special_tokens(p: Preset) -> tuple[int, list[tuple[str, int]], dict[str, int]]:
    """(first special id, [(text, type)] in id order, {bos/eos/pad: id})."""
    if p.family == "llama3":
        names = ["<|begin_of_text|>", "<|end_of_text|>", "<|reserved_special_token_0|>",
                 "<|reserved_special_token_1|>", "<|finetune_right_pad_id|>",
                 "<|reserved_special_token_2|>", "<|start_header_id|>", "<|end_header_id|>",
                 "<|eom_id|>", "<|eot_id|>", "<|python_tag|>"]
        n_special = 256 if p.n_vocab > 100000 else 16
        names += [f"<|reserved_special_token_{i}|>" for i in range(3, 3 + n_special - len(names))]
        first = p.n_vocab - n_special
        toks = [(n, CONTROL) for n in names]
        ids = {"bos": first, "eos": first + 9, "pad": None}      # eos = <|eot_id|> (instruct)
        return first, toks, ids
    names = [("<|endoftext|>", CONTROL), ("<|im_start|>", CONTROL), ("<|im_end|>", CONTROL)]
    if p.n_vocab > 100000:
        names += [(n, CONTROL) for n in [
            "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>", "<|box_end|>",
            "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>",
            "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>"]]
        names += [("<tool_call>", USER_DEFINED), ("</tool_call>", USER_DEFINED)]
        names += [(n, USER_DEFINED) for n in [
            "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>", "<|fim_pad|>",
            "<|repo_name|>", "<|file_sep|>"]]
        first = 151643                                           # real Qwen2/Qwen3 ids
    else:
        first = p.n_vocab - 16
    if p.family == "qwen3":
        names += [("<tool_response>", USER_DEFINED), ("</tool_response>", USER_DEFINED),
                  ("<think>", USER_DEFINED), ("</think>", USER_DEFINED)]
    ids = {"bos": first, "eos": first + 2, "pad": first}      # eos = <|im_end|>
    return first, names, ids


def build_vocab(p: Preset):
    b2u = bytes_to_unicode()
    first_special, specials, ids = special_tokens(p)
    n_regular = first_special
    merges = train_bpe(BPE_TRAINING_TEXT, min(n_regular - 256, 4000))
    tokens = [b2u[b] for b in range(256)] + [a + b for a, b in merges]
    # Duplicate merge results (two merges making the same string) are legal in BPE but would
    # give two ids one text; keep the first and turn later ones into placeholders.
    seen: set[str] = set()
    types = []
    for i, t in enumerate(tokens):
        if t in seen:
            tokens[i] = f"[PAD{i}]"
            types.append(UNUSED)
        else:
            seen.add(t)
            types.append(NORMAL)
    for i in range(len(tokens), n_regular):
        tokens.append(f"[PAD{i}]")
        types.append(UNUSED)
    for text, ttype in specials:
        tokens.append(text)
        types.append(ttype)
    for i in range(len(tokens), p.n_vocab):
        tokens.append(f"[PAD{i}]" if p.family != "llama3" else f"<|reserved_special_token_{i}|>")
        types.append(UNUSED if p.family != "llama3" else CONTROL)
    assert len(tokens) == p.n_vocab, (len(tokens), p.n_vocab)
    return tokens, types, [f"{a} {b}" for a, b in merges], ids


# ----------------------------------------------------------------------------------------------
# K-quant writers (numpy). Layouts follow ggml-common.h block_q*_K; checked by --self-test.
# ----------------------------------------------------------------------------------------------
def _f16(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float16).astype(np.float32)


def _safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b)).astype(np.float32)


def _asym_scales(x: np.ndarray, q_max: int, s_max: int):
    """Sub-block min/max quantization shared by Q2_K/Q4_K/Q5_K: x (nb, n_sub, sub) ->
    (d16, dmin16, sc, m, q) with y = d*sc*q - dmin*m."""
    mn = np.minimum(x.min(axis=-1), 0.0)
    mx = x.max(axis=-1)
    scale = (mx - mn) / q_max
    d = _f16(scale.max(axis=-1) / s_max)
    dmin = _f16((-mn).max(axis=-1) / s_max)
    sc = np.clip(np.rint(_safe_div(scale, d[:, None])), 0, s_max)
    m = np.clip(np.rint(_safe_div(-mn, dmin[:, None])), 0, s_max)
    eff_scale = d[:, None] * sc
    eff_min = dmin[:, None] * m
    q = np.clip(np.rint(_safe_div(x + eff_min[..., None], eff_scale[..., None])), 0, q_max)
    return d, dmin, sc.astype(np.uint8), m.astype(np.uint8), q.astype(np.uint8)


def _pack_k4_scales(sc: np.ndarray, m: np.ndarray) -> np.ndarray:
    """8 six-bit scales and mins -> 12 bytes (get_scale_min_k4 layout)."""
    out = np.empty((sc.shape[0], 12), dtype=np.uint8)
    out[:, 0:4] = (sc[:, 0:4] & 63) | ((sc[:, 4:8] >> 4) << 6)
    out[:, 4:8] = (m[:, 0:4] & 63) | ((m[:, 4:8] >> 4) << 6)
    out[:, 8:12] = (sc[:, 4:8] & 15) | ((m[:, 4:8] & 15) << 4)
    return out


def _h(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float16).reshape(-1, 1).view(np.uint8)


def quantize_q4_k(blocks: np.ndarray) -> np.ndarray:
    nb = blocks.shape[0]
    d, dmin, sc, m, q = _asym_scales(blocks.reshape(nb, 8, 32), 15, 63)
    q = q.reshape(nb, 4, 2, 32)
    qs = (q[:, :, 0, :] | (q[:, :, 1, :] << 4)).reshape(nb, 128)
    return np.concatenate([_h(d), _h(dmin), _pack_k4_scales(sc, m), qs], axis=1)


def quantize_q5_k(blocks: np.ndarray) -> np.ndarray:
    nb = blocks.shape[0]
    d, dmin, sc, m, q = _asym_scales(blocks.reshape(nb, 8, 32), 31, 63)
    q = q.reshape(nb, 256)
    low = (q & 15).reshape(nb, 4, 2, 32)
    qs = (low[:, :, 0, :] | (low[:, :, 1, :] << 4)).reshape(nb, 128)
    high = (q >> 4).reshape(nb, 8, 32)                 # element b*32+l -> byte l, bit b
    qh = np.zeros((nb, 32), dtype=np.uint8)
    for b in range(8):
        qh |= high[:, b, :] << b
    return np.concatenate([_h(d), _h(dmin), _pack_k4_scales(sc, m), qh, qs], axis=1)


def _pack_2bit(q: np.ndarray) -> np.ndarray:
    """256 two-bit values -> 64 bytes: element j*128 + s*32 + l at byte j*32 + l, bits 2s."""
    nb = q.shape[0]
    q = q.reshape(nb, 2, 4, 32)
    out = np.zeros((nb, 2, 32), dtype=np.uint8)
    for s in range(4):
        out |= (q[:, :, s, :] & 3) << (2 * s)
    return out.reshape(nb, 64)


def quantize_q2_k(blocks: np.ndarray) -> np.ndarray:
    nb = blocks.shape[0]
    d, dmin, sc, m, q = _asym_scales(blocks.reshape(nb, 16, 16), 3, 15)
    scales = (sc & 15) | (m << 4)
    return np.concatenate([scales, _pack_2bit(q.reshape(nb, 256)), _h(d), _h(dmin)], axis=1)


def _sym_scales(x: np.ndarray, q_lo: int, q_hi: int, s_max: int):
    """Symmetric sub-block scales for Q3_K/Q6_K: x (nb, n_sub, sub) -> (d16, sc, q)."""
    scale = np.abs(x).max(axis=-1) / (-q_lo)
    d = _f16(scale.max(axis=-1) / s_max)
    sc = np.clip(np.rint(_safe_div(scale, d[:, None])), 0, s_max)
    eff = d[:, None] * sc
    q = np.clip(np.rint(_safe_div(x, eff[..., None])), q_lo, q_hi)
    return d, sc.astype(np.int32), q.astype(np.int32)


def quantize_q3_k(blocks: np.ndarray) -> np.ndarray:
    nb = blocks.shape[0]
    d, sc, q = _sym_scales(blocks.reshape(nb, 16, 16), -4, 3, 31)
    u = (q + 4).reshape(nb, 256).astype(np.uint8)      # 0..7: low 2 bits in qs, bit 2 in hmask
    high = (u >> 2).reshape(nb, 8, 32)                 # element b*32+l -> byte l, bit b
    hmask = np.zeros((nb, 32), dtype=np.uint8)
    for b in range(8):
        hmask |= high[:, b, :] << b
    s = (sc + 32).astype(np.uint8)                     # 6-bit, stored offset by 32
    scales = np.empty((nb, 12), dtype=np.uint8)
    scales[:, 0:8] = (s[:, 0:8] & 15) | ((s[:, 8:16] & 15) << 4)
    hi = s >> 4                                        # scale k: byte 8 + k%4, bits 2*(k//4)
    scales[:, 8:12] = hi[:, 0:4] | (hi[:, 4:8] << 2) | (hi[:, 8:12] << 4) | (hi[:, 12:16] << 6)
    return np.concatenate([hmask, _pack_2bit(u & 3), scales, _h(d)], axis=1)


def quantize_q6_k(blocks: np.ndarray) -> np.ndarray:
    nb = blocks.shape[0]
    d, sc, q = _sym_scales(blocks.reshape(nb, 16, 16), -32, 31, 127)
    u = (q + 32).reshape(nb, 256).astype(np.uint8)
    low = (u & 15).reshape(nb, 2, 2, 64)               # element h*128 + n*64 + l -> byte h*64 + l
    ql = (low[:, :, 0, :] | (low[:, :, 1, :] << 4)).reshape(nb, 128)
    high = (u >> 4).reshape(nb, 2, 4, 32)              # element h*128 + s*32 + l -> byte h*32 + l
    qh = np.zeros((nb, 2, 32), dtype=np.uint8)
    for s in range(4):
        qh[:] |= high[:, :, s, :] << (2 * s)
    return np.concatenate([ql, qh.reshape(nb, 64), sc.astype(np.int8).view(np.uint8), _h(d)],
                          axis=1)


K_QUANTIZERS = {QT.Q2_K: quantize_q2_k, QT.Q3_K: quantize_q3_k, QT.Q4_K: quantize_q4_k,
                QT.Q5_K: quantize_q5_k, QT.Q6_K: quantize_q6_k}
K_FALLBACK = {QT.Q2_K: QT.Q4_0, QT.Q3_K: QT.Q4_0, QT.Q4_K: QT.Q5_0, QT.Q5_K: QT.Q5_1,
              QT.Q6_K: QT.Q8_0}


def quantize_rows(rows: np.ndarray, qtype: QT) -> np.ndarray:
    """float32 (n_rows, n_cols) -> the tensor's bytes as written in the file."""
    if qtype == QT.F32:
        return np.ascontiguousarray(rows, dtype=np.float32)
    if qtype in K_QUANTIZERS:
        n_rows, n_cols = rows.shape
        blocks = rows.reshape(-1, QK_K).astype(np.float32)
        out = K_QUANTIZERS[qtype](blocks)
        return out.reshape(n_rows, -1)
    return gguf.quants.quantize(rows, qtype)


def self_test() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 512), dtype=np.float32)
    x[0] = 0.0                                          # all-zero row must not produce NaN
    x[1] = np.abs(x[1])                                 # all-positive row (min clamps to 0)
    for qt, bound in [(QT.Q2_K, 0.45), (QT.Q3_K, 0.25), (QT.Q4_K, 0.12), (QT.Q5_K, 0.06),
                      (QT.Q6_K, 0.03)]:
        data = quantize_rows(x, qt)
        bsize, tsize = gguf.GGML_QUANT_SIZES[qt]
        assert data.shape == (64, 512 // bsize * tsize), (qt.name, data.shape)
        y = gguf.quants.dequantize(data, qt)
        assert np.all(np.isfinite(y))
        rel = float(np.sqrt(np.mean((y - x) ** 2) / np.mean(x ** 2)))
        print(f"self-test {qt.name}: relative RMS error {rel:.4f} (bound {bound})")
        assert rel < bound, qt.name
        assert np.all(y[0] == 0.0)
    print("self-test OK")


# ----------------------------------------------------------------------------------------------
# Model tensors
# ----------------------------------------------------------------------------------------------
def rope_freqs(head_dim: int, theta: float, scaling: tuple[float, float, float, int]) -> np.ndarray:
    """Llama 3.1 rope scaling factors, as convert_hf_to_gguf.py LlamaModel computes them (in
    float32, the dtype of its torch tensors). ref: convert_hf_to_gguf.py generate_extra_tensors."""
    factor, low_freq_factor, high_freq_factor, old_ctx = scaling
    f32 = np.float32
    freqs = f32(1.0) / (f32(theta) ** (np.arange(0, head_dim, 2, dtype=f32) / f32(head_dim)))
    low_freq_wavelen = old_ctx / low_freq_factor
    high_freq_wavelen = old_ctx / high_freq_factor
    out = []
    for freq in freqs:
        wavelen = f32(2 * math.pi) / freq
        if wavelen < high_freq_wavelen:
            out.append(f32(1.0))
        elif wavelen > low_freq_wavelen:
            out.append(f32(factor))
        else:
            smooth = (f32(old_ctx) / wavelen - f32(low_freq_factor)) \
                / f32(high_freq_factor - low_freq_factor)
            out.append(f32(1.0) / ((f32(1.0) - smooth) / f32(factor) + smooth))
    return np.array(out, dtype=np.float32)


@dataclass
class TensorSpec:
    name: str
    shape: tuple[int, ...]      # numpy order: (rows, cols) = (ne1, ne0)
    kind: str                   # weight | embd | norm | bias | qknorm | const
    std: float = 0.0
    qtype: QT = QT.F32
    const: np.ndarray | None = None


def use_more_bits(i_layer: int, n_layers: int) -> bool:
    # ref: llama.cpp src/llama-quant.cpp (integer arithmetic as in C++)
    return i_layer < n_layers // 8 or i_layer >= 7 * n_layers // 8 \
        or (i_layer - n_layers // 8) % 3 == 2


def tensor_specs(p: Preset, wtype: str) -> list[TensorSpec]:
    q_dim = p.n_head * p.head_dim
    kv_dim = p.n_head_kv * p.head_dim
    # Logits = rmsnorm(h) . W_out: with unit-RMS rows and W_out ~ N(0, s^2), logit std ~ s*sqrt(dim).
    # Larger vocabularies need a wider spread for the top-1 probability to stay in ~0.1-0.9.
    logit_std = 4.0 if p.n_vocab < 10000 else 5.5
    out_std = logit_std / math.sqrt(p.n_embd)
    specs = [TensorSpec("token_embd.weight", (p.n_vocab, p.n_embd), "embd",
                        out_std if p.tied else 1.0)]
    for i in range(p.n_layer):
        b = f"blk.{i}."
        specs.append(TensorSpec(b + "attn_norm.weight", (p.n_embd,), "norm"))
        specs.append(TensorSpec(b + "attn_q.weight", (q_dim, p.n_embd), "weight", p.n_embd ** -0.5))
        specs.append(TensorSpec(b + "attn_k.weight", (kv_dim, p.n_embd), "weight", p.n_embd ** -0.5))
        specs.append(TensorSpec(b + "attn_v.weight", (kv_dim, p.n_embd), "weight", p.n_embd ** -0.5))
        if p.qkv_bias:
            specs.append(TensorSpec(b + "attn_q.bias", (q_dim,), "bias", 0.1))
            specs.append(TensorSpec(b + "attn_k.bias", (kv_dim,), "bias", 0.1))
            specs.append(TensorSpec(b + "attn_v.bias", (kv_dim,), "bias", 0.1))
        if p.qk_norm:
            specs.append(TensorSpec(b + "attn_q_norm.weight", (p.head_dim,), "norm"))
            specs.append(TensorSpec(b + "attn_k_norm.weight", (p.head_dim,), "norm"))
        specs.append(TensorSpec(b + "attn_output.weight", (p.n_embd, q_dim), "weight", q_dim ** -0.5))
        specs.append(TensorSpec(b + "ffn_norm.weight", (p.n_embd,), "norm"))
        specs.append(TensorSpec(b + "ffn_gate.weight", (p.n_ff, p.n_embd), "weight", p.n_embd ** -0.5))
        specs.append(TensorSpec(b + "ffn_up.weight", (p.n_ff, p.n_embd), "weight", p.n_embd ** -0.5))
        # SiLU(gate)*up has RMS ~0.5 for unit inputs; scale down_proj up so the FFN contributes.
        specs.append(TensorSpec(b + "ffn_down.weight", (p.n_embd, p.n_ff), "weight",
                                2.0 * p.n_ff ** -0.5))
    specs.append(TensorSpec("output_norm.weight", (p.n_embd,), "norm"))
    if not p.tied:
        specs.append(TensorSpec("output.weight", (p.n_vocab, p.n_embd), "weight", out_std))
    if p.rope_scaling is not None:
        specs.append(TensorSpec("rope_freqs.weight", (p.head_dim // 2,), "const",
                                const=rope_freqs(p.head_dim, p.rope_theta, p.rope_scaling)))

    # Weight types.
    for s in specs:
        if s.kind not in ("weight", "embd"):
            s.qtype = QT.F32
            continue
        if wtype == "Q4_K_M":
            qt = QT.Q4_K
            is_output = s.name == "output.weight" or (p.tied and s.name == "token_embd.weight")
            m = re.match(r"blk\.(\d+)\.(attn_v|ffn_down)\.weight", s.name)
            if is_output or (m and use_more_bits(int(m.group(1)), p.n_layer)):
                qt = QT.Q6_K
        else:
            qt = QT[wtype]
        if qt in K_FALLBACK and s.shape[-1] % QK_K != 0:
            qt = K_FALLBACK[qt]
        bsize, _ = gguf.GGML_QUANT_SIZES[qt]
        if s.shape[-1] % bsize != 0:
            raise SystemExit(f"{s.name}: row length {s.shape[-1]} is not a multiple of the "
                             f"{qt.name} block size {bsize}")
        s.qtype = qt
    return specs


def tensor_rng(seed: int, name: str) -> np.random.Generator:
    digest = hashlib.sha256(name.encode()).digest()
    return np.random.default_rng([seed, int.from_bytes(digest[:8], "little")])


def tensor_chunks(s: TensorSpec, seed: int, chunk_elems: int = 1 << 24):
    """Yield the tensor's file bytes in row chunks (fixed by the shape, so output is stable)."""
    rng = tensor_rng(seed, s.name)
    if s.kind == "const":
        yield s.const.astype(np.float32)
        return
    if s.kind == "norm":
        yield (1.0 + 0.1 * rng.standard_normal(s.shape, dtype=np.float32)).astype(np.float32)
        return
    if s.kind == "bias":
        yield (s.std * rng.standard_normal(s.shape, dtype=np.float32)).astype(np.float32)
        return
    n_rows, n_cols = s.shape
    rows_per_chunk = max(1, chunk_elems // n_cols)
    for r0 in range(0, n_rows, rows_per_chunk):
        n = min(rows_per_chunk, n_rows - r0)
        w = rng.standard_normal((n, n_cols), dtype=np.float32)
        w *= np.float32(s.std)
        yield quantize_rows(w, s.qtype)


FILE_TYPES = {
    "F32": gguf.LlamaFileType.ALL_F32, "F16": gguf.LlamaFileType.MOSTLY_F16,
    "BF16": gguf.LlamaFileType.MOSTLY_BF16, "Q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
    "Q4_1": gguf.LlamaFileType.MOSTLY_Q4_1, "Q5_0": gguf.LlamaFileType.MOSTLY_Q5_0,
    "Q5_1": gguf.LlamaFileType.MOSTLY_Q5_1, "Q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    "Q2_K": gguf.LlamaFileType.MOSTLY_Q2_K, "Q3_K": gguf.LlamaFileType.MOSTLY_Q3_K_S,
    "Q4_K": gguf.LlamaFileType.MOSTLY_Q4_K_S, "Q5_K": gguf.LlamaFileType.MOSTLY_Q5_K_S,
    "Q6_K": gguf.LlamaFileType.MOSTLY_Q6_K, "Q4_K_M": gguf.LlamaFileType.MOSTLY_Q4_K_M,
}


def write_model(p: Preset, wtype: str, seed: int, out: Path, quiet: bool = False) -> None:
    specs = tensor_specs(p, wtype)
    tokens, types, merges, ids = build_vocab(p)
    w = gguf.GGUFWriter(out, p.arch)
    arch = p.arch
    w.add_type("model")
    w.add_name(f"synthetic {p.name} (random weights, seed {seed})")
    w.add_description("Synthetic model written by infera tools/make_synthetic_model.py: real "
                      "tensor shapes and metadata, random weights, toy byte-level BPE vocabulary.")
    w.add_size_label(p.size_label)
    w.add_uint32(f"{arch}.block_count", p.n_layer)
    w.add_uint32(f"{arch}.context_length", p.n_ctx_train)
    w.add_uint32(f"{arch}.embedding_length", p.n_embd)
    w.add_uint32(f"{arch}.feed_forward_length", p.n_ff)
    w.add_uint32(f"{arch}.attention.head_count", p.n_head)
    w.add_uint32(f"{arch}.attention.head_count_kv", p.n_head_kv)
    w.add_float32(f"{arch}.rope.freq_base", p.rope_theta)
    w.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", p.rms_eps)
    if p.write_head_dim_keys:
        w.add_uint32(f"{arch}.attention.key_length", p.head_dim)
        w.add_uint32(f"{arch}.attention.value_length", p.head_dim)
    if arch == "llama":
        w.add_uint32(f"{arch}.vocab_size", p.n_vocab)
        w.add_uint32(f"{arch}.rope.dimension_count", p.head_dim)
    w.add_file_type(int(FILE_TYPES[wtype]))
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("llama-bpe" if p.family == "llama3" else "qwen2")
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(ids["bos"])
    w.add_eos_token_id(ids["eos"])
    if ids["pad"] is not None:
        w.add_pad_token_id(ids["pad"])
    w.add_bool("tokenizer.ggml.add_bos_token", p.family == "llama3")
    w.add_chat_template(LLAMA3_TEMPLATE if p.family == "llama3" else CHATML_TEMPLATE)

    total = 0
    for s in specs:
        bsize, tsize = gguf.GGML_QUANT_SIZES[s.qtype]
        nbytes = int(np.prod(s.shape)) // bsize * tsize
        total += nbytes
        w.add_tensor_info(s.name, s.shape, np.dtype(np.float32), nbytes, raw_dtype=s.qtype)

    w.write_header_to_file(out)
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    fout = w.fout[0]
    align = w.data_alignment
    # Tensor data, streamed chunk by chunk (GGUFWriter.write_tensor_data wants whole tensors).
    written = 0
    t0 = time.time()
    last_print = t0
    for s in specs:
        w.write_padding(fout, fout.tell())
        n = 0
        for chunk in tensor_chunks(s, seed):
            chunk.tofile(fout)
            n += chunk.nbytes
            written += chunk.nbytes
            now = time.time()
            if not quiet and now - last_print > 2.0:
                last_print = now
                print(f"  {written / 2**20:9.1f} / {total / 2**20:.1f} MiB  ({s.name})",
                      file=sys.stderr, flush=True)
        bsize, tsize = gguf.GGML_QUANT_SIZES[s.qtype]
        assert n == int(np.prod(s.shape)) // bsize * tsize, s.name
        w.write_padding(fout, n, align)
    w.tensors[0].clear()
    w.close()
    if not quiet:
        counts: dict[str, int] = {}
        for s in specs:
            counts[s.qtype.name] = counts.get(s.qtype.name, 0) + 1
        mix = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
        print(f"wrote {out} ({out.stat().st_size / 2**20:.2f} MiB, {len(specs)} tensors [{mix}], "
              f"{time.time() - t0:.1f} s)", file=sys.stderr)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--arch-preset", choices=sorted(PRESETS))
    ap.add_argument("--type", default="F32", choices=list(FILE_TYPES))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--list", action="store_true", help="list the presets and exit")
    ap.add_argument("--self-test", action="store_true",
                    help="check the numpy K-quantizers against gguf-py's dequantizer and exit")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args()
    if a.self_test:
        self_test()
        return
    if a.list:
        for p in PRESETS.values():
            n_params = sum(int(np.prod(s.shape)) for s in tensor_specs(p, "F32"))
            print(f"{p.name:14s} arch={p.arch:6s} vocab={p.n_vocab:6d} dim={p.n_embd:5d} "
                  f"layers={p.n_layer:2d} heads={p.n_head}/{p.n_head_kv} head_dim={p.head_dim} "
                  f"ffn={p.n_ff} tied={p.tied} params={n_params / 1e6:.1f}M")
        return
    if not a.arch_preset or not a.out:
        ap.error("--arch-preset and --out are required")
    write_model(PRESETS[a.arch_preset], a.type, a.seed, a.out, a.quiet)


if __name__ == "__main__":
    main()
