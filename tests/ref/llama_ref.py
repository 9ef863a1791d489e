#!/usr/bin/python3
"""A plain numpy reference of a llama2.c decoder (issue 15), in float64.

Reads the single-file llama2c layout of /work/shared/models/stories260k.md
(config block, vocab, weights), tokenizes and decodes as llama2.c does, and
runs the forward pass and greedy decoding. The C runtime is tested against
what it writes (tests/data/llama/ref.json; tests/data/llama/README.md).

  llama_ref.py MODEL.bin --prompt TEXT [--steps N]   ids and greedy continuation
  llama_ref.py MODEL.bin --gen-data PROMPTS.txt OUT.json [--steps N]

Python 3 and numpy only (Debian's python3-numpy).
"""
import os

# One busy process at most: numpy's BLAS would otherwise start a thread per core.
for _v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import hashlib
import json
import math
import struct
import sys
import time

import numpy as np

UNK, BOS, EOS = 0, 1, 2
N_BYTES = 256		# byte tokens <0x00>..<0xFF> are ids 3..258
CONFIG_BYTES = 256
NORM_EPS = 1e-5
ROPE_THETA = 10000.0
SPACE = "\u2581"	# the piece character standing for a space


class FormatError(Exception):
    pass


class Model:
    """The file's config, vocab and weights (float64), checked for consistency."""

    def __init__(self, path):
        self.path = path
        with open(path, "rb") as f:
            data = f.read()
        self.sha256 = hashlib.sha256(data).hexdigest()
        self._data, self._size = data, len(data)
        off = self._read_config()
        off = self._read_vocab(off)
        self._read_weights(off)
        del self._data

    def _fail(self, off, msg):
        raise FormatError(f"{self.path}: offset {off}: {msg}")

    def _need(self, off, n, what):
        if off + n > self._size:
            self._fail(off, f"expected {what} ({n} bytes), but the file ends at byte {self._size}")

    def _unpack(self, fmt, off, what):
        self._need(off, struct.calcsize(fmt), what)
        return struct.unpack_from(fmt, self._data, off)

    def _read_config(self):
        self._need(0, CONFIG_BYTES, f"the {CONFIG_BYTES}-byte config block")
        (version,) = self._unpack("<B", 0, "the version")
        if version != 1:
            self._fail(0, f"expected version 1, found {version}")
        (n,) = self._unpack("<i", 1, "the model type's length")
        if not 0 < n <= CONFIG_BYTES - 5 - 29:
            self._fail(1, f"expected a model type length of 1..{CONFIG_BYTES - 34}, found {n}")
        mtype = self._data[5:5 + n]
        if mtype != b"llama":
            self._fail(5, f"expected model type 'llama', found {mtype!r}")
        off = 5 + n
        names = ("hidden", "ffn", "max_seq", "vocab", "layers", "q_heads", "kv_heads")
        vals = self._unpack("<7i", off, "the seven i32 sizes")
        for i, (name, v) in enumerate(zip(names, vals)):
            if v <= 0:
                self._fail(off + 4 * i, f"expected a positive {name}, found {v}")
        c = dict(zip(names, vals))
        off += 28
        (c["shared_output"],) = self._unpack("<B", off, "shared_output")
        if c["shared_output"] not in (0, 1):
            self._fail(off, f"expected shared_output 0 or 1, found {c['shared_output']}")
        off += 1
        pad = self._data[off:CONFIG_BYTES]
        if pad.count(0) != len(pad):
            self._fail(off + next(i for i, b in enumerate(pad) if b),
                       f"expected zero padding to byte {CONFIG_BYTES}")
        if c["hidden"] % c["q_heads"] or c["q_heads"] % c["kv_heads"]:
            self._fail(5 + n, f"expected q_heads to divide hidden and kv_heads to divide "
                       f"q_heads, found hidden {c['hidden']}, q_heads {c['q_heads']}, "
                       f"kv_heads {c['kv_heads']}")
        c["head_size"] = c["hidden"] // c["q_heads"]
        if c["head_size"] % 2:
            self._fail(5 + n, f"expected an even head size for RoPE's pairs, found {c['head_size']}")
        if c["vocab"] < 3 + N_BYTES:
            self._fail(5 + n + 12, f"expected a vocab of at least {3 + N_BYTES} (3 control "
                       f"and {N_BYTES} byte tokens), found {c['vocab']}")
        self.config = c
        return CONFIG_BYTES

    def _read_vocab(self, off):
        pieces, scores = [], []
        for i in range(self.config["vocab"]):
            score, n = self._unpack("<fi", off, f"vocab entry {i}'s score and length")
            if not math.isfinite(score):
                self._fail(off, f"expected a finite score for vocab entry {i}, found {score}")
            if n <= 0:
                self._fail(off + 4, f"expected a positive length for vocab entry {i}, found {n}")
            self._need(off + 8, n, f"vocab entry {i}'s piece")
            try:
                piece = self._data[off + 8:off + 8 + n].decode("utf-8")
            except UnicodeDecodeError as e:
                self._fail(off + 8 + e.start, f"expected UTF-8 in vocab entry {i}'s piece")
            want = ("<unk>", "<s>", "</s>")[i] if i < 3 else \
                "<0x%02X>" % (i - 3) if i < 3 + N_BYTES else None
            if want is not None and piece != want:
                self._fail(off + 8, f"expected piece {want!r} for id {i}, found {piece!r}")
            pieces.append(piece)
            scores.append(score)
            off += 8 + n
        self.pieces, self.scores = pieces, scores
        self.lookup = {}
        for i, p in enumerate(pieces):
            if p in self.lookup:
                raise FormatError(f"{self.path}: vocab: piece {p!r} is both id "
                                  f"{self.lookup[p]} and id {i}")
            self.lookup[p] = i
        return off

    def _read_weights(self, off):
        c = self.config
        d, f, L, V = c["hidden"], c["ffn"], c["layers"], c["vocab"]
        kv = c["kv_heads"] * c["head_size"]
        shapes = [("embedding", (V, d)), ("rms_att", (L, d)), ("wq", (L, d, d)),
                  ("wk", (L, kv, d)), ("wv", (L, kv, d)), ("wo", (L, d, d)),
                  ("rms_ffn", (L, d)), ("w_gate", (L, f, d)), ("w_up", (L, f, d)),
                  ("w_down", (L, d, f)), ("rms_final", (d,))]
        if not c["shared_output"]:
            shapes.append(("wcls", (V, d)))
        self.w = {}
        for name, shape in shapes:
            n = math.prod(shape)
            self._need(off, 4 * n, f"weights {name} {list(shape)}")
            a = np.frombuffer(self._data, "<f4", n, off).reshape(shape)
            if not np.isfinite(a).all():
                bad = int(np.flatnonzero(~np.isfinite(a.reshape(-1)))[0])
                self._fail(off + 4 * bad, f"expected finite weights in {name}, found {a.flat[bad]}")
            self.w[name] = a.astype(np.float64)
            off += 4 * n
        if off != self._size:
            self._fail(off, f"expected the end of the file after the weights, "
                       f"found {self._size - off} more bytes")
        if c["shared_output"]:
            self.w["wcls"] = self.w["embedding"]

    # --- tokenizer ---

    def encode(self, text):
        """BOS and the ids of text, merged as llama2.c's encode() does."""
        ids = []
        # llama2.c adds the dummy prefix to non-empty text only
        for ch in (" " + text if text else "").replace(" ", SPACE):
            i = self.lookup.get(ch)
            if i is not None:
                ids.append(i)
            else:
                ids.extend(3 + b for b in ch.encode("utf-8"))
        while True:
            best, at = None, -1
            for i in range(len(ids) - 1):
                j = self.lookup.get(self.pieces[ids[i]] + self.pieces[ids[i + 1]])
                # strictly greater: among equal scores the leftmost pair wins
                if j is not None and (best is None or self.scores[j] > self.scores[best]):
                    best, at = j, i
            if best is None:
                break
            ids[at:at + 2] = [best]
        return [BOS] + ids

    def decode(self, ids, prev=BOS):
        """The bytes of ids, prev being the token before the first of them."""
        out = bytearray()
        for t in ids:
            if not 0 <= t < len(self.pieces):
                raise ValueError(f"token id {t} is outside the vocab of {len(self.pieces)}")
            if 3 <= t < 3 + N_BYTES:
                out.append(t - 3)
            elif t >= 3 + N_BYTES:
                p = self.pieces[t].replace(SPACE, " ")
                if prev == BOS and p.startswith(" "):
                    p = p[1:]
                out += p.encode("utf-8")
            prev = t
        return bytes(out)


