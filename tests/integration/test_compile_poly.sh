#!/usr/bin/env bash
# The PolyNet passes on the real model (issue 5): one fast variant of USE lite
# (VQ CacheNode on layer 1 + clustered attention), calibrated on 100 amazon
# sentences, then `polyctl eval` on 100 train / 100 test sentences: the JSON
# fields are there, accuracy is sane (> 0.6 where chance is 0.5), the exact
# model against itself has cosine 1 and recall@10 exactly 1; inspect shows the new ops' attributes;
# the FFN-keep + seeded-macro variant compiles, reports and runs; bad eval
# files are named with their entry.
set -u
B=${POLYNET_BUILD:-build}
P=$B/rel/polyctl
EXACT=$B/use.pnb
FX=build/npm/node_modules/sentiment/test/fixtures
PY=/usr/bin/python3
[ -x "$P" ] || { echo "skip: $P not built"; exit 77; }
[ -f "$EXACT" ] || { echo "skip: $EXACT not built (make model)"; exit 77; }
[ -f "$FX/amazon.json" ] || { echo "skip: $FX missing (scripts/fetch_npm.sh)"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$PY" - "$FX" "$T" <<'PYEOF' || fail "cannot cut the fixtures"
import json, sys
fx, t = sys.argv[1], sys.argv[2]
a = [e for e in json.load(open(fx + "/amazon.json")) if e.get("class") is not None]
i = [e for e in json.load(open(fx + "/imdb.json")) if e.get("class") is not None]
json.dump(a[:100], open(t + "/train.json", "w"))
json.dump(i[:100], open(t + "/test.json", "w"))
PYEOF

"$P" compile --from pnb "$EXACT" -o "$T/v.pnb" --calib "$T/train.json" --vq 64 --vq-layers 1 \
	--cqa 4 --cqa-topk 8 --report "$T/report.json" >"$T/report.txt" || fail "compile"
grep -q "VQ CacheNode" "$T/report.txt" || fail "no VQ section in the report"
"$PY" -c "import json,sys; r=json.load(open('$T/report.json')); assert r['vq'][0]['K']==64 and r['cqa']['clusters']==4" ||
	fail "report JSON"
"$P" inspect "$T/v.pnb" | grep -q "vq .*mode=2" || fail "inspect does not show the VQ node"
"$P" inspect "$T/v.pnb" | grep -q "cqa .*clusters=4 topk=8" || fail "inspect does not show CQA"

out=$("$P" eval "$T/v.pnb" --exact "$EXACT" --train "$T/train.json" --test "$T/test.json" \
	--json --latency-n 20) || fail "eval"
"$PY" -c "
import json,sys
e=json.loads(sys.argv[1])
for k in ('accuracy','mean_cosine','min_cosine','p50_us','exact_accuracy','recall_at_10'):
    assert k in e, k
assert e['n_train']==100 and e['n_test']==100
assert 0<=e['recall_at_10']<=1 and e['recall_k']==10, e
assert e['accuracy']>0.6, e
assert -1<=e['min_cosine']<=e['mean_cosine']<=1.000001, e
assert e['p50_us']>0
" "$out" || fail "eval JSON: $out"
self=$("$P" eval "$EXACT" --train "$T/train.json" --test "$T/test.json" --json --latency-n 5) ||
	fail "eval exact"
"$PY" -c "import json,sys; e=json.loads(sys.argv[1]); assert abs(e['mean_cosine']-1)<1e-6 and e['accuracy']>0.6 and e['recall_at_10']==1, e" \
	"$self" || fail "exact self-eval: $self"

# The >= 2x variant's passes (FFN neuron selection on layer 0, layer 1 as an
# FFN-seeded Macro-Operator), smaller: 256 neurons each, calibrated on 300
# texts (~4,300 token rows: the seeded fit has 256 + 512 columns).
"$P" compile -q --from pnb "$EXACT" -o "$T/k.pnb" --calib "$FX/amazon.json" --calib-max 300 \
	--calib-rows 20000 \
	--ffn-keep 256 --ffn-keep-layers 0 --macro 1 --macro-len 1 --macro-first 1 \
	--macro-seed ffn --macro-rank 256 --report "$T/k.json" || fail "compile ffn-keep + seeded macro"
"$PY" -c "
import json; r=json.load(open('$T/k.json'))
k=r['ffn_keep'][0]; m=r['macro']
assert k['layer']==0 and k['kept']==256 and k['hidden']==1536, k
assert k['rel_err_heldout'] < k['rel_err_dropped_only'], k   # the refit helps
assert m['seed']=='ffn' and m['first']==1 and m['rank']==256 and 0 <= m['resid_heldout'] < 1, m
" || fail "ffn-keep / seeded macro report: $(cat "$T/k.json")"
"$P" inspect "$T/k.pnb" | grep -q "l0.ffn.keep" || fail "inspect does not show the kept FFN"
"$P" inspect "$T/k.pnb" | grep -q "l1.attn" && fail "layer 1 attention survived the macro"
kout=$("$P" eval "$T/k.pnb" --exact "$EXACT" --train "$T/train.json" --test "$T/test.json" \
	--json --latency-n 5) || fail "eval ffn-keep variant"
"$PY" -c "import json,sys; e=json.loads(sys.argv[1]); assert e['accuracy']>0.6, e" "$kout" ||
	fail "ffn-keep variant accuracy: $kout"
# Mean mixing on layer 1 with per-layer neuron selection: no attention node
# left in layer 1, the broadcast ADD runs, accuracy stays sane.
"$P" compile -q --from pnb "$EXACT" -o "$T/m.pnb" --calib "$FX/amazon.json" --calib-max 300 \
	--calib-rows 20000 --attn-mean 1 --ffn-keep 512,256 --report "$T/m.json" ||
	fail "compile --attn-mean 1 --ffn-keep 512,256"
"$PY" -c "
import json; r=json.load(open('$T/m.json'))
assert [a['layer'] for a in r['attn_mean']]==[1], r['attn_mean']
assert sorted((k['layer'], k['kept']) for k in r['ffn_keep'])==[(0, 512), (1, 256)], r['ffn_keep']
" || fail "mean-mixing report: $(cat "$T/m.json")"
"$P" inspect "$T/m.pnb" | grep -q "l1.attn.mean" || fail "inspect does not show the mean mixing"
"$P" inspect "$T/m.pnb" | grep -Eq "l1.attn.qkv|attention .*l1.attn " && fail "l1 attention left"
mout=$("$P" eval "$T/m.pnb" --exact "$EXACT" --train "$T/train.json" --test "$T/test.json" \
	--json --latency-n 5) || fail "eval mean-mixing variant"
"$PY" -c "import json,sys; e=json.loads(sys.argv[1]); assert e['accuracy']>0.6 and e['mean_cosine']>0.3, e" \
	"$mout" || fail "mean-mixing variant: $mout"
"$P" compile -q --from pnb "$EXACT" -o "$T/x.pnb" --attn-mean 7 2>"$T/err" &&
	fail "--attn-mean 7 accepted"
grep -q "attn-mean" "$T/err" || fail "--attn-mean 7 message: $(cat "$T/err")"
"$P" compile -q --from pnb "$EXACT" -o "$T/x.pnb" --calib "$T/train.json" --macro 1 \
	--macro-first 5 2>"$T/err" && fail "--macro-first 5 accepted"
grep -q "macro-first 5" "$T/err" || fail "--macro-first message: $(cat "$T/err")"

echo '[{"text":"fine","class":1},{"text":"x","class":7}]' >"$T/bad.json"
"$P" eval "$EXACT" --train "$T/bad.json" --test "$T/test.json" 2>"$T/err" && fail "bad class accepted"
grep -q "bad.json: entry 1" "$T/err" || fail "bad class message: $(cat "$T/err")"
"$P" compile --from pnb "$EXACT" -o "$T/x.pnb" --vq 8 2>"$T/err" && fail "--vq without --calib"
grep -q "calib" "$T/err" || fail "missing --calib message"
[ ! -e "$T/x.pnb" ] || fail "a file was written on error"
echo "ok: $(echo "$out" | head -c 300)"
