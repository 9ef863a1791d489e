#!/usr/bin/env bash
# The ONNX Runtime peer of the decoder benchmark (issue 15) must run the same
# math as the model: bench/export_llama_onnx.py's decode-step and prefill graphs
# of stories260k, run by bench/check_llama_onnx.js in ORT with their own KV
# cache, decode "Once upon a time" greedily to the model's known continuation
# (/work/shared/models/stories260k.md); the decode graph from an empty cache
# matches the prefill, and a batch of two rows matches one-row runs (relative
# 1e-4). Then a small synthetic model from bench/gen_llama_synth.py (GQA 4/2,
# seeded: byte-identical twice, another seed differs) passes the same
# consistency checks.
set -u
cd "$(dirname "$0")/../.." || exit 1
NPM=build/npm/node_modules
PY=/usr/bin/python3
MODEL=${STORIES260K:-/work/shared/models/stories260k.bin}
fail() { echo "FAIL: $*"; exit 1; }

[ -d "$NPM/onnxruntime-node" ] ||
	{ echo "skip: $NPM lacks onnxruntime-node (bash scripts/fetch_npm.sh build/npm)"; exit 77; }
command -v node >/dev/null || { echo "skip: node is not installed"; exit 77; }
"$PY" -c 'import onnx, numpy' 2>/dev/null ||
	{ echo "skip: $PY lacks onnx/numpy (apt-get install python3-onnx python3-numpy)"; exit 77; }
[ -s "$MODEL" ] || { echo "skip: $MODEL is absent"; exit 77; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export NODE_PATH=$PWD/$NPM

"$PY" bench/export_llama_onnx.py "$MODEL" "$T/s.onnx" || fail "export of $MODEL"
[ -s "$T/s-prefill.onnx" ] || fail "no prefill graph beside $T/s.onnx"
node bench/check_llama_onnx.js "$MODEL" "$T/s.onnx" || fail "stories260k in ORT"

small=(--hidden 64 --layers 2 --q-heads 4 --kv-heads 2 --ffn 96 --max-seq 64)
"$PY" bench/gen_llama_synth.py "$T/a.bin" "${small[@]}" >/dev/null || fail "gen_llama_synth"
"$PY" bench/gen_llama_synth.py "$T/b.bin" "${small[@]}" >/dev/null || fail "gen_llama_synth again"
cmp -s "$T/a.bin" "$T/b.bin" || fail "gen_llama_synth is not deterministic"
"$PY" bench/gen_llama_synth.py "$T/c.bin" "${small[@]}" --seed 16 >/dev/null || fail "--seed 16"
cmp -s "$T/a.bin" "$T/c.bin" && fail "--seed 16 wrote the same weights"
"$PY" bench/export_llama_onnx.py "$T/a.bin" "$T/a.onnx" >/dev/null || fail "export of the synthetic model"
node bench/check_llama_onnx.js "$T/a.bin" "$T/a.onnx" --expect "" --steps 8 ||
	fail "synthetic model in ORT"
echo "ok: stories260k's ORT export continues as the model does; synthetic GQA export consistent"
