#!/usr/bin/env python3
"""Random-string comparison of infera's tokenizer with llama.cpp's.

Writes N random strings with llama.cpp's ids (via llama-cpp-python, as gen_tokenizer_golden.py)
to a file in the golden format, then runs the C++ side through the unit-test binary:
    INFERA_TOKENIZER_FUZZ_FILE=<file> infera_unit_tests --gtest_filter=TokenizerFuzz.*
which encodes every string with infera and reports each mismatch with its string.

    /work/refvenv/bin/python tools/tokenizer_fuzz_compare.py \\
        --bin build/tok/tests/infera_unit_tests --model gemma-3-270m-q4_k_m.gguf -n 5000 --seed 7

Strings mix: random code points from every plane (letters, digits, marks, symbols, white space,
unassigned), raw random bytes (invalid UTF-8), fragments of the vocabulary's own special tokens,
and words. A failing seed reproduces exactly; the file is kept (--keep) to attach to a bug.

--pre NAME writes a vocabulary-only copy of the model with tokenizer.ggml.pre set to NAME (e.g.
llama-bpe, qwen2, default, gpt2 on SmolLM2's real 49k vocabulary) into a temporary folder and
compares on that: a real vocabulary exposes pre-tokenizer differences that toy ones hide.
"""
import argparse
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_tokenizer_golden as golden  # noqa: E402

INTERESTING = [
    0x20, 0x0A, 0x0D, 0x09, 0x0B, 0x0C, 0x85, 0xA0, 0x1680, 0x2000, 0x2009, 0x200B, 0x2028,
    0x202F, 0x3000, 0xFEFF, 0x2581, 0x27, 0x2019, 0xFFFD, 0x0301, 0x200D, 0xFE0F, 0x1F3FD,
    # edges of the DeepSeek classes: fullwidth punctuation, quotes, CJK punctuation, odd letters
    0xB5, 0xFF01, 0xFF0F, 0xFF1A, 0xFF5E, 0x2018, 0x201F, 0x3001, 0x3002, 0x0800, 0x4E00, 0x9FA5,
    0xAC00, 0xD7FF, 0x1F7D, 0x1FBE, 0x1FD3, 0x2126, 0x212A, 0x10400, 0x1E943,
]


def random_cp(rng):
    r = rng.random()
    if r < 0.35:
        return rng.randint(0x20, 0x7E)
    if r < 0.45:
        return rng.choice(INTERESTING)
    if r < 0.6:
        return rng.randint(0x80, 0x7FF)
    if r < 0.8:
        cp = rng.randint(0x800, 0xFFFF)
    else:
        cp = rng.randint(0x10000, 0x10FFFF)
    if 0xD800 <= cp <= 0xDFFF:
        cp = 0x4E00
    return cp


def random_bytes(rng, specials):
    parts = []
    for _ in range(rng.randint(1, 12)):
        r = rng.random()
        if r < 0.5:
            parts.append("".join(chr(random_cp(rng)) for _ in range(rng.randint(1, 8))).encode())
        elif r < 0.65:
            parts.append(golden.random_string(rng).encode())
        elif r < 0.75 and specials:
            s = rng.choice(specials)
            if rng.random() < 0.3:  # a fragment of a special token
                a = rng.randint(0, len(s))
                s = s[a:rng.randint(a, len(s))]
            parts.append(s)
        elif r < 0.85:
            parts.append(bytes(rng.randint(0x80, 0xFF) for _ in range(rng.randint(1, 3))))
        else:
            parts.append(rng.choice([b" ", b"  ", b"\n", b"\t", b"\r\n", b"'s", b"'LL", b"123", b"4567"]))
    data = b"".join(parts)
    # llama.cpp aborts on 4-byte forms above U+10FFFF (F4 90.. to F7 ..); keep them out.
    out = bytearray()
    i = 0
    while i < len(data):
        b = data[i]
        if 0xF4 <= b <= 0xF7 and i + 3 < len(data) and all(0x80 <= x <= 0xBF for x in data[i + 1:i + 4]):
            out += b"?"
            i += 1
            continue
        out.append(b)
        i += 1
    return bytes(out)


def retarget(src, dst, pre):
    """Copies the metadata of `src` (no tensors) to `dst` with tokenizer.ggml.pre = pre."""
    import gguf
    r = gguf.GGUFReader(src)
    w = gguf.GGUFWriter(dst, r.fields["general.architecture"].contents())
    for name, f in r.fields.items():
        if name.startswith("GGUF.") or name in ("general.architecture", "tokenizer.ggml.pre"):
            continue
        t = f.types[0]
        w.add_key_value(name, f.contents(), t, f.types[-1] if t == gguf.GGUFValueType.ARRAY else None)
    w.add_tokenizer_pre(pre)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    w.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", required=True, help="infera_unit_tests binary")
    ap.add_argument("--model", default="SmolLM2-135M-Instruct.Q4_1.gguf",
                    help="file name in the models folder, or a path (e.g. tests/data/models/tiny-qwen2-f32.gguf)")
    ap.add_argument("--models", help="models folder (default $INFERA_MODELS_DIR or ~/.cache/infera/models)")
    ap.add_argument("-n", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--pre", help="compare on a copy of the model with this tokenizer.ggml.pre")
    ap.add_argument("--keep", help="write the comparison file here instead of a temporary file")
    args = ap.parse_args()

    model_path = args.model if os.sep in args.model else os.path.join(golden.models_dir(args.models), args.model)
    tmp = None
    if args.pre:
        tmp = tempfile.mkdtemp(prefix="infera-tok-")
        name = os.path.splitext(os.path.basename(model_path))[0] + f".pre-{args.pre}.gguf"
        retarget(model_path, os.path.join(tmp, name), args.pre)
        model_path = os.path.join(tmp, name)
    models, model_name = os.path.split(os.path.abspath(model_path))
    ref = golden.Reference(model_path)
    lc = ref.llama_cpp
    specials = []
    for tid in range(ref.n_vocab):
        attr = lc.llama_vocab_get_attr(ref.vocab, tid)
        if attr & (lc.LLAMA_TOKEN_ATTR_CONTROL | lc.LLAMA_TOKEN_ATTR_USER_DEFINED):
            specials.append(lc.llama_vocab_get_text(ref.vocab, tid))
        if len(specials) > 400:
            break
    rng = random.Random(args.seed)
    corpus, seen = [], set()
    while len(corpus) < args.n:
        s = random_bytes(rng, specials)
        if s not in seen:
            seen.add(s)
            corpus.append(s)

    path = args.keep or tempfile.mkstemp(suffix=".golden")[1]
    golden.write_golden(ref, model_name, corpus, path, f"fuzz seed {args.seed}")
    env = dict(os.environ, INFERA_TOKENIZER_FUZZ_FILE=os.path.abspath(path), INFERA_MODELS_DIR=models)
    rc = subprocess.call([args.bin, "--gtest_filter=TokenizerFuzz.*"], env=env)
    if not args.keep:
        os.unlink(path)
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    pre = f" (pre {args.pre})" if args.pre else ""
    print(f"fuzz: {args.n} strings, seed {args.seed}, model {args.model}{pre}: {'PASS' if rc == 0 else 'FAIL'}")
    sys.exit(rc)


if __name__ == "__main__":
    main()
