#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Write a synthetic Llama decoder in the llama2.c single-file layout of
/work/shared/models/stories260k.md, with seeded random weights: a model of a realistic
size for timing (its text is noise; stories260k is the one that checks the math).

    /usr/bin/python3 bench/gen_llama_synth.py OUT.bin [--hidden 512] [--layers 8]
        [--q-heads 8] [--kv-heads 8] [--ffn 1376] [--vocab 512] [--max-seq 2048]
        [--seed 15] [--std 0.02] [--vocab-from /work/shared/models/stories260k.bin]

Weights are scaled like a trained model's: every matrix (embedding included) N(0, std),
the RMSNorm gains 1. The vocab entries are those of --vocab-from (stories260k's), so
the format's tokenizer works on the file; with --vocab below that file's vocab the
first entries are kept (at least the 259 control and byte tokens), above it pieces
"<extraN>" with score -1e9 are appended. The output is tied (shared_output 1).
Deterministic: the same options give the same bytes (numpy's PCG64 stream, drawn
tensor by tensor in file order).
"""
import argparse
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export_llama_onnx import read_llama2c  # noqa: E402

DEFAULT_VOCAB = "/work/shared/models/stories260k.bin"


def header(a):
    h = struct.pack("<Bi5s7iB", 1, 5, b"llama", a.hidden, a.ffn, a.max_seq, a.vocab,
                    a.layers, a.q_heads, a.kv_heads, 1)
    return h + bytes(256 - len(h))


def vocab_bytes(a):
    _, src, _ = read_llama2c(a.vocab_from)
    if a.vocab < 259:
        sys.exit(f"gen_llama_synth: --vocab {a.vocab}: the format needs at least 259 entries")
    ent = src[:a.vocab] + [(-1e9, f"<extra{i}>".encode()) for i in range(len(src), a.vocab)]
    return b"".join(struct.pack("<fi", s, len(p)) + p for s, p in ent)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    for name, v in (("hidden", 512), ("layers", 8), ("q-heads", 8), ("kv-heads", 8),
                    ("ffn", 1376), ("vocab", 512), ("max-seq", 2048), ("seed", 15)):
        ap.add_argument("--" + name, type=int, default=v)
    ap.add_argument("--std", type=float, default=0.02)
    ap.add_argument("--vocab-from", default=DEFAULT_VOCAB)
    a = ap.parse_args()
    if min(a.hidden, a.layers, a.q_heads, a.kv_heads, a.ffn, a.max_seq) <= 0 or \
       a.hidden % a.q_heads or a.q_heads % a.kv_heads or (a.hidden // a.q_heads) % 2:
        sys.exit("gen_llama_synth: need positive sizes, q_heads | hidden, kv_heads | q_heads "
                 "and an even head size")
    D, F, V, L = a.hidden, a.ffn, a.vocab, a.layers
    kv = a.kv_heads * (D // a.q_heads)
    rng = np.random.default_rng(a.seed)
    ones = np.ones
    # File order; callables so one layer-stacked tensor at a time is in memory.
    tensors = [("embed", lambda: rng.standard_normal((V, D), np.float32) * a.std),
               ("rms_att", lambda: ones((L, D), np.float32))]
    for name, shape in (("wq", (L, D, D)), ("wk", (L, kv, D)), ("wv", (L, kv, D)),
                        ("wo", (L, D, D))):
        tensors.append((name, lambda s=shape: rng.standard_normal(s, np.float32) * a.std))
    tensors.append(("rms_ffn", lambda: ones((L, D), np.float32)))
    for name, shape in (("w_gate", (L, F, D)), ("w_up", (L, F, D)), ("w_down", (L, D, F))):
        tensors.append((name, lambda s=shape: rng.standard_normal(s, np.float32) * a.std))
    tensors.append(("rms_final", lambda: ones((D,), np.float32)))

    tmp = a.out + ".tmp"
    n = 0
    with open(tmp, "wb") as f:
        f.write(header(a))
        f.write(vocab_bytes(a))
        for _, make in tensors:
            t = make().astype("<f4")
            n += t.size
            f.write(t.tobytes())
    os.replace(tmp, a.out)
    print(f"gen_llama_synth: wrote {a.out} (hidden {D}, {L} layers, {a.q_heads}/{a.kv_heads} "
          f"heads, ffn {F}, vocab {V}, context {a.max_seq}; {n / 1e6:.2f} M params, seed {a.seed})")


if __name__ == "__main__":
    main()
