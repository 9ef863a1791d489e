#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Export a llama2.c single-file Llama decoder (/work/shared/models/stories260k.md)
to ONNX for the ONNX Runtime peer of PolyNet's generation benchmark.

    /usr/bin/python3 bench/export_llama_onnx.py MODEL.bin OUT.onnx

Writes two graphs (opset 17), sharing every initializer's values:

OUT.onnx, one decode step:
  inputs   ids  int64 [B, 1]       the next token of every row
           pos  int64 [B]          its position (RoPE); every row shares the cache length P,
                                   so for an unpadded cache pos[b] == P
           past_k_L, past_v_L  float [B, kv_heads, P, hs]  for L = 0..layers-1 (P may be 0)
  outputs  logits float [B, vocab]
           present_k_L, present_v_L  float [B, kv_heads, P+1, hs]
OUT-prefill.onnx, a prompt from position 0 (no past):
  inputs   ids int64 [B, T]
  outputs  logits float [B, vocab] of position T-1, present_k_L / present_v_L [B, kv, T, hs]

Two graphs rather than one with P = 0: the decode step then needs no causal mask and no
dynamic T, and the prefill no Concat with an empty past. (The decode graph also runs from
P = 0, one token at a time: bench/check_llama_onnx.js checks that it agrees with prefill.)
pos is per row [B] rather than a scalar: the same one Gather of the RoPE tables either way.

