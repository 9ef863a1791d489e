#!/usr/bin/env bash
# bench/split.py (issue 14): the fit/validation split the frontier selects
# on. On both sentiment fixtures: FIT and VAL are disjoint, together they are
# the input's labelled entries (multiset, by position: duplicate texts count),
# each class is split 80/20 (to the nearest entry), the same seed gives
# byte-identical files and another seed another split; bad input is refused.
set -u
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
FX=build/npm/node_modules/sentiment/test/fixtures
fail() { echo "test_bench_split: $*"; exit 1; }
[ -f "$FX/amazon.json" ] || { echo "skip: $FX missing (bash scripts/fetch_npm.sh build/npm)"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

for set in amazon imdb; do
	in=$FX/$set.json
	"$PY" bench/split.py "$in" "$T/f1.json" "$T/v1.json" >"$T/out" || fail "$set: split failed"
	grep -q "fit 800 (class 0: 400, class 1: 400), val 200 (class 0: 100, class 1: 100)" "$T/out" ||
		fail "$set: counts: $(cat "$T/out")"
	"$PY" bench/split.py "$in" "$T/f2.json" "$T/v2.json" >/dev/null || fail "$set: second split"
	cmp -s "$T/f1.json" "$T/f2.json" && cmp -s "$T/v1.json" "$T/v2.json" ||
		fail "$set: not deterministic"
	"$PY" bench/split.py "$in" "$T/f3.json" "$T/v3.json" --seed 15 >/dev/null || fail "$set: seed 15"
	cmp -s "$T/v1.json" "$T/v3.json" && fail "$set: --seed 15 gave the same split"
	"$PY" - "$in" "$T/f1.json" "$T/v1.json" <<'PY' || fail "$set: split is not a partition"
import collections, json, sys
src, fit, val = (json.load(open(p)) for p in sys.argv[1:])
key = lambda e: (e["text"], e["class"])
lab = [e for e in src if e.get("class") in (0, 1)]
# disjoint as positions: no entry of the input is in both, and nothing is invented
assert collections.Counter(map(key, fit)) + collections.Counter(map(key, val)) == \
    collections.Counter(map(key, lab)), "union != labelled input"
assert len(fit) + len(val) == len(lab)
for c in (0, 1):
    n = sum(e["class"] == c for e in lab)
    assert sum(e["class"] == c for e in val) == round(0.2 * n), c
# input order kept in each part: each is a subsequence of the input
def subseq(part):
    it = iter(map(key, lab))
    return all(k in it for k in map(key, part))
assert subseq(fit) and subseq(val)
PY
done

echo '{"text": 1}' >"$T/bad.json"
"$PY" bench/split.py "$T/bad.json" "$T/f.json" "$T/v.json" 2>"$T/err" && fail "a non-list was accepted"
grep -q "expected a JSON list" "$T/err" || fail "bad input message: $(cat "$T/err")"
"$PY" bench/split.py "$FX/amazon.json" "$T/f.json" "$T/v.json" --val-frac 1 2>/dev/null &&
	fail "--val-frac 1 was accepted"
echo "ok"
