#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The two phases of bench/frontier.sh (issue 14; docs/bench.md).

--phase select: from the validation evals (A_fit -> A_val) and the latency of
  every build only, writes SELECTION (the faithful and structural picks and
  the numbers they rest on). It is given no test numbers.
--phase report: adds the test evals (A -> B) and writes bench/frontier.json,
  the "## Frontier (issue 14)" section of RESULTS.md and a gnuplot PNG.

Latency of a build at a shape: the median over rounds of polyctl bench's p50.
Speedup of a build: min over the four shapes of exact p50 / build p50; of a
variant: the min over its two builds (one per direction, they differ by the
calibration set). Rules (a) and (b) are in select() below.
"""
import argparse
import json
import os
import statistics
import subprocess

from results_md import replace_section

SECTION = "## Frontier (issue 14)"
OLD_SECTIONS = ("## Frontier (issue 5)", "## Frontier, roles swapped (issue 5)")
SHAPES = ("1x16", "1x128", "32x16", "32x128")
DIRS = ("amazon->imdb", "imdb->amazon")
FAITHFUL_COS, FAITHFUL_RECALL = 0.99, 0.95    # rule (a), on validation, both directions
STRUCT_POINTS, STRUCT_FACTOR = 1.0, 2.0       # rule (b): <= 1 point lost, >= 2x the faithful pick


def jsonl(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def latency(bench):
    """{model: {shape: median p50}}, {engine: {shape: median p50}} for the peers."""
    acc, peers = {}, {}
    for r in bench:
        shape = "%dx%d" % (r["batch"], r["tokens"])
        if r["engine"] == "polynet":
            acc.setdefault(r["model"], {}).setdefault(shape, []).append(r["p50_us"])
        else:
            peers.setdefault(r["engine"], {}).setdefault(shape, []).append(r["p50_us"])
    med = lambda d: {k: {s: statistics.median(v) for s, v in x.items()} for k, x in d.items()}
    return med(acc), med(peers)


def variants(builds, val, bench):
    """One dict per variant label, in the order of the variant list."""
    lat, peers = latency(bench)
    exact_model = next(b["model"] for b in builds if not b["args"])
    exact = lat.get(exact_model, {})
    if any(s not in exact for s in SHAPES):
        raise SystemExit("frontier.py: the exact model has no latency at every shape")
    vs = {}
    for b in builds:
        v = vs.setdefault(b["label"], {"label": b["label"], "compile_args": b["args"], "dirs": {}})
        p50 = lat.get(b["model"], {})
        d = {"model": b["model"], "p50_us": p50,
             "speedup": min(exact[s] / p50[s] for s in SHAPES) if all(s in p50 for s in SHAPES) else None}
        v["dirs"][b["dir"]] = d
    for r in val:
        e = r["eval"]
        vs[r["label"]]["dirs"][r["dir"]]["val"] = {
            k: e[k] for k in ("accuracy", "exact_accuracy", "mean_cosine", "min_cosine",
                              "recall_at_10", "n_train", "n_test")}
    out = []
    for v in vs.values():
        ds = v["dirs"]
        complete = all(d in ds and ds[d].get("speedup") and "val" in ds[d] for d in DIRS)
        v["complete"] = complete   # built, validated and timed in both directions
        v["speedup"] = min(ds[d]["speedup"] for d in DIRS) if complete else None
        if complete:
            vals = [ds[d]["val"] for d in DIRS]
            v["faithful"] = all(x["mean_cosine"] >= FAITHFUL_COS and x["recall_at_10"] >= FAITHFUL_RECALL
                                for x in vals)
            # exact's own validation accuracy (the same head on exact embeddings)
            v["val_loss_points"] = max(100 * (x["exact_accuracy"] - x["accuracy"]) for x in vals)
        out.append(v)
    return out, exact, peers


def select(vs):
    """Rules (a) and (b), on validation numbers and latency only."""
    ok = [v for v in vs if v["complete"]]
    faithful = [v for v in ok if v["faithful"]]
    fp = max(faithful, key=lambda v: v["speedup"]) if faithful else None
    floor = STRUCT_FACTOR * (fp["speedup"] if fp else 1.0)
    fast = [v for v in ok if v["speedup"] >= floor]
    close = [v for v in ok if v["val_loss_points"] <= STRUCT_POINTS and v["compile_args"]]
    hits = [v for v in fast if v["val_loss_points"] <= STRUCT_POINTS]
    sp = max(hits, key=lambda v: v["speedup"]) if hits else None
    best_loss = min(fast, key=lambda v: v["val_loss_points"]) if fast else None
    best_close = max(close, key=lambda v: v["speedup"]) if close else None
    name = lambda v: v["label"] if v else None
    return {
        "faithful": name(fp), "faithful_speedup": fp["speedup"] if fp else None,
        "structural": name(sp), "structural_speedup_floor": floor,
        "structural_best_loss": name(best_loss), "structural_best_within_1pt": name(best_close),
        "rules": "faithful: fastest with validation mean cosine >= %g and recall@10 >= %g in both "
                 "directions; structural: fastest with validation accuracy within %g point of exact's "
                 "in both directions and speedup >= %gx the faithful pick's" % (
                     FAITHFUL_COS, FAITHFUL_RECALL, STRUCT_POINTS, STRUCT_FACTOR),
        "skipped": [v["label"] for v in vs if not v["complete"]],
    }


def fmt(x, f="%.3f"):
    return f % x if x is not None else "-"


def table(vs, sel, d, exact):
    rows = ["| # | variant | val acc | test acc | test Δ (pts) | mean cos | min cos | recall@10 | "
            + " | ".join("p50 %s us" % s for s in SHAPES) + " | speedup | pick |",
            "|---|---|---|---|---|---|---|---|" + "---|" * len(SHAPES) + "---|---|"]
    for v in vs:
        x = v["dirs"].get(d)
        if not x or "val" not in x:
            continue
        t = x.get("test")
        pick = " ".join(p for p, k in (("faithful", "faithful"), ("structural", "structural"))
                        if sel[k] == v["label"])
        rows.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
            v["n"], v["label"], fmt(x["val"]["accuracy"]), fmt(t and t["accuracy"]),
            fmt(t and t["delta_points"], "%+.1f"), fmt(t and t["mean_cosine"], "%.4f"),
            fmt(t and t["min_cosine"], "%.4f"), fmt(t and t["recall_at_10"]),
            " | ".join(fmt(x["p50_us"].get(s), "%.0f") for s in SHAPES),
            fmt(x["speedup"], "%.2fx"), pick))
    return rows


def plot(vs, peers, png, work):
    """Two panels against batch-1 16-token latency, points numbered (the tables' #)."""
    dat = os.path.join(work, "frontier.dat")
    with open(dat, "w") as f:
        for di, d in enumerate(DIRS):
            f.write("# %s\n" % d)
            for v in vs:
                x = v["dirs"].get(d, {})
                t = x.get("test")
                if t and x["p50_us"].get("1x16"):
                    f.write("%g %g %g %d\n" % (x["p50_us"]["1x16"], 100 * t["accuracy"],
                                               t["mean_cosine"], v["n"]))
            f.write("\n\n")   # a gnuplot index per direction
    peer_lines = "".join(
        "set arrow from %g, graph 0 to %g, graph 1 nohead dt 3 lc rgb 'gray40'\n"
        "set label '%s' at %g, graph 0.03 rotate by 90 offset -0.6,0 font ',8' tc rgb 'gray40'\n" % (
            p["1x16"], p["1x16"], e, p["1x16"]) for e, p in peers.items() if "1x16" in p)
    # Labels: the number only, offset right of the point, and the second
    # direction's below-left, so the two directions' labels of one variant do not sit on each other.
    gp = """set terminal pngcairo size 1200,1000 font ',10'
set output '%(png)s'
set multiplot layout 2,1 title 'USE lite variants (issue 14): test set, numbers = rows of the RESULTS.md tables'
set logscale x
set grid
set xlabel 'p50 latency, batch 1, 16 tokens (us, log scale, core 1)'
%(peers)s
set ylabel 'test accuracy (%%)'
set key bottom right
plot '%(dat)s' index 0 using 1:2 with points pt 7 ps 1.1 title 'amazon -> imdb', \\
     '' index 0 using 1:2:(sprintf('%%d', $4)) with labels offset 0.9,0.5 font ',8' notitle, \\
     '' index 1 using 1:2 with points pt 5 ps 1.0 title 'imdb -> amazon', \\
     '' index 1 using 1:2:(sprintf('%%d', $4)) with labels offset -0.9,-0.6 font ',8' notitle
set ylabel 'mean cosine to exact (test)'
set yrange [*:1.01]
set object 1 rect from graph 0, first 0.99 to graph 1, graph 1 fc rgb '#d8f0d8' fs solid 0.6 noborder behind
set label 10 'faithful: cos >= 0.99' at graph 0.02, first 0.985 font ',8' tc rgb '#206020'
plot '%(dat)s' index 0 using 1:3 with points pt 7 ps 1.1 title 'amazon -> imdb', \\
     '' index 0 using 1:3:(sprintf('%%d', $4)) with labels offset 0.9,0.5 font ',8' notitle, \\
     '' index 1 using 1:3 with points pt 5 ps 1.0 title 'imdb -> amazon', \\
     '' index 1 using 1:3:(sprintf('%%d', $4)) with labels offset -0.9,-0.6 font ',8' notitle
unset multiplot
""" % {"png": png, "dat": dat, "peers": peer_lines}
    gpf = os.path.join(work, "frontier.gp")
    with open(gpf, "w") as f:
        f.write(gp)
    subprocess.run(["gnuplot", gpf], check=True)


def report(a, vs, exact, peers, sel):
    for r in jsonl(a.test):
        e = r["eval"]
        x = next(v for v in vs if v["label"] == r["label"])["dirs"][r["dir"]]
        x["test"] = {k: e[k] for k in ("accuracy", "exact_accuracy", "mean_cosine", "min_cosine",
                                       "recall_at_10", "n_train", "n_test")}
        x["test"]["delta_points"] = 100 * (e["accuracy"] - e["exact_accuracy"])
    for v in vs:
        for d, x in v["dirs"].items():
            A = d.split("->")[0]
            x["compile"] = ("polyctl compile --from pnb %s -o OUT.pnb --calib %s_fit.json %s" % (
                a.exact, A, v["compile_args"])).rstrip() if v["compile_args"] else "(the exact model)"
    peer_rows = [{"engine": e, "p50_us": p, "exact_over_peer": {
        s: exact[s] / p[s] for s in SHAPES if s in p}} for e, p in peers.items()]
    doc = {"issue": 14, "shapes": list(SHAPES), "directions": list(DIRS), "max_s": a.max_s,
           "rounds": a.rounds, "exact_p50_us": exact, "peers": peer_rows, "selection": sel,
           "variants": vs}
    try:  # bench/llama_frontier.py owns the "decoder" key: keep it
        with open(a.json) as f:
            old = json.load(f)
        if "decoder" in old:
            doc["decoder"] = old["decoder"]
    except (OSError, ValueError):
        pass
    with open(a.json, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")

    pick = lambda k: "`%s`" % sel[k] if sel[k] else "none"
    L = [SECTION, "",
         "Command: `make B=build build model && bash bench/frontier.sh` (docs/bench.md: procedure, "
         "rules, the schema of bench/frontier.json). Per direction A -> B: A is split 80/20 "
         "(bench/split.py, seeded, by class) into A_fit and A_val; every variant is compiled with "
         "`--calib A_fit`; the picks are made from `polyctl eval --train A_fit --test A_val` and the "
         "latency alone, and written down (selection.json) before the test evals "
         "(`--train A --test B`) run. Fidelity (cosines, recall@10 of each text's 10 nearest texts) "
         "is against the exact model's embeddings of the same texts. Latency: `polyctl bench` p50, one "
         "thread, core 1, median of %d alternated rounds of %gs per shape; speedup = min over the four "
         "shapes (and over the two directions' builds) of exact p50 / variant p50." % (
             a.rounds, a.max_s), "",
         "**Faithful pick** (validation mean cos >= %g and recall@10 >= %g in both directions, "
         "fastest): %s%s." % (FAITHFUL_COS, FAITHFUL_RECALL, pick("faithful"),
                              " at %.2fx" % sel["faithful_speedup"] if sel["faithful"] else ""),
         "**Structural pick** (validation accuracy within %g point of exact's in both directions, "
         ">= %.2fx = %gx the faithful pick, fastest): %s." % (
             STRUCT_POINTS, sel["structural_speedup_floor"], STRUCT_FACTOR, pick("structural"))]
    if not sel["structural"]:
        L.append("Best found instead: smallest validation loss at >= %.2fx: %s; fastest within %g "
                 "point: %s." % (sel["structural_speedup_floor"], pick("structural_best_loss"),
                                 STRUCT_POINTS, pick("structural_best_within_1pt")))
    if sel["skipped"]:
        L.append("Not built, evaluated or timed in both directions (left out of the choice): %s." %
                 ", ".join("`%s`" % s for s in sel["skipped"]))
    for d in DIRS:
        A, B = d.split("->")
        L += ["", "### %s -> %s (chosen on %s_val, reported on %s)" % (A, B, A, B), ""]
        L += table(vs, sel, d, exact)
    L += ["", "### Peers in the same run (ONNX Runtime, one thread, core 1)", "",
          "| engine | " + " | ".join("p50 %s us" % s for s in SHAPES) + " | exact PolyNet / peer |",
          "|---|" + "---|" * len(SHAPES) + "---|",
          "| PolyNet exact | " + " | ".join("%.0f" % exact[s] for s in SHAPES) + " | 1 |"]
    for p in peer_rows:
        L.append("| %s | %s | %s |" % (p["engine"], " | ".join(fmt(p["p50_us"].get(s), "%.0f") for s in SHAPES),
                                        ", ".join("%s %.2f" % (s, r) for s, r in p["exact_over_peer"].items())))
    L += ["", "![frontier](frontier.png)", "",
          "The issue-5 frontier (sections \"Frontier (issue 5)\" and \"Frontier, roles swapped\") chose "
          "its variants on the test set; it is superseded by this section (git history keeps it).", "",
          "### Components (each PolyNet node against the exact node it replaces)", ""]
    try:
        with open(a.components) as f:
            # demoted headings: a "## " inside would end this section on the next run
            L += [("####" + l[2:] if l.startswith("## ") else l) for l in f.read().splitlines()
                  if not l.startswith("# ")]
    except OSError:
        L.append("(bench/results/poly_components.md missing)")
    section = "\n".join(L).rstrip() + "\n"
    place_section(a.md, section)
    plot(vs, peers, a.png, a.work)


def place_section(md_path, section):
    """The new section where issue 5's first frontier section was (the first run
    after issue 14), or in its own place; issue 5's two sections dropped."""
    try:
        with open(md_path) as f:
            md = f.read()
    except OSError:
        md = ""
    title = SECTION
    if SECTION not in md and ("\n" + OLD_SECTIONS[0] + "\n") in md:
        title = OLD_SECTIONS[0]   # replaced in place by the new section
    replace_section(md_path, title, section)
    drop_sections(md_path, [t for t in OLD_SECTIONS if t != title] + [OLD_SECTIONS[0]])


def drop_sections(md_path, titles):
    with open(md_path) as f:
        md = f.read()
    for t in titles:
        start = md.find("\n" + t + "\n")
        if start < 0:
            continue
        nxt = md.find("\n## ", start + len(t) + 1)
        md = md[:start] + (md[nxt:] if nxt >= 0 else "\n")
    with open(md_path, "w") as f:
        f.write(md)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--phase", choices=("select", "report"), required=True)
    for k in ("builds", "val", "bench", "selection"):
        ap.add_argument("--" + k, required=True)
    for k in ("test", "exact", "json", "md", "png", "work", "components"):
        ap.add_argument("--" + k)
    ap.add_argument("--max-s", type=float, default=0)
    ap.add_argument("--rounds", type=int, default=0)
    a = ap.parse_args()
    vs, exact, peers = variants(jsonl(a.builds), jsonl(a.val), jsonl(a.bench))
    for n, v in enumerate(vs, 1):
        v["n"] = n
    if a.phase == "select":
        sel = select(vs)
        with open(a.selection, "w") as f:
            json.dump(sel, f, indent=1)
            f.write("\n")
        print("frontier.py: faithful pick %s, structural pick %s" % (sel["faithful"], sel["structural"]))
        return
    # the picks are read back, never recomputed: the test numbers cannot move them
    with open(a.selection) as f:
        sel = json.load(f)
    report(a, vs, exact, peers, sel)


if __name__ == "__main__":
    main()
