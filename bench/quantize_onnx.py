#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""ONNX Runtime's own int8 version of an f32 ONNX model (bench/export_onnx.py's
use.onnx): dynamic quantization written the way onnxruntime.quantization's
quantize_dynamic(per_channel=True, weight_type=QInt8) writes it, without
needing the onnxruntime Python package (only python3-onnx and numpy).

    /usr/bin/python3 bench/quantize_onnx.py IN.onnx OUT.onnx

Every MatMul (or Gemm) whose B input is a constant initializer becomes

    x --DynamicQuantizeLinear--> x_q (uint8), x_scale, x_zp     (per tensor, asymmetric)
    MatMulInteger(x_q, W_q, x_zp, W_zp) --Cast(float)--> acc
    Mul(acc, Mul(x_scale, W_scale))                             -> the MatMul's output

with W_q int8 per output channel (column n of the [K, N] weight), symmetric:
W_scale[n] = max|W[:, n]| / 127, W_zp = zeros(N) (a 1-D b_zero_point of length N,
as quantize_dynamic writes per-channel weights). The bias Add and any Relu
that followed stay the graph's own nodes, so ORT's optimiser fuses the chain
into DynamicQuantizeMatMul (with the bias) exactly as it does for a model that
quantize_dynamic produced. Everything else (attention's activation x
activation MatMuls, LayerNorm, Softmax, ...) is left in f32, unchanged.

Output: OUT.onnx, checked with onnx.checker; one summary line on stdout.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

QMAX = 127   # symmetric int8: [-127, 127], as ORT's QInt8 symmetric weights


def quantize_weight(w):
    """[K, N] f32 -> (int8 [K, N], f32 scale [N]): per output channel, symmetric."""
    amax = np.abs(w).max(axis=0).astype(np.float32)
    # An all-zero column: any scale works; 1 keeps the division defined.
    scale = np.where(amax > 0, amax / QMAX, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / scale), -QMAX, QMAX).astype(np.int8)
    return q, scale


def attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def quantize(model):
    g = model.graph
    inits = {i.name: i for i in g.initializer}
    # Initializers that are also graph inputs can be overridden at run time: not constant.
    overridable = {i.name for i in g.input}
    new_nodes, new_inits = [], []
    dql = {}        # activation name -> (x_q, x_scale, x_zp): quantize each tensor once
    used = {}       # weight initializers still read by some f32 node
    count = 0

    def activation(x):
        if x not in dql:
            outs = [f"{x}_quantized", f"{x}_scale", f"{x}_zero_point"]
            new_nodes.append(helper.make_node("DynamicQuantizeLinear", [x], outs,
                                              name=f"{x}_QuantizeLinear"))
            dql[x] = outs
        return dql[x]

    for node in g.node:
        b = node.input[1] if len(node.input) > 1 else None
        w = None
        if node.op_type in ("MatMul", "Gemm") and b in inits and b not in overridable:
            w = numpy_helper.to_array(inits[b])
            if node.op_type == "Gemm":
                if attr(node, "transA", 0) or attr(node, "alpha", 1.0) != 1.0:
                    w = None    # rare forms: leave them in f32
                elif attr(node, "transB", 0):
                    w = w.T
        if w is None or w.ndim != 2 or w.dtype != np.float32:
            new_nodes.append(node)
            for i in node.input:
                used[i] = True
            continue

        count += 1
        name = node.name or f"{node.op_type}_{count}"
        wq, ws = quantize_weight(w)
        wq_name, ws_name, wz_name = f"{b}_quantized", f"{b}_scale", f"{b}_zero_point"
        if wq_name not in {i.name for i in new_inits}:
            new_inits += [numpy_helper.from_array(wq, wq_name),
                          numpy_helper.from_array(ws, ws_name),
                          numpy_helper.from_array(np.zeros(wq.shape[1], np.int8), wz_name)]
        used[node.input[0]] = True
        xq, xs, xz = activation(node.input[0])
        acc = f"{node.output[0]}_output_quantized"
        new_nodes.append(helper.make_node("MatMulInteger", [xq, wq_name, xz, wz_name], [acc],
                                          name=f"{name}_quant"))
        new_nodes.append(helper.make_node("Cast", [acc], [acc + "_cast_output"],
                                          name=f"{acc}_cast", to=TensorProto.FLOAT))
        # The scale product as its own Mul (a_scale * W_scale[N]): the form ORT's
        # MatMulIntegerToFloat fusion looks for.
        scales = f"{name}_quant_scales_mul:0"
        new_nodes.append(helper.make_node("Mul", [xs, ws_name], [scales],
                                          name=f"{name}_quant_scales_mul"))
        mm = node.output[0] if node.op_type == "MatMul" else f"{node.output[0]}_matmul"
        new_nodes.append(helper.make_node("Mul", [acc + "_cast_output", scales], [mm],
                                          name=f"{name}_quant_output_scale_mul"))
        if node.op_type == "Gemm":  # y = x W + beta * C: the bias as an Add after it
            if len(node.input) > 2 and node.input[2]:
                c = node.input[2]
                beta = attr(node, "beta", 1.0)
                if beta != 1.0:
                    c = f"{name}_beta_c"
                    new_inits.append(numpy_helper.from_array(np.array(beta, np.float32),
                                                             c + "_beta"))
                    new_nodes.append(helper.make_node("Mul", [node.input[2], c + "_beta"], [c],
                                                      name=c))
                    used[node.input[2]] = True
                else:
                    used[c] = True
                new_nodes.append(helper.make_node("Add", [mm, c], [node.output[0]],
                                                  name=f"{name}_bias_add"))
            else:
                new_nodes.append(helper.make_node("Identity", [mm], [node.output[0]],
                                                  name=f"{name}_out"))

    # Drop the f32 weights no node reads any more (they are the bulk of the file).
    kept = [i for i in g.initializer if used.get(i.name) or i.name in overridable]
    del g.node[:]
    g.node.extend(new_nodes)
    del g.initializer[:]
    g.initializer.extend(kept + new_inits)
    # MatMulInteger and DynamicQuantizeLinear are opset 10 / 11: the export's 17 has both.
    if model.producer_name:
        model.producer_name += " + bench/quantize_onnx.py"
    onnx.checker.check_model(model)
    return model, count


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: quantize_onnx.py IN.onnx OUT.onnx")
    model, count = quantize(onnx.load(sys.argv[1]))
    if count == 0:
        sys.exit(f"quantize_onnx: {sys.argv[1]}: no MatMul/Gemm with a constant weight")
    tmp = sys.argv[2] + ".tmp"
    onnx.save(model, tmp)
    os.replace(tmp, sys.argv[2])
    print(f"quantize_onnx: wrote {sys.argv[2]} ({count} MatMul/Gemm -> int8, "
          f"{len(model.graph.node)} nodes, {os.path.getsize(sys.argv[2]) / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
