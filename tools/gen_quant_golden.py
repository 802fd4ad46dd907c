#!/usr/bin/env python3
"""Writes the quantization golden files in tests/data/quant/ from gguf-py's numpy reference.

Regenerate (deterministic: fixed seed, same bytes every run with the same gguf/numpy):
    .venv/bin/python tools/gen_quant_golden.py            # from the repository root
Regenerate when the file format below changes (bump VERSION here and kGoldenVersion in
tests/unit/quant_golden_test.cpp), when gguf-py's reference changes, or to add types/cases.

Each file, little-endian:
    offset  0  char[8] magic  b"IFQGOLD\\0"
    offset  8  u32 version    (VERSION)
    offset 12  u32 kind       1 = dequantize: input is block bytes, output float32
                              2 = quantize:   input is float32, output is block bytes
    offset 16  u32 ggml type id
    offset 20  u32 n_elements (number of float32 values)
    offset 24  u32 n_bytes    (number of quantized bytes)
    offset 28  u32 reserved   (0)
    offset 32  kind 1: u8[n_bytes] blocks, then f32[n_elements] gguf.quants.dequantize(blocks)
               kind 2: f32[n_elements] input, then u8[n_bytes] gguf.quants.quantize(input)
Files: deq_<TYPE>.bin for every type gguf-py dequantizes that infera supports, quant_<TYPE>.bin
for every one of those gguf-py can quantize. deq_F16.bin holds all 65536 half values.
"""

from __future__ import annotations

import struct
import sys
from pathlib import Path

import numpy as np

import gguf
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES

MAGIC = b"IFQGOLD\0"
VERSION = 1
KIND_DEQUANTIZE = 1
KIND_QUANTIZE = 2
SEED = 0x1F0A_2025

OUT_DIR = Path(__file__).resolve().parent.parent / "tests" / "data" / "quant"

# Byte offsets of the fp16 fields (d, dmin / m) inside each block: ggml-common.h layouts.
FP16_FIELDS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q5_1: [0, 2],
    T.Q8_0: [0],
    T.Q2_K: [80, 82],
    T.Q3_K: [108],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
}
LEGACY_BLOCKS = 128  # blocks per dequantize golden of a 32-element type
K_BLOCKS = 32  # blocks per dequantize golden of a 256-element type
QUANT_BLOCKS = 96  # blocks per quantize golden


def write_golden(name: str, kind: int, qtype: T, floats: np.ndarray, blob: np.ndarray) -> None:
    floats = np.ascontiguousarray(floats, dtype="<f4").ravel()
    blob = np.ascontiguousarray(blob).view(np.uint8).ravel()
    header = MAGIC + struct.pack("<6I", VERSION, kind, int(qtype), floats.size, blob.size, 0)
    if kind == KIND_DEQUANTIZE:
        body = blob.tobytes() + floats.tobytes()
    else:
        body = floats.tobytes() + blob.tobytes()
    (OUT_DIR / name).write_bytes(header + body)


def random_fp16_scales(rng: np.random.Generator, n: int) -> np.ndarray:
    """Finite fp16 bit patterns: signed values over many magnitudes, some of them subnormal."""
    mag = 10.0 ** rng.uniform(-7, 3, size=n)
    vals = (rng.standard_normal(n) * mag).astype(np.float32)
    with np.errstate(over="ignore"):
        h = vals.astype(np.float16)
    h[~np.isfinite(h)] = np.float16(1.0)
    return h.view(np.uint16)


def set_fp16(blocks: np.ndarray, offset: int, values) -> None:
    v = np.asarray(values, dtype=np.uint16).astype("<u2").view(np.uint8).reshape(-1, 2)
    blocks[:, offset : offset + 2] = v


