#!/usr/bin/env bash
# polyctl inspect: text and --json on valid .pnb files (the unit test's seed
# files, and $POLYNET_BUILD/use.pnb when it exists); the JSON must agree with
# itself and with the file; truncated or corrupted copies must fail with exit
# 1 and a message naming the file. Exit 0 pass, 1 fail, 77 skip.
set -u
B=${POLYNET_BUILD:-build}
POLYCTL=$B/rel/polyctl
PY=/usr/bin/python3

[ -x "$POLYCTL" ] || { echo "skip: $POLYCTL not built"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

files=()
if [ -x "$B/asan/tests/test_pnb" ]; then
	"$B/asan/tests/test_pnb" --write "$tmp/seeds" >/dev/null 2>&1 ||
		fail "$B/asan/tests/test_pnb --write did not write the sample files"
	files+=("$tmp/seeds/model.pnb" "$tmp/seeds/minimal.pnb")
else
	echo "note: $B/asan/tests/test_pnb not built, no sample files"
fi
if [ -f "$B/use.pnb" ]; then
	files+=("$B/use.pnb")
else
	echo "note: $B/use.pnb absent (make model), not inspected"
fi
[ ${#files[@]} -gt 0 ] || { echo "skip: no .pnb file to inspect"; exit 77; }

for f in "${files[@]}"; do
	"$POLYCTL" inspect "$f" >"$tmp/out.txt" 2>"$tmp/err.txt" ||
		fail "inspect $f: exit $?: $(cat "$tmp/err.txt")"
	for want in "content hash" "tensors:" "values:" "nodes:" "totals:"; do
		grep -q "$want" "$tmp/out.txt" || fail "inspect $f: no '$want' in the text output"
	done
	"$POLYCTL" inspect "$f" --json >"$tmp/out.json" 2>"$tmp/err.txt" ||
		fail "inspect --json $f: exit $?: $(cat "$tmp/err.txt")"
	# The document against itself and the file: sizes, counts, every reference.
	"$PY" - "$f" "$tmp/out.json" <<'PYEOF' || fail "inspect --json $f: inconsistent JSON"
import json, math, os, sys
path, js = sys.argv[1], sys.argv[2]
d = json.load(open(js))
assert d["magic"] == "POLYNET\x1a", d["magic"]
assert d["file_size"] == os.path.getsize(path), "file_size"
assert len(d["content_hash"]) == 16
secs = {s["name"]: s for s in d["sections"]}
assert secs["data"]["offset"] % 4096 == 0
assert secs["data"]["offset"] + secs["data"]["size"] == d["file_size"]
T, V, N = d["tensors"], d["values"], d["nodes"]
assert len(T) == secs["tensors"]["count"] == d["totals"]["tensors"]
assert len(V) == secs["values"]["count"] == d["totals"]["values"]
assert len(N) == secs["nodes"]["count"] == d["totals"]["nodes"]
size = {"f32": 4, "f16": 2, "bf16": 2, "i32": 4, "u8": 1, "i8": 1}
tok = d["tokenizer"]
tok_idx = {tok[k]["index"] for k in ("pieces", "scores") if k in tok}
params = 0
for i, t in enumerate(T):
	assert t["index"] == i
	assert t["bytes"] == math.prod(t["shape"]) * size[t["dtype"]], t
	assert t["offset"] % 64 == 0 and t["offset"] + t["bytes"] <= secs["data"]["size"]
	if i not in tok_idx:
		params += math.prod(t["shape"])
assert params == d["totals"]["parameters"], (params, d["totals"])
assert sum(t["bytes"] for t in T) == d["totals"]["tensor_bytes"]
def ref(r, table):
	assert table[r["index"]]["name"] == r["name"], r
produced = {d["input"]["index"]}
ref(d["input"], V)
for n in N:
	for r in n["inputs"]:
		ref(r, V)
		assert r["index"] in produced, ("use before definition", n)
	for r in n["weights"]:
		if r is not None:
			ref(r, T)
	ref(n["out"], V)
	produced.add(n["out"]["index"])
ref(d["output"], V)
assert d["output"]["index"] in produced
PYEOF
done

# Damaged copies: exit 1, one line on stderr that names the file.
f=${files[0]}
size=$(stat -c %s "$f")
head -c $((size / 2)) "$f" >"$tmp/trunc.pnb"
"$POLYCTL" inspect "$tmp/trunc.pnb" >/dev/null 2>"$tmp/err.txt"
rc=$?
[ $rc -eq 1 ] || fail "truncated file: exit $rc, expected 1"
grep -q "^polyctl inspect: $tmp/trunc.pnb: .*truncated" "$tmp/err.txt" ||
	fail "truncated file: message does not name the file: $(cat "$tmp/err.txt")"

cp "$f" "$tmp/flip.pnb"
printf '\x5a' | dd of="$tmp/flip.pnb" bs=1 seek=$((size - 1)) conv=notrunc status=none
"$POLYCTL" inspect "$tmp/flip.pnb" --json >"$tmp/out.json" 2>"$tmp/err.txt"
rc=$?
[ $rc -eq 1 ] || fail "flipped byte: exit $rc, expected 1"
grep -q "^polyctl inspect: $tmp/flip.pnb: .*CRC32C" "$tmp/err.txt" ||
	fail "flipped byte: message does not name the file and the CRC: $(cat "$tmp/err.txt")"
[ -s "$tmp/out.json" ] && fail "flipped byte: printed JSON for an invalid file"

"$POLYCTL" inspect "$tmp/absent.pnb" 2>"$tmp/err.txt"
[ $? -eq 1 ] && grep -q "absent.pnb" "$tmp/err.txt" || fail "missing file: $(cat "$tmp/err.txt")"
"$POLYCTL" inspect 2>/dev/null
[ $? -eq 2 ] || fail "no file argument: expected usage error (exit 2)"
# a file the reader accepts but whose shapes are wrong: inspect refuses it as run does
DCL=$B/rel/tests/daemon_client
if [ -x "$DCL" ]; then
	"$DCL" mkmodel badshape "$tmp/shape.pnb" || fail "mkmodel badshape"
	"$POLYCTL" inspect "$tmp/shape.pnb" >"$tmp/out.txt" 2>"$tmp/err.txt"
	rc=$?
	[ $rc -eq 1 ] || fail "shape fault: inspect exit $rc, expected 1"
	grep -q "$tmp/shape.pnb: node 1 'proj' (linear): weight W" "$tmp/err.txt" ||
		fail "shape fault: message does not name the file, node and weight: $(cat "$tmp/err.txt")"
	[ -s "$tmp/out.txt" ] && fail "shape fault: printed a description of an invalid file"
	echo x | "$POLYCTL" run "$tmp/shape.pnb" --text-file /dev/stdin >/dev/null 2>&1 &&
		fail "shape fault: run accepted what inspect refused"
else
	echo "note: $DCL not built, the shape-fault file was not written"
fi
echo "ok: inspected ${#files[@]} file(s)"
exit 0
