#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The decoder's fidelity/latency frontier (issue 15): PolyNet's variants of
stories260K, chosen on a validation split, reported once on held-out prompts.

    /usr/bin/python3 bench/llama_frontier.py [--build B] [--out DIR] [--quick]

Data (nothing here is tuned on the test prompts):
  train (calibration): the model's own sampled continuations (temperature 1,
      top-p 0.95, 96 tokens) of prompts.txt lines 1-48, seeds 1-3: 144 texts.
  validation: sampled continuations (seeds 4-5, 48 tokens) of lines 49-64,
      used as prompts: 32 prompts. Variants are CHOSEN here.
  test: tests/data/llama/heldout.txt (40 prompts), evaluated once per variant
      after the choice is written to DIR/selection.json.
Fidelity per variant: polyctl eval-gen (64 positions per prompt): mean
next-token KL(exact || variant), teacher-forced top-1 agreement, the share
of identical 64-token greedy continuations, and the per-token decode p50
ratio against the exact model measured in the same run.
Rules (fixed before any test number): "faithful" is the fastest variant with
validation top-1 >= 0.99 and mean KL <= 0.01; "fast" the fastest with
validation top-1 >= 0.90. Writes the "decoder" key of bench/frontier.json and
the "## Decoder frontier (issue 15)" section of bench/RESULTS.md.
"""
import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from results_md import replace_section  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data", "llama")

# label -> compile args (on top of --calib TRAIN); decided before any eval
VARIANTS = [
    ("exact", None),
    ("poly-ffn", "--poly-ffn"),
    ("poly-ffn tol 0.003", "--poly-ffn --poly-tol 0.003"),
    ("int8", "--int8"),
    ("poly-ffn + int8", "--poly-ffn --int8"),
    ("vq 256 l0", "--vq 256 --vq-layers 0"),
    ("vq 256 l4", "--vq 256 --vq-layers 4"),
    ("macro 4x64 over 2 layers", "--macro 4 --macro-len 2 --macro-rank 64"),
    ("macro 8x128 over 2 layers", "--macro 8 --macro-len 2 --macro-rank 128 --macro-topk 2"),
]
QUICK = ["exact", "poly-ffn", "macro 4x64 over 2 layers"]


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode:
        sys.exit("llama_frontier: %s failed:\n%s" % (" ".join(cmd), r.stderr))
    return r.stdout


def sample(polyctl, model, lines, seeds, tokens, out):
    """The model's own continuations of lines, one text per (line, seed)."""
    texts = []
    src = out + ".src"
    with open(src, "w") as f:
        f.write("\n".join(lines) + "\n")
    for seed in seeds:
        o = run([polyctl, "generate", model, "--prompt-file", src, "--max-tokens", str(tokens),
                 "--temperature", "1", "--top-p", "0.95", "--seed", str(seed), "--json"])
        for ln in o.splitlines():
            d = json.loads(ln)
            if "text" in d:
                texts.append((d["prompt"] + d["text"]).replace("\n", " ").strip())
    with open(out, "w") as f:
        f.write("\n".join(texts) + "\n")
    return len(texts)