def dequantize_case(rng: np.random.Generator, qtype: T) -> None:
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    n_blocks = LEGACY_BLOCKS if block_size == 32 else K_BLOCKS
    blocks = rng.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    fields = FP16_FIELDS[qtype]
    for off in fields:
        set_fp16(blocks, off, random_fp16_scales(rng, n_blocks))

    def edge(i: int, quant_byte: int | None, scales: list[int]) -> None:
        if quant_byte is not None:
            keep = {off for f in fields for off in (f, f + 1)}
            for k in range(type_size):
                if k not in keep:
                    blocks[i, k] = quant_byte
        for f, s in zip(fields, scales * len(fields)):
            set_fp16(blocks[i : i + 1], f, [s])

    edge(0, None, [0x0000])  # zero scales
    edge(1, None, [0xBE00, 0xB400])  # negative scales (-1.5, -0.25)
    edge(2, 0xFF, [0x3C00])  # every quant (and sub-scale) at its maximum, d = 1
    edge(3, 0x00, [0x3C00])  # every quant at its minimum
    edge(4, None, [0x0001, 0x83FF])  # subnormal scales, smallest and largest
    edge(5, 0xFF, [0x7BFF, 0xFBFF])  # largest finite scales, +-65504
    edge(6, None, [0x8000])  # negative zero
    edge(7, 0x55, [0x3800, 0x3400])  # alternating bit patterns
    edge(8, 0xAA, [0xB800, 0x3C00])

    out = gguf.quants.dequantize(blocks.ravel(), qtype)
    assert out.dtype == np.float32 and out.size == n_blocks * block_size
    write_golden(f"deq_{qtype.name}.bin", KIND_DEQUANTIZE, qtype, out, blocks)


def dequantize_plain_cases(rng: np.random.Generator) -> None:
    # F16: every one of the 65536 half values (infinities and NaNs included).
    halves = np.arange(65536, dtype=np.uint32).astype("<u2")
    out = gguf.quants.dequantize(halves.view(np.uint8), T.F16)
    write_golden("deq_F16.bin", KIND_DEQUANTIZE, T.F16, out, halves)

    # BF16: random bit patterns plus the special values (the C++ test covers all 65536 by formula).
    special = [0x0000, 0x8000, 0x0001, 0x807F, 0x0080, 0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0x7FC0,
               0x7F81, 0xFFFF, 0x3F80, 0xBF80]
    bf = np.concatenate([np.array(special, dtype=np.uint16),
                         rng.integers(0, 65536, size=4096 - len(special), dtype=np.uint16)])
    bf = bf.astype("<u2")
    out = gguf.quants.dequantize(bf.view(np.uint8), T.BF16)
    write_golden("deq_BF16.bin", KIND_DEQUANTIZE, T.BF16, out, bf)

    # F32: identity, random bit patterns.
    f32 = rng.integers(0, 2**32, size=256, dtype=np.uint64).astype("<u4")
    out = gguf.quants.dequantize(f32.view(np.uint8), T.F32)
    write_golden("deq_F32.bin", KIND_DEQUANTIZE, T.F32, out, f32)


