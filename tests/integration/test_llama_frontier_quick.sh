#!/usr/bin/env bash
# The decoder frontier's smoke run (bench/llama_frontier.py --quick): three
# variants of stories260K compiled on sampled calibration text, evaluated
# on the validation split and the held-out prompts; the exact model must
# agree with itself exactly, and PolyFFN must stay faithful (validation
# top-1 >= 0.98). Writes under build/llama_frontier_quick only.
# Exit 0 pass, 1 fail, 77 skip.
set -u
cd "$(dirname "$0")/../.."
B=${POLYNET_BUILD:-build}
PY=/usr/bin/python3
[ -x "$B/rel/polyctl" ] || { echo "skip: $B/rel/polyctl not built"; exit 77; }
[ -x "$PY" ] || { echo "skip: $PY absent"; exit 77; }
"$PY" bench/llama_frontier.py --quick --build "$B" 2>"$B/llama_frontier_quick.log" ||
	{ echo "FAIL: llama_frontier.py --quick"; cat "$B/llama_frontier_quick.log"; exit 1; }
"$PY" - "$B/llama_frontier_quick/decoder.json" <<'PYEOF' || exit 1
import json, sys
d = json.load(open(sys.argv[1]))
v = {x["label"]: x for x in d["variants"]}
e = v["exact"]
assert e["val"]["kl_mean"] == 0 and e["val"]["top1"] == 1 and e["test"]["greedy_match"] == 1, e
p = v["poly-ffn"]
assert p["val"]["top1"] >= 0.98 and p["val"]["kl_mean"] < 0.01, p["val"]
assert set(p["test"]) >= {"kl_mean", "top1", "greedy_match", "speedup"}
print("decoder frontier (quick): exact self-consistent, poly-ffn val top-1 %.4f, KL %.2g"
      % (p["val"]["top1"], p["val"]["kl_mean"]))
PYEOF
