#!/usr/bin/env bash
# polyctl generate on the real stories260K decoder: the greedy continuations
# of tests/data/llama/prompts.txt equal the numpy reference's (ref.json),
# sampling repeats under a seed and differs across seeds, and bad input
# gets a clear error that names what was wrong while the other prompts
# still run: a prompt longer than the context, invalid UTF-8, --max-tokens
# 0 or past the context, a bad --top-p, a model that is not a decoder.
# The ASan/UBSan polyctl runs the generation too.
# Exit 0 pass, 1 fail, 77 skip.
set -u
cd "$(dirname "$0")/../.."
B=${POLYNET_BUILD:-build}
REL=$B/rel/polyctl
ASAN=$B/asan/polyctl
PY=/usr/bin/python3
D=tests/data/llama
[ -x "$REL" ] || { echo "skip: $REL not built (make build)"; exit 77; }
[ -x "$PY" ] || { echo "skip: $PY absent"; exit 77; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
failures=0
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }

"$REL" compile -q --from llama2c "$D/stories260k.bin" -o "$T/m.pnb" || { echo "FAIL: compile"; exit 1; }

# 1. greedy through the CLI (and the ASan build) = ref.json, 64 tokens each
for P in "$REL" "$ASAN"; do
	[ -x "$P" ] || continue
	"$P" generate "$T/m.pnb" --prompt-file "$D/prompts.txt" --max-tokens 64 --json \
		>"$T/out.jsonl" 2>"$T/err" || bad "$P generate exited $?: $(cat "$T/err")"
	"$PY" - "$D/ref.json" "$T/out.jsonl" <<'PYEOF' || bad "$P: continuations differ from ref.json"
import json, sys
ref = json.load(open(sys.argv[1]))["prompts"]
out = [json.loads(l) for l in open(sys.argv[2])]
rows = [o for o in out if "line" in o]
assert len(rows) == len(ref), (len(rows), len(ref))
for r, o in zip(ref, rows):
    assert o["prompt_ids"] == r["ids"], (r["prompt"], o["prompt_ids"], r["ids"])
    assert o["ids"] == r["greedy"], (r["prompt"], o["ids"][:8], r["greedy"][:8])
    assert o["text"] == r["text"], (r["prompt"], o["text"], r["text"])
    assert o["stop"] == "length" and len(o["token_us"]) == 63
s = out[-1]["summary"]
assert s["prompts"] == len(ref) and s["failed"] == 0 and s["tokens"] == 64 * len(ref)
PYEOF
done

# 2. sampling: a seed repeats, another seed differs
head -4 "$D/prompts.txt" >"$T/p4.txt"
for s in 7 7 8; do
	"$REL" generate "$T/m.pnb" --prompt-file "$T/p4.txt" --temperature 0.9 --top-p 0.9 \
		--seed $s --max-tokens 48 2>/dev/null >"$T/s$s.$RANDOM"
done
a=$(ls "$T"/s7.* | head -1); b=$(ls "$T"/s7.* | tail -1); c=$(ls "$T"/s8.*)
cmp -s "$a" "$b" || bad "seed 7 twice gave different text"
cmp -s "$a" "$c" && bad "seeds 7 and 8 gave the same text"

# 3. bad prompts: each fails naming its line; the good ones around it still run
{
	echo "Once upon a time"
	"$PY" -c 'print("a b " * 400)'
	printf 'bad \xff byte\n'
	echo "The cat sat"
} >"$T/mixed.txt"
"$REL" generate "$T/m.pnb" --prompt-file "$T/mixed.txt" --max-tokens 8 >"$T/o" 2>"$T/e"
rc=$?
[ $rc -eq 1 ] || bad "mixed prompts: exit $rc, expected 1"
grep -q "line 2: prompt of [0-9]* tokens, expected at most 511" "$T/e" || bad "long prompt: $(cat "$T/e")"
grep -q "line 3: invalid UTF-8 at byte 4" "$T/e" || bad "invalid UTF-8: $(cat "$T/e")"
[ "$(wc -l <"$T/o")" -eq 2 ] || bad "mixed prompts: expected the 2 good continuations, got $(wc -l <"$T/o") lines"
grep -q "4 prompts (2 failed)" "$T/e" || bad "summary: $(tail -1 "$T/e")"

# 4. bad options: exit 1 or 2 with the reason, nothing generated
expect() {  # expect RC PATTERN ARGS...
	local rc=$1 pat=$2
	shift 2
	"$REL" generate "$@" >"$T/o" 2>"$T/e"
	local got=$?
	[ $got -eq "$rc" ] || bad "generate $*: exit $got, expected $rc"
	grep -q -- "$pat" "$T/e" || bad "generate $*: stderr lacks '$pat': $(cat "$T/e")"
	[ -s "$T/o" ] && bad "generate $*: printed output"
}
expect 1 "--max-tokens 0: expected 1..511" "$T/m.pnb" --prompt-file "$T/p4.txt" --max-tokens 0
expect 1 "--max-tokens 1000000: expected 1..511" "$T/m.pnb" --prompt-file "$T/p4.txt" --max-tokens 1000000
expect 2 "top-p 1.5, expected 0 < p <= 1" "$T/m.pnb" --prompt-file "$T/p4.txt" --top-p 1.5
expect 2 "temperature -1, expected" "$T/m.pnb" --prompt-file "$T/p4.txt" --temperature -1
expect 2 "bad number 'x'" "$T/m.pnb" --prompt-file "$T/p4.txt" --max-tokens x
if [ -s build/use.pnb ]; then
	expect 1 "not a decoder model" build/use.pnb --prompt-file "$T/p4.txt"
fi

# 5. a truncated or inconsistent model file: polyctl compile names file and offset
head -c 200000 "$D/stories260k.bin" >"$T/trunc.bin"
"$REL" compile --from llama2c "$T/trunc.bin" -o "$T/x.pnb" 2>"$T/e" && bad "truncated model compiled"
grep -q "trunc.bin: 200000 bytes, expected 1046785" "$T/e" || bad "truncated: $(cat "$T/e")"
[ -e "$T/x.pnb" ] && bad "truncated model left an output file"

[ $failures -eq 0 ] && echo "polyctl generate: ref.json matched, sampling seeded, bad input refused"
exit $((failures > 0))