The graph is written the way ORT's optimiser likes it: token rows flattened to [B*T, D]
so every projection is one 2-D MatMul with a constant (prepacked) weight; Wq|Wk|Wv and
W_gate|W_up each one MatMul; RMSNorm as Pow-ReduceMean-Add-Sqrt-Div-Mul (fused into
SimplifiedLayerNormalization); x*Sigmoid(x) (fused into QuickGelu); 1/sqrt(hs) folded
into Wq; GQA by grouping the query heads of one KV head ([B, kv, q/kv, hs] against
[B, kv, P+1, hs]) so K/V are never repeated; the tied output as Gemm(transB) on the
embedding table itself.
"""
import os
import struct
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

NORM_EPS = 1e-5
ROPE_THETA = 10000.0
INT64_MAX = np.iinfo(np.int64).max
FIELDS = ("hidden", "ffn", "max_seq", "vocab", "layers", "q_heads", "kv_heads")


def read_llama2c(path):
    """(config dict, vocab [(score, bytes)], weights dict) of a llama2.c single file."""
    buf = open(path, "rb").read()
    if len(buf) < 256 or buf[0] != 1:
        sys.exit(f"{path}: not a llama2.c single file (version byte {buf[:1]!r})")
    n = struct.unpack_from("<i", buf, 1)[0]
    if not 0 < n < 200:
        sys.exit(f"{path}: model type length {n}")
    mtype = buf[5:5 + n].decode("utf-8", "replace")
    if mtype != "llama":
        sys.exit(f"{path}: model type '{mtype}', expected 'llama'")
    vals = struct.unpack_from("<7i", buf, 5 + n)
    cfg = dict(zip(FIELDS, vals))
    cfg["shared_output"] = buf[5 + n + 28]
    c = cfg
    if min(vals) <= 0 or c["hidden"] % c["q_heads"] or c["q_heads"] % c["kv_heads"] or \
       (c["hidden"] // c["q_heads"]) % 2:
        sys.exit(f"{path}: bad configuration {cfg}")
    off = 256
    vocab = []
    for i in range(c["vocab"]):
        score, ln = struct.unpack_from("<fi", buf, off)
        off += 8
        if ln < 0 or off + ln > len(buf):
            sys.exit(f"{path}: vocab entry {i}: length {ln}")
        vocab.append((score, buf[off:off + ln]))
        off += ln
    D, F, V, L = c["hidden"], c["ffn"], c["vocab"], c["layers"]
    kv = c["kv_heads"] * (D // c["q_heads"])
    shapes = [("embed", (V, D)), ("rms_att", (L, D)), ("wq", (L, D, D)), ("wk", (L, kv, D)),
              ("wv", (L, kv, D)), ("wo", (L, D, D)), ("rms_ffn", (L, D)),
              ("w_gate", (L, F, D)), ("w_up", (L, F, D)), ("w_down", (L, D, F)),
              ("rms_final", (D,))]
    if not cfg["shared_output"]:
        shapes.append(("wcls", (V, D)))
    need = off + 4 * sum(int(np.prod(s)) for _, s in shapes)
    if need != len(buf):
        sys.exit(f"{path}: header implies {need} bytes, the file has {len(buf)}")
    w = {}
    for name, shape in shapes:
        cnt = int(np.prod(shape))
        w[name] = np.frombuffer(buf, "<f4", cnt, off).reshape(shape)
        off += 4 * cnt
    return cfg, vocab, w


def rope_tables(max_seq, hs):
    """COS [max_seq, 1, hs/2, 2] = (cos, cos), SIN = (-sin, sin) per pair (2i, 2i+1)."""
    i = np.arange(hs // 2, dtype=np.float64)
    ang = np.arange(max_seq, dtype=np.float64)[:, None] / ROPE_THETA ** (2 * i / hs)
    c, s = np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)
    cos = np.stack([c, c], axis=-1)[:, None]
    sin = np.stack([-s, s], axis=-1)[:, None]
    return cos, sin


class Builder:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def i64(self, name, vals):
        return self.init(name, np.array(vals, np.int64))

    def op(self, op_type, inputs, outs=1, name=None, **attrs):
        self.n += 1
        base = name or f"{op_type.lower()}_{self.n}"
        o = [base] if outs == 1 else [f"{base}_{k}" for k in range(outs)]
        self.nodes.append(helper.make_node(op_type, inputs, o, name=f"n{self.n}_{op_type}", **attrs))
        return o[0] if len(o) == 1 else o

    def rmsnorm(self, x, gain, out=None):
        # The exact chain ORT's SimplifiedLayerNormFusion matches.
        ms = self.op("ReduceMean", [self.op("Pow", [x, "two"])], axes=[-1], keepdims=1)
        r = self.op("Sqrt", [self.op("Add", [ms, "eps"])])
        return self.op("Mul", [self.op("Div", [x, r]), gain], name=out)


def build(cfg, w, prefill):
    D, F, V, L = cfg["hidden"], cfg["ffn"], cfg["vocab"], cfg["layers"]
    H, KV = cfg["q_heads"], cfg["kv_heads"]
    hs, g = D // H, H // KV
    kvd = KV * hs
    b = Builder()
    b.init("two", np.array(2.0, np.float32))
    b.init("eps", np.array(NORM_EPS, np.float32))
    emb = b.init("embed", w["embed"].astype(np.float32))
    cos, sin = rope_tables(cfg["max_seq"], hs)
    b.init("rope_cos", cos)
    b.init("rope_sin", sin)

    x = b.op("Gather", [emb, b.op("Reshape", ["ids", b.i64("minus1", [-1])])], axis=0)
    if prefill:
        t = b.op("Shape", ["ids"], start=1, end=2)
        zero = b.i64("zero1", [0])
        rc = b.op("Slice", ["rope_cos", zero, t, zero])     # [T, 1, hs/2, 2]
        rs = b.op("Slice", ["rope_sin", zero, t, zero])
        bt = b.op("Concat", [b.i64("m1", [-1]), t], axis=0)  # [-1, T]
        qk_shape = b.op("Concat", [bt, b.i64("qk_tail", [H + KV, hs // 2, 2])], axis=0)
        q5_shape = b.op("Concat", [bt, b.i64("q5_tail", [KV, g, hs])], axis=0)
        kv4_shape = b.op("Concat", [bt, b.i64("kv4_tail", [KV, hs])], axis=0)
        # Causal mask [T, T]: -inf above the diagonal.
        ts = b.op("Squeeze", [t, zero])
        r = b.op("Range", [b.init("i0", np.array(0, np.int64)), ts,
                           b.init("i1", np.array(1, np.int64))])
        above = b.op("Greater", [b.op("Unsqueeze", [r, zero]),
                                 b.op("Unsqueeze", [r, b.i64("one1", [1])])])
        mask = b.op("Where", [above, b.init("neg_inf", np.array(-np.inf, np.float32)),
                              b.init("f0", np.array(0.0, np.float32))])
        two1 = b.i64("two1", [2])
    else:
        rc = b.op("Gather", ["rope_cos", "pos"], axis=0)    # [B, 1, hs/2, 2]
        rs = b.op("Gather", ["rope_sin", "pos"], axis=0)
        qk_shape = b.i64("qk_shape", [-1, H + KV, hs // 2, 2])
        q4_shape = b.i64("q4_shape", [-1, KV, g, hs])
        kv4_shape = b.i64("kv4_shape", [-1, KV, 1, hs])
    rows = b.i64("rows", [-1, D])
    scale = np.float32(1.0 / np.sqrt(hs))
    split_qkv = b.i64("split_qkv", [D + kvd, kvd])
    split_qk = b.i64("split_qk", [H, KV])
    split_ffn = b.i64("split_ffn", [F, F])
    flip = [b.i64("flip_s", [-1]), b.i64("flip_e", [-INT64_MAX]), b.i64("flip_a", [-1]),
            b.i64("flip_st", [-1])]
    outputs = []
    for l in range(L):
        wqkv = np.concatenate([w["wq"][l] * scale, w["wk"][l], w["wv"][l]], axis=0)
        wqkv = b.init(f"l{l}.wqkv", wqkv.T.astype(np.float32))      # [D, D + 2 kvd]
        h = b.rmsnorm(x, b.init(f"l{l}.rms_att", w["rms_att"][l].astype(np.float32)))
        qk, v = b.op("Split", [b.op("MatMul", [h, wqkv]), split_qkv], outs=2, axis=-1)
        # RoPE on q and k at once: (a, b) * (c, c) + (b, a) * (-s, s).
        qk = b.op("Reshape", [qk, qk_shape])
        qk = b.op("Add", [b.op("Mul", [qk, rc]),
                          b.op("Mul", [b.op("Slice", [qk] + flip), rs])])
        q, k = b.op("Split", [qk, split_qk], outs=2, axis=-3)
        pk, pv = f"present_k_{l}", f"present_v_{l}"
        if prefill:
            q = b.op("Transpose", [b.op("Reshape", [q, q5_shape])], perm=[0, 2, 3, 1, 4])
            b.op("Transpose", [b.op("Reshape", [k, kv4_shape])], name=pk, perm=[0, 2, 1, 3])
            b.op("Transpose", [b.op("Reshape", [v, kv4_shape])], name=pv, perm=[0, 2, 1, 3])
            k5 = b.op("Unsqueeze", [pk, two1])                         # [B, KV, 1, T, hs]
            v5 = b.op("Unsqueeze", [pv, two1])
            s = b.op("MatMul", [q, b.op("Transpose", [k5], perm=[0, 1, 2, 4, 3])])
            p = b.op("Softmax", [b.op("Add", [s, mask])], axis=-1)
            o = b.op("Transpose", [b.op("MatMul", [p, v5])], perm=[0, 3, 1, 2, 4])
        else:
            q = b.op("Reshape", [q, q4_shape])                          # [B, KV, g, hs]
            b.op("Concat", [f"past_k_{l}", b.op("Reshape", [k, kv4_shape])], name=pk, axis=2)
            b.op("Concat", [f"past_v_{l}", b.op("Reshape", [v, kv4_shape])], name=pv, axis=2)
            s = b.op("MatMul", [q, b.op("Transpose", [pk], perm=[0, 1, 3, 2])])
            o = b.op("MatMul", [b.op("Softmax", [s], axis=-1), pv])
        outputs += [pk, pv]
        o = b.op("Reshape", [o, rows])
        x = b.op("Add", [x, b.op("MatMul", [o, b.init(f"l{l}.wo", w["wo"][l].T.astype(np.float32))])])
        h = b.rmsnorm(x, b.init(f"l{l}.rms_ffn", w["rms_ffn"][l].astype(np.float32)))
        wgu = np.concatenate([w["w_gate"][l], w["w_up"][l]], axis=0).T.astype(np.float32)
        gt, up = b.op("Split", [b.op("MatMul", [h, b.init(f"l{l}.wgu", wgu)]), split_ffn],
                      outs=2, axis=-1)
        f = b.op("Mul", [b.op("Mul", [gt, b.op("Sigmoid", [gt])]), up])
        wd = b.init(f"l{l}.wdown", w["w_down"][l].T.astype(np.float32))
        x = b.op("Add", [x, b.op("MatMul", [f, wd])])
    if prefill:
        # Only the last position's logits: slice before the final norm.
        x3 = b.op("Reshape", [x, b.op("Concat", [bt, b.i64("d1", [D])], axis=0)])
        x = b.op("Reshape", [b.op("Slice", [x3, b.i64("last_s", [-1]), b.i64("last_e", [INT64_MAX]),
                                            b.i64("last_a", [1])]), rows])
    h = b.rmsnorm(x, b.init("rms_final", w["rms_final"].astype(np.float32)))
    if cfg["shared_output"]:
        b.op("Gemm", [h, emb], name="logits", transB=1)
    else:
        b.op("Gemm", [h, b.init("wcls", w["wcls"].astype(np.float32))], name="logits", transB=1)

    kv_dims = lambda p: ["B", KV, p, hs]
    if prefill:
        ins = [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B", "T"])]
        pres = "T"
    else:
        ins = [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B", 1]),
               helper.make_tensor_value_info("pos", TensorProto.INT64, ["B"])]
        for l in range(L):
            for kv in "kv":
                ins.append(helper.make_tensor_value_info(f"past_{kv}_{l}", TensorProto.FLOAT,
                                                         kv_dims("P")))
        pres = "P1"
    outs = [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["B", V])]
    outs += [helper.make_tensor_value_info(n, TensorProto.FLOAT, kv_dims(pres)) for n in outputs]
    graph = helper.make_graph(b.nodes, "llama_prefill" if prefill else "llama_decode",
                              ins, outs, b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="polynet bench/export_llama_onnx.py")
    model.ir_version = 8
    for k, val in cfg.items():
        model.metadata_props.append(onnx.StringStringEntryProto(key=k, value=str(val)))
    onnx.checker.check_model(model)
    return model


def save(model, path):
    tmp = path + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, path)


def main():
    if len(sys.argv) != 3 or not sys.argv[2].endswith(".onnx"):
        sys.exit("usage: export_llama_onnx.py MODEL.bin OUT.onnx   (also writes OUT-prefill.onnx)")
    cfg, _, w = read_llama2c(sys.argv[1])
    out = sys.argv[2]
    pre = out[:-len(".onnx")] + "-prefill.onnx"
    for path, prefill in ((out, False), (pre, True)):
        m = build(cfg, w, prefill)
        save(m, path)
        print(f"export_llama_onnx: wrote {path} ({len(m.graph.node)} nodes, "
              f"{sum(np.prod(i.dims) for i in m.graph.initializer) / 1e6:.2f} M values)")


if __name__ == "__main__":
    main()