def quant_input_blocks(rng: np.random.Generator, qtype: T, block_size: int) -> np.ndarray:
    """Rows of float32 blocks: random scales plus edge blocks."""
    n = QUANT_BLOCKS
    mag = 10.0 ** rng.uniform(-3, 3, size=(n, 1))
    x = (rng.standard_normal((n, block_size)) * mag).astype(np.float32)
    symmetric = qtype in (T.Q4_0, T.Q5_0, T.Q8_0)
    x[0] = 0.0  # all zeros
    x[1] = 0.7  # all equal, positive
    x[2] = -3.25  # all equal, negative
    x[3] = rng.standard_normal(block_size)
    x[3, 5] = 1000.0  # positive outlier
    x[4] = rng.standard_normal(block_size)
    x[4, 17] = -1000.0  # negative outlier
    x[5] = rng.standard_normal(block_size)
    x[5, 3], x[5, 9] = 2.5, -2.5  # ties of magnitude: the first one sets the scale
    x[6] = rng.standard_normal(block_size)
    x[6, 3], x[6, 9] = -2.5, 2.5
    x[7] = rng.standard_normal(block_size) * 1e7  # scale overflows fp16
    x[8] = rng.standard_normal(block_size) * 1e-6  # subnormal fp16 scale
    x[9] = rng.standard_normal(block_size) * 1e-9  # scale rounds to zero in fp16
    # Exact rounding ties: choose the block so that the inverse scale is exactly 1.
    if qtype == T.Q4_0:
        x[10] = rng.integers(-16, 17, size=block_size) / 2.0
        x[10, 0] = -8.0
    elif qtype == T.Q5_0:
        x[10] = rng.integers(-32, 33, size=block_size) / 2.0
        x[10, 0] = -16.0
    elif qtype == T.Q8_0:
        x[10] = rng.integers(-254, 255, size=block_size) / 2.0
        x[10, 0] = 127.0
    elif qtype == T.Q4_1:
        x[10] = rng.integers(0, 31, size=block_size) / 2.0
        x[10, 0], x[10, 1] = 0.0, 15.0
    elif qtype == T.Q5_1:
        x[10] = rng.integers(0, 63, size=block_size) / 2.0
        x[10, 0], x[10, 1] = 0.0, 31.0
    if symmetric:
        # Zeros led by -0.0: gguf-py takes the sign of that element (d = +0.0, not ggml's -0.0).
        # Only for the argmax-based types: min()/max() of mixed +-0 is not defined by numpy.
        x[11] = 0.0
        x[11, 0] = -0.0
    x[12] = np.abs(rng.standard_normal(block_size)) + 5.0  # all positive, far from zero
    x[13] = -np.abs(rng.standard_normal(block_size)) - 5.0  # all negative
    if qtype != T.Q8_0:  # Q8_0 has no multiply-add to fuse
        for i in range(14, 20):
            x[i] = fma_sensitive_block(rng, qtype, block_size)
    return x


def fma_sensitive_block(rng: np.random.Generator, qtype: T, block_size: int) -> np.ndarray:
    """A block whose quants differ if `v * id + offset` is computed with one rounding (a fused
    multiply-add) instead of numpy's two: proves the C++ quantizer is not FMA-contracted."""
    f32 = np.float32
    symmetric = qtype in (T.Q4_0, T.Q5_0)
    levels = {T.Q4_0: 8, T.Q5_0: 16, T.Q4_1: 15, T.Q5_1: 31}[qtype]
    offset = f32(levels + 0.5) if symmetric else f32(0.5)
    for _ in range(1000):
        if symmetric:
            base = f32(rng.uniform(1, 10) * rng.choice([-1, 1]))  # the block's max, sets d
            d = f32(base / f32(-levels))
            lo, hi, out = -abs(base), abs(base), [base]
            targets = np.arange(1, 2 * levels) - np.float64(offset)  # v * id near these
        else:
            # min = 0 and a random max. v * id >= 0 here, so one rounding can only differ from
            # two just below a power of two n, where the spacing of floats doubles.
            base, hi = f32(0), f32(rng.uniform(1, 5))
            d = f32(f32(hi - base) / f32(levels))
            lo, out = base, [base, hi]
            targets = np.array([k for k in (1, 2, 4, 8, 16) if k <= levels]) - 0.5
        inv = f32(f32(1) / d)
        found = []
        for t in targets:
            centre = f32(t / np.float64(inv)).view(np.uint32).astype(np.int64)
            v = (centre + np.arange(-4000, 4000)).astype(np.uint32).view(np.float32)
            two = np.trunc(f32(v * inv) + offset)
            one = np.trunc((v.astype(np.float64) * np.float64(inv) + offset).astype(np.float32))
            found.extend(v[(two != one) & (v > lo) & (v < hi)].tolist())
        if found:
            break
    found = found[: block_size - len(out)]
    while len(out) + len(found) < block_size:
        found.append(rng.uniform(lo, hi) * 0.5)
    tail = np.array(found, dtype=np.float32)
    rng.shuffle(tail)
    return np.concatenate([np.array(out, dtype=np.float32), tail])  # scale-setting max first


def quantize_case(rng: np.random.Generator, qtype: T) -> None:
    block_size, _ = GGML_QUANT_SIZES[qtype]
    x = quant_input_blocks(rng, qtype, block_size).ravel()
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        q = gguf.quants.quantize(x, qtype)
    write_golden(f"quant_{qtype.name}.bin", KIND_QUANTIZE, qtype, x, q)


