#!/usr/bin/env bash
# tests/ref/llama_ref.py against the data it wrote (issue 15), so that
# tests/data/llama/ref.json cannot silently drift from the script:
#  - ref.json is for the committed stories260k.bin (sha256, also the
#    README's) and holds one complete record per line of prompts.txt;
#  - re-run on a handful of its prompts (the first, the shortest, the
#    longest, non-ASCII ones, a quote, one whose greedy run crosses a BOS),
#    the reference gives the same ids and greedy ids and text, and logits
#    within 1e-5; every prompt's ids decode back to the prompt;
#  - greedy from "Once upon a time" continues as the model card says;
#  - truncated, padded and inconsistent copies of the model are refused,
#    exit 1, with one line naming the file, the offset and what was expected.
set -u
cd "$(dirname "$0")/../.." || exit 1
PY=/usr/bin/python3
D=tests/data/llama
REF=tests/ref/llama_ref.py
MODEL=$D/stories260k.bin
fail() { echo "FAIL: $*"; exit 1; }
"$PY" -c 'import numpy' 2>/dev/null ||
	{ echo "skip: $PY lacks numpy (apt-get install python3-numpy)"; exit 77; }
for f in "$MODEL" "$D/prompts.txt" "$D/heldout.txt" "$D/ref.json" "$D/README.md"; do
	[ -s "$f" ] || fail "$f missing"
done
T=$(mktemp -d /tmp/pn-llama-ref.XXXXXX)
trap 'rm -rf "$T"' EXIT

sha=$(sha256sum "$MODEL" | cut -d' ' -f1)
grep -q "$sha" "$D/README.md" || fail "$D/README.md does not state the model's sha256 $sha"

# the records to re-run, chosen from ref.json by what they exercise
"$PY" - "$D" "$sha" "$T/sub.txt" <<'PY' || fail "ref.json is inconsistent with prompts.txt or the model"
import json, sys
d, sha, sub = sys.argv[1:]
ref = json.load(open(f"{d}/ref.json", encoding="utf-8"))
prompts = open(f"{d}/prompts.txt", encoding="utf-8").read().split("\n")[:-1]
held = open(f"{d}/heldout.txt", encoding="utf-8").read().split("\n")[:-1]
assert ref["model"]["sha256"] == sha, ref["model"]
assert [r["prompt"] for r in ref["prompts"]] == prompts, "ref.json's prompts are not prompts.txt"
assert len(prompts) >= 60 and len(held) == 40 and not set(prompts) & set(held), "prompt sets"
steps, vocab = ref["steps"], ref["model"]["config"]["vocab"]
for r in ref["prompts"]:
    g = r["greedy"]
    assert r["ids"][0] == 1 and len(r["logits"]) == vocab, r["prompt"]
    assert len(g) == steps or (g and g[-1] == 2 and 2 not in g[:-1]), r["prompt"]
recs = ref["prompts"]
pick = [recs[0], min(recs, key=lambda r: len(r["ids"])), max(recs, key=lambda r: len(r["ids"])),
        next(r for r in recs if '"' in r["prompt"]), next(r for r in recs if 1 in r["greedy"])]
pick += [r for r in recs if not r["prompt"].isascii()][:3]
with open(sub, "w", encoding="utf-8") as f:
    for p in dict.fromkeys(r["prompt"] for r in pick):
        f.write(p + "\n")
print(f"ok: ref.json: {len(recs)} records for prompts.txt, model {sha[:12]}")
PY

t0=$SECONDS
"$PY" "$REF" "$MODEL" --gen-data "$T/sub.txt" "$T/sub.json" 2>"$T/err" ||
	fail "--gen-data: $(cat "$T/err")"
"$PY" - "$D/ref.json" "$T/sub.json" <<'PY' || fail "the reference no longer reproduces ref.json"
import json, sys
ref = {r["prompt"]: r for r in json.load(open(sys.argv[1], encoding="utf-8"))["prompts"]}
new = json.load(open(sys.argv[2], encoding="utf-8"))["prompts"]
worst = 0.0
for n in new:
    r = ref[n["prompt"]]
    for k in ("ids", "greedy", "text"):
        assert n[k] == r[k], f"{n['prompt']!r}: {k} differ:\n  ref {r[k]}\n  now {n[k]}"
    worst = max(worst, max(abs(a - b) for a, b in zip(n["logits"], r["logits"])))
    assert len(n["logits"]) == len(r["logits"])