def evalgen(polyctl, variant, exact, prompts):
    o = run(["taskset", "-c", "1", polyctl, "eval-gen", variant, "--exact", exact,
             "--prompts", prompts, "--tokens", "64", "--json"])
    return json.loads(o)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--quick", action="store_true", help="3 variants, small sets (CI smoke)")
    a = ap.parse_args()
    out = a.out or os.path.join(a.build, "llama_frontier_quick" if a.quick else "llama_frontier")
    os.makedirs(out, exist_ok=True)
    polyctl = os.path.join(a.build, "rel", "polyctl")
    exact = os.path.join(out, "exact.pnb")
    run([polyctl, "compile", "-q", "--from", "llama2c", os.path.join(DATA, "stories260k.bin"),
         "-o", exact])
    lines = open(os.path.join(DATA, "prompts.txt")).read().splitlines()
    train, val = os.path.join(out, "train.txt"), os.path.join(out, "val.txt")
    ntr = sample(polyctl, exact, lines[:48], [1] if a.quick else [1, 2, 3], 96, train)
    nva = sample(polyctl, exact, lines[48:64], [4] if a.quick else [4, 5], 48, val)
    test = os.path.join(DATA, "heldout.txt")
    print("llama_frontier: %d train texts, %d validation prompts" % (ntr, nva), file=sys.stderr)
    vs = []
    for label, args in VARIANTS:
        if a.quick and label not in QUICK:
            continue
        model = exact
        if args:
            model = os.path.join(out, label.replace(" ", "_").replace("+", "p") + ".pnb")
            run([polyctl, "compile", "--from", "pnb", exact, "-o", model, "-q", "--calib", train]
                + args.split())
        v = {"label": label, "compile_args": args or "", "model": os.path.relpath(model, ROOT),
             "bytes": os.path.getsize(model), "val": evalgen(polyctl, model, exact, val)}
        print("llama_frontier: %-28s val top1 %.4f kl %.4g greedy %.3f speedup %.2f" % (
            label, v["val"]["top1"], v["val"]["kl_mean"], v["val"]["greedy_match"],
            v["val"]["speedup"]), file=sys.stderr)
        vs.append(v)

    def pick(top1, kl):
        ok = [v for v in vs if v["val"]["top1"] >= top1 and v["val"]["kl_mean"] <= kl]
        return max(ok, key=lambda v: v["val"]["speedup"])["label"] if ok else None
    sel = {"faithful": pick(0.99, 0.01), "fast": pick(0.90, float("inf")),
           "rules": "faithful: fastest with validation top-1 >= 0.99 and mean KL <= 0.01; "
                    "fast: fastest with validation top-1 >= 0.90"}
    with open(os.path.join(out, "selection.json"), "w") as f:
        json.dump(sel, f, indent=1)
    for v in vs:  # the test set, once each, after the selection is on disk
        v["test"] = evalgen(polyctl, os.path.join(ROOT, v["model"]), exact, test)
    doc = {"issue": 15, "model": "stories260k", "metric_tokens": 64,
           "splits": {"train": "%d sampled continuations of prompts.txt 1-48" % ntr,
                      "validation": "%d sampled continuations of prompts.txt 49-64" % nva,
                      "test": "tests/data/llama/heldout.txt (40 prompts)"},
           "cpu": subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"],
                                 capture_output=True, text=True).stdout.strip(),
           "selection": sel, "variants": vs}
    for v in vs:
        v["val"].pop("variant", None), v["test"].pop("variant", None)
        v["val"].pop("exact", None), v["test"].pop("exact", None)
    if a.quick:
        with open(os.path.join(out, "decoder.json"), "w") as f:
            json.dump(doc, f, indent=1)
        return
    fj = os.path.join(ROOT, "bench", "frontier.json")
    with open(fj) as f:
        full = json.load(f)
    full["decoder"] = doc
    with open(fj, "w") as f:
        json.dump(full, f, indent=1)
        f.write("\n")
    write_md(doc)
    print(json.dumps(sel))


def write_md(doc):
    """The RESULTS.md section, replaced in place (generated: do not edit by hand)."""
    head = "## Decoder frontier (issue 15)"
    rows = ["| variant | val top-1 | val KL | test top-1 | test KL | test greedy = exact "
            "| test prefix | decode speedup (test) |", "|---|---|---|---|---|---|---|---|"]
    for v in doc["variants"]:
        a, t = v["val"], v["test"]
        rows.append("| %s | %.4f | %.2g | %.4f | %.2g | %.3f | %.1f | %.2fx |" % (
            v["label"], a["top1"], a["kl_mean"], t["top1"], t["kl_mean"], t["greedy_match"],
            t["greedy_prefix_mean"], t["speedup"]))
    sel = doc["selection"]
    text = "\n".join([
        head, "",
        "Generated by `/usr/bin/python3 bench/llama_frontier.py` (part of `make bench`) on %s, "
        "1 thread. stories260K; %s (calibration), %s (selection), %s (reported once). "
        "64 positions per prompt: KL(exact || variant) and top-1 teacher-forced; greedy = exact: "
        "share of 64-token greedy continuations identical to the exact model's; prefix: mean "
        "common prefix in tokens; speedup: exact / variant per-token decode p50, same run." % (
            doc["cpu"], doc["splits"]["train"], doc["splits"]["validation"],
            doc["splits"]["test"]), "",
        *rows, "",
        "Selection on validation (%s): faithful **%s**, fast **%s**." % (
            sel["rules"], sel["faithful"], sel["fast"]), ""])
    replace_section(os.path.join(ROOT, "bench", "RESULTS.md"), head, text)


if __name__ == "__main__":
    main()