def rmsnorm(x, w):
    return x / np.sqrt(np.mean(x * x) + NORM_EPS) * w


class Decoder:
    """One sequence's KV cache and the forward pass of one position."""

    def __init__(self, m):
        self.m, c = m, m.config
        self.hs, self.qh, self.kvh = c["head_size"], c["q_heads"], c["kv_heads"]
        shape = (c["layers"], c["max_seq"], self.kvh, self.hs)
        self.k, self.v = np.zeros(shape), np.zeros(shape)
        i = np.arange(self.hs // 2)
        self.inv_freq = 1.0 / ROPE_THETA ** (2.0 * i / self.hs)
        self.pos = 0

    def rope(self, x, pos):
        """x [heads, hs], pairs (2i, 2i+1) rotated by pos / 10000^(2i/hs)."""
        th = pos * self.inv_freq
        cos, sin = np.cos(th), np.sin(th)
        a, b = x[:, 0::2].copy(), x[:, 1::2].copy()
        x[:, 0::2] = a * cos - b * sin
        x[:, 1::2] = a * sin + b * cos

    def step(self, tok):
        """Runs tok at the next position; returns the logits [vocab]."""
        m, w, t = self.m, self.m.w, self.pos
        if t >= m.config["max_seq"]:
            raise ValueError(f"position {t} is past max_seq {m.config['max_seq']}")
        group = self.qh // self.kvh
        x = w["embedding"][tok].copy()
        for l in range(m.config["layers"]):
            h = rmsnorm(x, w["rms_att"][l])
            q = (w["wq"][l] @ h).reshape(self.qh, self.hs)
            k = (w["wk"][l] @ h).reshape(self.kvh, self.hs)
            v = (w["wv"][l] @ h).reshape(self.kvh, self.hs)
            self.rope(q, t)
            self.rope(k, t)
            self.k[l, t], self.v[l, t] = k, v
            # query head h reads KV head h // group
            keys = np.repeat(self.k[l, :t + 1], group, axis=1)	# [t+1, qh, hs]
            vals = np.repeat(self.v[l, :t + 1], group, axis=1)
            s = np.einsum("hd,thd->ht", q, keys) / math.sqrt(self.hs)
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            att = np.einsum("ht,thd->hd", s, vals).reshape(-1)
            x = x + w["wo"][l] @ att
            h = rmsnorm(x, w["rms_ffn"][l])
            g = w["w_gate"][l] @ h
            x = x + w["w_down"][l] @ (g / (1.0 + np.exp(-g)) * (w["w_up"][l] @ h))
        self.pos += 1
        return w["wcls"] @ rmsnorm(x, w["rms_final"])


def generate(m, ids, steps):
    """The last prompt position's logits and up to steps greedy ids (EOS kept, then stop)."""
    if len(ids) > m.config["max_seq"]:
        raise ValueError(f"{len(ids)} prompt tokens, more than max_seq {m.config['max_seq']}")
    dec = Decoder(m)
    for t in ids:
        logits = dec.step(t)
    first, out = logits, []
    while len(out) < steps:
        nxt = int(np.argmax(logits))	# ties: the lowest id
        out.append(nxt)
        if nxt == EOS or dec.pos == m.config["max_seq"]:
            break
        logits = dec.step(nxt)
    return first, out


def continuation(m, ids, greedy):
    # bytes the steps cut in the middle of a character decode as U+FFFD
    return m.decode(greedy, ids[-1]).decode("utf-8", "replace")


FORMAT = {
    "model": "the model file: its name, sha256 and config block",
    "steps": "greedy tokens generated per prompt at most",
    "prompts": "one record per line of the prompts file, in order",
    "prompt": "the prompt text (a line of the prompts file, without its newline)",
    "ids": "its token ids, BOS (1) first",
    "logits": "the vocab's logits at the last prompt position, float64 rounded to 7 significant digits",
    "greedy": "the next ids by greedy decoding (argmax, ties to the lowest id): "
              "'steps' of them, or fewer ending with EOS (2); BOS (1) is no stop",
    "text": "greedy decoded after the prompt: ids 0-2 dropped, byte tokens as bytes, a piece "
            "after a BOS without its leading space; UTF-8, U+FFFD for invalid bytes",
}


def read_prompts(path):
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for i, s in enumerate(lines):
        if not s.strip() or "\r" in s:
            raise FormatError(f"{path}:{i + 1}: expected a prompt (not blank, no CR)")
    if not lines:
        raise FormatError(f"{path}: no prompts")
    return lines


def gen_data(m, prompts_path, out_path, steps):
    t0 = time.monotonic()
    recs = []
    for p in read_prompts(prompts_path):
        ids = m.encode(p)
        logits, greedy = generate(m, ids, steps)
        recs.append({"prompt": p, "ids": ids,
                     "logits": [float(f"{x:.7g}") for x in logits],
                     "greedy": greedy, "text": continuation(m, ids, greedy)})
    model = {"file": os.path.basename(m.path), "sha256": m.sha256,
             "config": {k: v for k, v in m.config.items() if k != "head_size"}}
    # one record a line, so that a change shows as a readable diff
    body = (f'{{"model": {json.dumps(model)},\n"format": {json.dumps(FORMAT, indent=1)},\n'
            f'"steps": {steps},\n"prompts": [\n'
            + ",\n".join(json.dumps(r, ensure_ascii=False) for r in recs) + "\n]}\n")
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(body)
    os.replace(tmp, out_path)
    print(f"llama_ref: wrote {out_path}: {len(recs)} prompts, {steps} steps, "
          f"{time.monotonic() - t0:.1f} s", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", metavar="MODEL.bin")
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--prompt", metavar="TEXT")
    g.add_argument("--gen-data", nargs=2, metavar=("PROMPTS.txt", "OUT.json"))
    ap.add_argument("--steps", type=int, default=64, metavar="N")
    a = ap.parse_args()
    if a.steps < 0:
        ap.error("--steps must be 0 or more")
    sys.stdout.reconfigure(encoding="utf-8")
    try:
        m = Model(a.model)
        if a.gen_data:
            gen_data(m, a.gen_data[0], a.gen_data[1], a.steps)
        else:
            ids = m.encode(a.prompt)
            _, greedy = generate(m, ids, a.steps)
            print("ids:", *ids)
            print("greedy:", *greedy)
            print("text:", continuation(m, ids, greedy))
    except (OSError, FormatError, ValueError) as e:
        sys.exit(f"llama_ref: {e}")


if __name__ == "__main__":
    main()