def float_conversion_inputs(rng: np.random.Generator, kind: str) -> np.ndarray:
    """float32 inputs that probe rounding of fp32 -> fp16 / bf16."""
    bits = [rng.integers(0, 2**32, size=1024, dtype=np.uint64).astype(np.uint32)]
    specials = [0x00000000, 0x80000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000,
                0x7F800001, 0x7FA00000, 0xFF802000, 0x7FBFFFFF, 0x7F801FFF, 0x00000001, 0x807FFFFF,
                0x7F7FFFFF, 0xFF7FFFFF, 0x3F800000, 0x3F800001, 0x3F7FFFFF]
    bits.append(np.array(specials, dtype=np.uint32))
    if kind == "f16":
        edges = [2.0**-25, 2.0**-24, 1.5 * 2.0**-24, 2.0**-14, 65504.0, 65519.0, 65520.0, 65536.0,
                 2.0**-26, 3 * 2.0**-26, (1 - 2.0**-11) * 2.0**-14]
        e = np.array(edges, dtype=np.float32)
        bits.append(e.view(np.uint32))
        bits.append((e.view(np.uint32) + 1).astype(np.uint32))
        bits.append((e.view(np.uint32) - 1).astype(np.uint32))
        # Midpoints between neighbouring finite halves (exact in fp32), and one ulp either side.
        h = rng.integers(0, 0x7BFF, size=768, dtype=np.uint16)
        lo = h.view(np.float16).astype(np.float64)
        hi = (h + 1).astype(np.uint16).view(np.float16).astype(np.float64)
        mid = ((lo + hi) / 2).astype(np.float32).view(np.uint32)
        sign = (rng.integers(0, 2, size=mid.size).astype(np.uint32) << 31).astype(np.uint32)
        for delta in (0, 1, -1):
            bits.append(((mid.astype(np.int64) + delta).astype(np.uint32)) | sign)
        # Ordinary values over the whole half range.
        vals = (rng.standard_normal(512) * 10.0 ** rng.uniform(-9, 5, size=512)).astype(np.float32)
        bits.append(vals.view(np.uint32))
    else:
        # Ties and near-ties of bf16 rounding: low 16 bits 0x8000, 0x7FFF, 0x8001.
        hi = rng.integers(0, 0x7F80, size=768, dtype=np.uint32)
        sign = (rng.integers(0, 2, size=hi.size).astype(np.uint32) << 31).astype(np.uint32)
        for low in (0x8000, 0x7FFF, 0x8001):
            bits.append(((hi << 16) | low | sign).astype(np.uint32))
        bits.append(np.array([0x7F7F8000, 0x7F7FFFFF, 0x00008000, 0x00018000], dtype=np.uint32))
    return np.concatenate(bits).astype(np.uint32).view(np.float32)


def float_quantize_cases(rng: np.random.Generator) -> None:
    with np.errstate(over="ignore", invalid="ignore"):
        x16 = float_conversion_inputs(rng, "f16")
        q16 = gguf.quants.quantize(x16, T.F16).view(np.uint16).astype("<u2")
        write_golden("quant_F16.bin", KIND_QUANTIZE, T.F16, x16, q16)
        xb = float_conversion_inputs(rng, "bf16")
        qb = gguf.quants.quantize(xb, T.BF16)
        write_golden("quant_BF16.bin", KIND_QUANTIZE, T.BF16, xb, qb)


def main() -> int:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    dequantize_plain_cases(rng)
    for qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q2_K, T.Q3_K, T.Q4_K, T.Q5_K,
                  T.Q6_K):
        dequantize_case(rng, qtype)
    for qtype in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0):
        quantize_case(rng, qtype)
    float_quantize_cases(rng)
    total = sum(p.stat().st_size for p in OUT_DIR.glob("*.bin"))
    print(f"wrote {len(list(OUT_DIR.glob('*.bin')))} files, {total} bytes, to {OUT_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
