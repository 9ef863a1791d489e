#!/usr/bin/env bash
# The latency-vs-accuracy frontier of the PolyNet compiler passes (issue 5).
# Builds each variant from the exact model with one `polyctl compile --from
# pnb` line (calibrated on the TRAIN set only), evaluates it with `polyctl
# eval` (head trained on exact embeddings of the train set, tested on the
# held-out set), times it with `polyctl bench` at batch 1 and 32, then
# bench/frontier.py writes bench/frontier.json, bench/frontier.png and the
# "## Frontier (issue 5)" section of bench/RESULTS.md.
# Knobs: B (build dir, default build), TRAIN/TEST (default sentiment's
# amazon/imdb), TOKENS (bench sequence length, default 16), MAX_S (seconds
# per bench configuration, default 3), REVERSE=1 (also train imdb, test
# amazon), VARIANTS (a file of "label|compile args" lines to use instead).
set -u -o pipefail
NAME=frontier.sh
OUT=${B:-build}/frontier
. "$(dirname "$0")/frontier_env.sh"
TRAIN=${TRAIN:-$FX/amazon.json}
TEST=${TEST:-$FX/imdb.json}
TOKENS=${TOKENS:-16}
MAX_S=${MAX_S:-3}
[ -f "$TRAIN" ] && [ -f "$TEST" ] || die "$TRAIN or $TEST missing"
C="--calib $TRAIN"
default_variants() {
	cat <<V
exact|
poly tol 0.1|$C --poly-ffn --poly-tol 0.1
poly tol 0.05|$C --poly-ffn --poly-tol 0.05
poly tol 0.02 forced|$C --poly-ffn --poly-tol 0.02 --poly-force
vq 256|$C --vq 256
vq 256 codebook|$C --vq 256 --vq-mode codebook --poly-tol 0.05
vq 1024 l1|$C --vq 1024 --vq-layers 1
vq 256 l1|$C --vq 256 --vq-layers 1
cqa 4 top-8|$C --cqa 4 --cqa-topk 8
cqa 8 top-8|$C --cqa 8 --cqa-topk 8
cqa 4 plain|$C --cqa 4
macro E4 r128|$C --macro 4
macro E8 r256|$C --macro 8 --macro-rank 256
macro l0 E4 r256|$C --macro 4 --macro-rank 256 --macro-len 1
macro l0 E1 r512|$C --macro 1 --macro-rank 512 --macro-len 1
keep 768 l0|$C $R --ffn-keep 768 --ffn-keep-layers 0
keep 768|$C $R --ffn-keep 768
macro l1 seeded r768|$C $R $M1 --macro-rank 768
keep 768 l0 + macro l1 seeded r768|$C $R --ffn-keep 768 --ffn-keep-layers 0 $M1 --macro-rank 768
keep 1024 l0 + macro l1 seeded r768|$C $R --ffn-keep 1024 --ffn-keep-layers 0 $M1 --macro-rank 768
keep 512 l0 + macro l1 seeded r512|$C $R --ffn-keep 512 --ffn-keep-layers 0 $M1 --macro-rank 512
mean-mix l1|--attn-mean 1
mean-mix l1 + keep 1024,768|$C $R --attn-mean 1 --ffn-keep 1024,768
mean-mix l1 + keep 768,768|$C $R --attn-mean 1 --ffn-keep 768,768
vq 1024 l1 + cqa 8 top-8|$C --vq 1024 --vq-layers 1 --cqa 8 --cqa-topk 8
poly 0.05 + cqa 8 top-8|$C --poly-ffn --poly-tol 0.05 --cqa 8 --cqa-topk 8
macro l0 E4 r256 + cqa 8 top-8|$C --macro 4 --macro-rank 256 --macro-len 1 --cqa 8 --cqa-topk 8
V
}

RAW=$OUT/frontier_raw.jsonl
: >"$RAW"
i=0
while IFS='|' read -r label args; do
	[ -n "$label" ] || continue
	i=$((i + 1))
	model=$EXACT
	if [ -n "$args" ]; then
		model=$OUT/v$i.pnb
		# shellcheck disable=SC2086
		"$P" compile -q --from pnb "$EXACT" -o "$model" $args --report "$OUT/v$i.report.json" ||
			{ echo "frontier: '$label' failed to compile" >&2; continue; }
	fi
	ev=$("$P" eval "$model" --exact "$EXACT" --train "$TRAIN" --test "$TEST" --json) ||
		{ echo "frontier: '$label' failed to evaluate" >&2; continue; }
	rev=null
	if [ "${REVERSE:-0}" = 1 ]; then
		rev=$("$P" eval "$model" --exact "$EXACT" --train "$TEST" --test "$TRAIN" --json \
			--latency-n 1) || rev=null
	fi
	b1=$("${PIN[@]}" "$P" bench "$model" --json --batch 1 --tokens "$TOKENS" --max-s "$MAX_S")
	b32=$("${PIN[@]}" "$P" bench "$model" --json --batch 32 --tokens "$TOKENS" --max-s "$MAX_S")
	printf '{"label":"%s","args":"%s","eval":%s,"reverse":%s,"bench1":%s,"bench32":%s}\n' \
		"$label" "$args" "$ev" "$rev" "$b1" "$b32" >>"$RAW"
	echo "frontier: $label: $(echo "$ev" | "$PY" -c 'import json,sys; e=json.load(sys.stdin); print("acc %.3f cos %.4f" % (e["accuracy"], e["mean_cosine"]))'), b1 $(echo "$b1" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["p50_us"])') us" >&2
done < <(if [ -n "${VARIANTS:-}" ]; then cat "$VARIANTS"; else default_variants; fi)
# The exact model again, last: frontier.py takes the faster of its two timings.
b1=$("${PIN[@]}" "$P" bench "$EXACT" --json --batch 1 --tokens "$TOKENS" --max-s "$MAX_S")
b32=$("${PIN[@]}" "$P" bench "$EXACT" --json --batch 32 --tokens "$TOKENS" --max-s "$MAX_S")
"$PY" - "$RAW" "$b1" "$b32" >"$RAW.again" <<'PYEOF' || die "cannot re-time the exact model"
import json, sys
raw, b1, b32 = sys.argv[1:]
r = next(r for r in map(json.loads, open(raw)) if not r["args"])
r["label"] += " (timed again)"
r["bench1"], r["bench32"] = json.loads(b1), json.loads(b32)
print(json.dumps(r))
PYEOF
cat "$RAW.again" >>"$RAW"

"$PY" bench/frontier.py --raw "$RAW" --exact "$EXACT" --train "$TRAIN" --test "$TEST" \
	--tokens "$TOKENS" --json bench/frontier.json --md bench/RESULTS.md \
	--components bench/results/poly_components.md --png bench/frontier.png --work "$OUT" ||
	die "frontier.py failed"
