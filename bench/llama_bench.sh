#!/usr/bin/env bash
# Decoder latency and throughput (issue 15), PolyNet in process against ONNX
# Runtime on an export of the same decoder (bench/export_llama_onnx.py, KV
# cache inputs), both one thread on core 1, alternated round by round:
#   stories260K (the real model) and a synthetic configuration with random
#   weights (hidden 512, 8 layers, 8 heads, ffn 1376, context 2048:
#   bench/gen_llama_synth.py) that shows how the cost grows.
# PolyNet runs each config exact (f32) and with int8 GEMM weights (--int8).
# Per engine and config: prefill latency, per-token decode p50/p99/p99.9
# at batch 1, tokens/s with 8 and 32 sessions decoding together.
# bench/llama_bench.py takes the medians over rounds and writes
# bench/results/llama.json and the "## Decoder latency (issue 15)" section
# of bench/RESULTS.md. Knobs: B (build dir), ROUNDS (3), QUICK=1 (small).
set -u -o pipefail
B=${B:-build}
ROUNDS=${ROUNDS:-3}
QUICK=${QUICK:-0}
PY=/usr/bin/python3
OUT=$B/llama_bench
NODE_PATH_DIR=$B/npm/node_modules
mkdir -p "$OUT"
rm -f "$OUT"/*.jsonl
log() { echo "llama_bench: $*" >&2; }
[ -x "$B/rel/bench/gen_bench" ] || { log "skip: $B/rel/bench/gen_bench not built"; exit 0; }

"$B/rel/polyctl" compile -q --from llama2c tests/data/llama/stories260k.bin -o "$OUT/stories.pnb" || exit 1
[ -s "$OUT/synth.bin" ] || "$PY" bench/gen_llama_synth.py "$OUT/synth.bin" >&2 || exit 1
"$B/rel/polyctl" compile -q --from llama2c "$OUT/synth.bin" -o "$OUT/synth.pnb" || exit 1
for c in stories synth; do	# PolyNet's int8 GEMMs (dynamic activations: no calibration)
	"$B/rel/polyctl" compile -q --from pnb "$OUT/$c.pnb" -o "$OUT/$c-int8.pnb" --int8 || exit 1
done
ORT=1
command -v node >/dev/null && [ -d "$NODE_PATH_DIR/onnxruntime-node" ] || { ORT=0; log "no onnxruntime-node: PolyNet only"; }
if [ $ORT = 1 ]; then
	for c in stories synth; do
		src=tests/data/llama/stories260k.bin
		[ $c = synth ] && src=$OUT/synth.bin
		[ -s "$OUT/$c.onnx" ] || "$PY" bench/export_llama_onnx.py "$src" "$OUT/$c.onnx" >&2 || exit 1
	done
fi

# config -> "prompt gen gens batch_gen"
args() {
	case $1 in
	stories) [ "$QUICK" = 1 ] && echo "32 64 1 16" || echo "32 256 4 128" ;;
	synth) [ "$QUICK" = 1 ] && echo "32 16 1 4" || echo "128 128 2 32" ;;
	esac
}
for r in $(seq 1 "$ROUNDS"); do
	for c in stories synth; do
		read -r P G N BG <<<"$(args $c)"
		engines="polynet ort polynet-int8"
		[ $((r % 2)) = 0 ] && engines="polynet-int8 ort polynet"
		for e in $engines; do
			if [ $e != ort ]; then
				m=$OUT/$c.pnb
				[ $e = polynet-int8 ] && m=$OUT/$c-int8.pnb
				log "round $r $c $e"
				taskset -c 1 "$B/rel/bench/gen_bench" "$m" --prompt "$P" --tokens "$G" \
					--runs "$N" --sessions 1,8,32 |
					sed "s/^{\"engine\":\"polynet\"/{\"config\":\"$c\",\"round\":$r,\"engine\":\"$e\"/" \
					>>"$OUT/polynet.jsonl" || exit 1
			elif [ $ORT = 1 ]; then
				log "round $r $c onnxruntime"
				NODE_PATH=$NODE_PATH_DIR taskset -c 1 node bench/ort_llama_bench.js --model "$OUT/$c.onnx" \
					--label $c --prefill-tokens "$P" --prefill-iters 40 --prompt "$P" --gen "$G" \
					--gens "$N" --batches 8,32 --batch-gen "$BG" |
					sed "s/^{/{\"config\":\"$c\",\"round\":$r,/" >>"$OUT/ort.jsonl" || exit 1
			fi
		done
	done
done
# how decode cost grows with the context: synth at batch 1 after 128, 512, 1024, 1920 tokens
if [ "$QUICK" != 1 ]; then
	for P in 128 512 1024 1920; do
		log "growth: synth after $P tokens"
		taskset -c 1 "$B/rel/bench/gen_bench" "$OUT/synth.pnb" --prompt $P --tokens 64 --runs 2 \
			--sessions 1 | grep '"decode"' | sed 's/^{/{"config":"synth","growth":1,/' \
			>>"$OUT/growth.jsonl" || exit 1
	done
fi
[ "$QUICK" = 1 ] && exit 0
"$PY" bench/llama_bench.py "$OUT" >&2
