#!/usr/bin/env bash
# Two builds of PolyNet against each other, in one run on one core: the
# exact model (polyctl bench, USE lite, 1x16 and 16x16 tokens) and the ring
# round trip (polyctl bench --ring through each build's own polynetd). The
# builds alternate (old, new, new, old, ...) so that drift hits both alike;
# each figure is the median over ROUNDS rounds and the ratio new/old is
# taken round by round, then its median reported.
#
#   bench/compare_builds.sh OLD_BUILD_DIR NEW_BUILD_DIR [MODEL.pnb]
#
# A build dir holds rel/polyctl and rel/polynetd (as `make build` leaves
# them under build/). MODEL defaults to NEW_BUILD_DIR/use.pnb; both builds
# run the same file. Knobs: ROUNDS (5), ITERS (1000 per exact-model run),
# RING_ITERS (20000), CORE (the last CPU). Output: one JSON line per run in
# $NEW/bench/compare_raw.jsonl, and a table (docs/bench.md, "Two builds").
set -u -o pipefail
cd "$(dirname "$0")/.."
OLD=${1:?usage: compare_builds.sh OLD_BUILD NEW_BUILD [MODEL]}
NEW=${2:?usage: compare_builds.sh OLD_BUILD NEW_BUILD [MODEL]}
PNB=${3:-$NEW/use.pnb}
ROUNDS=${ROUNDS:-5}
ITERS=${ITERS:-1000}
RING_ITERS=${RING_ITERS:-20000}
CORE=${CORE:-$(($(nproc) - 1))}
PY=/usr/bin/python3
die() { echo "bench/compare_builds.sh: $*" >&2; exit 1; }
for b in "$OLD" "$NEW"; do
	for f in "$b/rel/polyctl" "$b/rel/polynetd"; do [ -x "$f" ] || die "$f missing"; done
done
[ -s "$PNB" ] || die "$PNB missing (make model)"
T=$(mktemp -d /tmp/compare.XXXXXX)
DP=
cleanup() { [ -n "$DP" ] && kill -KILL "$DP" 2>/dev/null; rm -f /dev/shm/polynet.pncmp-$$*; rm -rf "$T"; }
trap cleanup EXIT
mkdir -p "$NEW/bench"
RAW=$NEW/bench/compare_raw.jsonl
: >"$RAW"

exact() {	# label build batch
	taskset -c "$CORE" "$2/rel/polyctl" bench "$PNB" --json --threads 1 --batch "$3" \
		--tokens 16 --iters "$ITERS" --engine "$1" 2>/dev/null |
		"$PY" -c 'import json,sys
for l in sys.stdin:
    d=json.loads(l); d["what"]="exact_%dx16"%d["batch"]; d["build"]=sys.argv[1]; print(json.dumps(d))' "$1"
}

ring() {	# label build
	local sock=$T/$1.sock
	"$2/rel/polynetd" --socket "$sock" --state "pncmp-$$-$1" --workers 1 >"$T/d.out" 2>"$T/d.err" &
	DP=$!
	for _ in $(seq 100); do grep -q '^ready' "$T/d.out" && break; sleep 0.1; done
	grep -q '^ready' "$T/d.out" || die "$1 polynetd not ready: $(tail -3 "$T/d.err")"
	"$2/rel/polyctl" bench --ring --socket "$sock" --iters "$RING_ITERS" --json |
		"$PY" -c 'import json,sys
d=json.load(sys.stdin); d["what"]="ring"; d["build"]=sys.argv[1]; print(json.dumps(d))' "$1"
	kill "$DP"; wait "$DP" 2>/dev/null; DP=
}

for ((r = 1; r <= ROUNDS; r++)); do
	order=(old new); [ $((r % 2)) = 0 ] && order=(new old)
	for who in "${order[@]}"; do
		dir=$OLD; [ "$who" = new ] && dir=$NEW
		echo "compare_builds: round $r/$ROUNDS $who" >&2
		{ exact "$who" "$dir" 1; exact "$who" "$dir" 16; ring "$who" "$dir"; } |
			sed "s/^{/{\"round\":$r,/" >>"$RAW" || die "$who round $r failed"
	done
done

"$PY" - "$RAW" <<'PY'
import json, sys, statistics as st
rows = [json.loads(l) for l in open(sys.argv[1])]
def fig(r, key):
    if r["what"] == "ring":
        return r["polling"][key]
    return r[key]
print("| figure | old p50 us | new p50 us | new/old p50 | old p99 us | new p99 us | new/old p99 |")
print("|---|---|---|---|---|---|---|")
for what in ["exact_1x16", "exact_16x16", "ring"]:
    out = [what + (" (polling)" if what == "ring" else "")]
    for key in ["p50_us", "p99_us"]:
        by = {}
        for r in rows:
            if r["what"] == what:
                by.setdefault(r["round"], {})[r["build"]] = fig(r, key)
        old = [v["old"] for v in by.values() if "old" in v and "new" in v]
        new = [v["new"] for v in by.values() if "old" in v and "new" in v]
        ratio = [n / o for o, n in zip(old, new) if o > 0]
        out += ["%.2f" % st.median(old), "%.2f" % st.median(new),
                "%.3f (%.3f..%.3f)" % (st.median(ratio), min(ratio), max(ratio))]
    print("| " + " | ".join(out) + " |")
print("\n%d rounds; ratio: median over rounds (min..max)" % len({r["round"] for r in rows}))
PY