assert worst <= 1e-5, f"logits differ by {worst:.3g} (tolerance 1e-5)"
print(f"ok: {len(new)} prompts re-run: ids, greedy and text equal, logits max diff {worst:.2g} (tolerance 1e-5)")
PY
echo "ok: re-run in $((SECONDS - t0)) s"

"$PY" - "$D" <<'PY' || fail "the tokenizer does not round-trip"
import json, sys
sys.path.insert(0, "tests/ref")
import llama_ref
d = sys.argv[1]
m = llama_ref.Model(f"{d}/stories260k.bin")
recs = json.load(open(f"{d}/ref.json", encoding="utf-8"))["prompts"]
held = open(f"{d}/heldout.txt", encoding="utf-8").read().split("\n")[:-1]
for r in recs:
    assert m.encode(r["prompt"]) == r["ids"], r["prompt"]
for p in [r["prompt"] for r in recs] + held:
    assert m.decode(m.encode(p)).decode("utf-8") == p, p
assert m.encode("") == [1] and m.decode([1, 2]) == b""
print(f"ok: {len(recs) + len(held)} prompts encode and decode back")
PY

want=", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball."
"$PY" "$REF" "$MODEL" --prompt "Once upon a time" --steps 40 >"$T/once" 2>&1 || fail "--prompt: $(cat "$T/once")"
grep -qx "ids: 1 403 407 261 378" "$T/once" || fail "--prompt: ids: $(cat "$T/once")"
grep -qF "text: $want" "$T/once" || fail "greedy from 'Once upon a time': $(grep text: "$T/once")"
echo "ok: Once upon a time$want"

refuse() {	# FILE PATTERN: exit 1, one line on stderr matching PATTERN, nothing on stdout
	"$PY" "$REF" "$1" --prompt "Once upon a time" >"$T/out" 2>"$T/err"; local rc=$?
	[ $rc -eq 1 ] || fail "$1: exit $rc, expected 1: $(cat "$T/err")"
	[ "$(wc -l <"$T/err")" -eq 1 ] || fail "$1: stderr is not one line: $(cat "$T/err")"
	grep -qE -- "^llama_ref: $1: $2" "$T/err" || fail "$1: '$(cat "$T/err")', expected '$2'"
	[ ! -s "$T/out" ] || fail "$1: wrote to stdout"
	echo "ok: $(cat "$T/err")"
}
size=$(stat -c %s "$MODEL")
head -c 100 "$MODEL" >"$T/config.bin"
refuse "$T/config.bin" "offset 0: expected the 256-byte config block \(256 bytes\), but the file ends at byte 100$"
head -c 3000 "$MODEL" >"$T/vocab.bin"
refuse "$T/vocab.bin" "offset [0-9]+: expected vocab entry [0-9]+'s .*, but the file ends at byte 3000$"
head -c $((size - 4)) "$MODEL" >"$T/weights.bin"
refuse "$T/weights.bin" "offset [0-9]+: expected weights rms_final \[64\] \(256 bytes\), but the file ends at byte $((size - 4))$"
{ cat "$MODEL"; printf x; } >"$T/long.bin"
refuse "$T/long.bin" "offset $size: expected the end of the file after the weights, found 1 more bytes$"
# kv_heads (config offset 5 + 5 + 6 * 4) 3 does not divide q_heads 8
{ head -c 34 "$MODEL"; printf '\003\000\000\000'; tail -c +39 "$MODEL"; } >"$T/heads.bin"
refuse "$T/heads.bin" "offset 10: expected q_heads to divide hidden and kv_heads to divide q_heads, found .* kv_heads 3$"
# vocab 600: 88 more entries than there are, read from the weights
{ head -c 22 "$MODEL"; printf '\130\002\000\000'; tail -c +27 "$MODEL"; } >"$T/vocab600.bin"
"$PY" "$REF" "$T/vocab600.bin" --prompt x >/dev/null 2>"$T/err" && fail "vocab 600 accepted"
grep -q "^llama_ref: $T/vocab600.bin: offset [0-9]*: expected" "$T/err" || fail "vocab 600: $(cat "$T/err")"
echo "ok: $(cat "$T/err")"
"$PY" "$REF" "$T/absent.bin" --prompt x >/dev/null 2>"$T/err" && fail "an absent file accepted"
grep -q "absent.bin" "$T/err" || fail "absent file: $(cat "$T/err")"
echo "llama_ref.py reproduces ref.json and refuses bad model files"
