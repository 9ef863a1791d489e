#!/usr/bin/env bash
# bench/frontier.sh end to end in QUICK=1 mode (issue 14): a few variants on
# 120 texts per set, tiny timings (about a minute on one core). It writes
# under $B/frontier_quick only (bench/RESULTS.md, frontier.json and .png are
# byte-identical after it); the exact model is faithful to itself (cosine 1,
# recall@10 exactly 1, speedup 1) in both directions; the picks follow the
# rules from the validation numbers; a variant that does not compile is
# skipped with its reason, not fatal; the PNG and the section are written.
set -u
cd "$(dirname "$0")/../.."
B=${POLYNET_BUILD:-build}
PY=/usr/bin/python3
Q=$B/frontier_quick
fail() { echo "test_frontier_quick: $*"; exit 1; }
skip() { echo "skip: $*"; exit 77; }
[ -x "$B/rel/polyctl" ] && [ -f "$B/use.pnb" ] || skip "$B/rel/polyctl or $B/use.pnb missing (make build model)"
[ -f build/npm/node_modules/sentiment/test/fixtures/amazon.json ] || skip "fixtures missing (make model)"
command -v node >/dev/null || skip "node missing (make setup)"
command -v gnuplot >/dev/null || skip "gnuplot missing (make setup)"
"$PY" -c "import onnx, numpy" 2>/dev/null || skip "python3-onnx missing (make setup)"

sums() { sha256sum bench/RESULTS.md bench/frontier.json bench/frontier.png 2>/dev/null; }
before=$(sums)
B=$B QUICK=1 bash bench/frontier.sh >"$Q.log" 2>&1 || { tail -n 20 "$Q.log"; fail "frontier.sh failed"; }
[ "$(sums)" = "$before" ] || fail "QUICK=1 touched bench/"
[ -s "$Q/frontier.png" ] || fail "no PNG"
grep -q "^## Frontier (issue 14)" "$Q/RESULTS.md" || fail "no section in $Q/RESULTS.md"
grep -q "^### Peers in the same run" "$Q/RESULTS.md" || fail "no peers table"

"$PY" - "$Q/frontier.json" "$Q/selection.json" "$Q.log" <<'PY' || fail "frontier.json: see above"
import json, sys
doc, sel, log = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), open(sys.argv[3]).read()
DIRS = ("amazon->imdb", "imdb->amazon")
assert doc["selection"] == sel, "the report's picks differ from selection.json"
vs = {v["label"]: v for v in doc["variants"]}
ex = vs["exact"]
assert ex["speedup"] == 1.0 and ex["faithful"], ex
for d in DIRS:
    for ph in ("val", "test"):
        e = ex["dirs"][d][ph]
        assert e["recall_at_10"] == 1 and abs(e["mean_cosine"] - 1) < 1e-6, (d, ph, e)
    for s in doc["shapes"]:
        assert ex["dirs"][d]["p50_us"][s] > 0
assert {p["engine"] for p in doc["peers"]} == {"onnxruntime", "onnxruntime-int8"}, doc["peers"]
# every variant either complete, or skipped with its reason in the log
for label in ("mean-mix l1", "keep 256 l0", "int8", "mean-mix l1 + int8"):
    v = vs.get(label)
    if v and v["complete"]:
        for d in DIRS:
            assert 0 <= v["dirs"][d]["test"]["recall_at_10"] <= 1
    else:
        assert "'%s' skipped: " % label in log, label
        assert label in sel["skipped"] or label not in vs, label
# the picks, recomputed from validation numbers
ok = [v for v in doc["variants"] if v["complete"]]
faith = [v for v in ok if all(v["dirs"][d]["val"]["mean_cosine"] >= 0.99 and
                              v["dirs"][d]["val"]["recall_at_10"] >= 0.95 for d in DIRS)]
fp = max(faith, key=lambda v: v["speedup"])
assert sel["faithful"] == fp["label"], (sel, fp["label"])
st = [v for v in ok if v["speedup"] >= 2 * fp["speedup"] and all(
    100 * (v["dirs"][d]["val"]["exact_accuracy"] - v["dirs"][d]["val"]["accuracy"]) <= 1 for d in DIRS)]
assert sel["structural"] == (max(st, key=lambda v: v["speedup"])["label"] if st else None), sel
PY
echo "ok: faithful $("$PY" -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["faithful"], "structural", s["structural"])' "$Q/selection.json")"
