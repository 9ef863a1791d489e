#!/usr/bin/env bash
# The components of the >= 2x variant on the REAL model (issue 5): per-node
# times of the exact model and of the variant from one `polyctl bench
# --nodes` run each (batch 1 x 16 tokens, core 1, alternated REPS times,
# median), grouped by the part of the model they compute, with each pass's
# held-out error on real calibration rows from the compile report. Writes
# the "## Components on the real model (issue 5)" section of bench/RESULTS.md.
# Knobs: B (build dir, default build), REPS (default 5), MAX_S (seconds per
# bench, default 2).
set -u -o pipefail
NAME=real_components.sh
OUT=${B:-build}/real_components
. "$(dirname "$0")/frontier_env.sh"
REPS=${REPS:-5}
MAX_S=${MAX_S:-2}
ARGS="--calib $FX/amazon.json $R --ffn-keep 768 --ffn-keep-layers 0 $M1 --macro-rank 768"
# shellcheck disable=SC2086
"$P" compile -q --from pnb "$EXACT" -o "$OUT/v.pnb" $ARGS --report "$OUT/report.json" ||
	die "compile failed"
for r in $(seq "$REPS"); do
	for m in exact v; do
		f=$EXACT
		[ $m = v ] && f=$OUT/v.pnb
		"${PIN[@]}" "$P" bench "$f" --batch 1 --tokens 16 --max-s "$MAX_S" --nodes \
			>"$OUT/$m.$r.txt" || die "bench $f failed"
	done
done

"$PY" - "$OUT" "$REPS" "$ARGS" bench/RESULTS.md <<'PYEOF' || die "cannot write bench/RESULTS.md"
import json, statistics, sys
sys.path.insert(0, "bench")
from results_md import replace_section
out, reps, args, md_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
SECTION = "## Components on the real model (issue 5)"

def group(name):
    if name.startswith("macro.") or name.startswith("l1."):
        return "layer 1"
    if name.startswith("l0.ffn") or name == "l0.ln2":
        return "layer 0 FFN"
    if name.startswith("l0."):
        return "layer 0 attention"
    return "embedding, tanh head, L2"

def parse(path):
    """us per call by group, and the p50 of the run."""
    g, p50 = {}, None
    for line in open(path):
        f = line.split()
        if line.startswith("batch"):
            p50 = float(f[f.index("p50") + 1])
        elif len(f) == 4 and f[0] != "node":
            g[group(f[0])] = g.get(group(f[0]), 0) + float(f[1]) / int(f[2])
    return g, p50

runs = {m: [parse("%s/%s.%d.txt" % (out, m, r)) for r in range(1, reps + 1)] for m in ("exact", "v")}
rep = json.load(open(out + "/report.json"))
keep, mac = rep["ffn_keep"][0], rep["macro"]
err = {
    "layer 0 FFN": "FFN output rel err %.3f held-out (%.3f dropping alone); %d of %d neurons, "
                   "%.1f%% of the output energy" % (keep["rel_err_heldout"], keep["rel_err_dropped_only"],
                                                    keep["kept"], keep["hidden"], 100 * keep["energy_share"]),
    "layer 1": "residual ‖fit − (y − x)‖² / ‖y − x‖² = %.3f held-out; %d neurons, %.1f%% of "
               "the FFN's output energy, + linear term" % (mac["resid_heldout"], mac["rank"],
                                                          100 * mac["energy_share"]),
    "layer 0 attention": "unchanged",
    "embedding, tanh head, L2": "unchanged",
}
what = {"layer 0 FFN": "FFN neuron selection (K 768, W2 refitted)",
        "layer 1": "FFN-seeded Macro-Operator (rank 768)",
        "layer 0 attention": "exact", "embedding, tanh head, L2": "exact"}
lines = [SECTION, "",
         "Command: `bash bench/real_components.sh` (B=build). The >= 2x variant (`polyctl compile --from "
         "pnb use.pnb %s`) against the exact model, part by part, on USE lite itself: per-node times "
         "from `polyctl bench --nodes --batch 1 --tokens 16` (core 1; us per call summed over the "
         "part's nodes; median of %d alternated runs of each model), errors from the compile "
         "report (real calibration rows, the held-out 20%%). The parts left exact differ only by "
         "noise and by what the smaller model leaves in the caches." % (args, reps), "",
         "| part | PolyNet node | exact us | PolyNet us | speedup | error on real rows |",
         "|---|---|---|---|---|---|"]
for gname in ("layer 0 attention", "layer 0 FFN", "layer 1", "embedding, tanh head, L2"):
    e = statistics.median(r[0].get(gname, 0) for r in runs["exact"])
    p = statistics.median(r[0].get(gname, 0) for r in runs["v"])
    lines.append("| %s | %s | %.1f | %.1f | %s | %s |" % (
        gname, what[gname], e, p, "%.2fx" % (e / p) if p > 0 else "-", err[gname]))
e = statistics.median(r[1] for r in runs["exact"])
p = statistics.median(r[1] for r in runs["v"])
lines.append("| end to end (p50) | | %.1f | %.1f | %.2fx | accuracy: the frontier tables |" % (e, p, e / p))
replace_section(md_path, SECTION, "\n".join(lines))
PYEOF
echo "real_components: wrote the section of bench/RESULTS.md" >&2
