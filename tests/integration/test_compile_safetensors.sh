#!/usr/bin/env bash
# polyctl compile --from safetensors (issue 15) on the Hugging Face directory
# tests/ref/llama_to_hf.py writes from tests/data/llama/stories260k.bin:
#  - the directory is what Hugging Face means: a plain numpy reader of it,
#    with transformers' rotate_half RoPE on the permuted q/k rows and a
#    rank-ordered BPE over tokenizer.json's merges, gives ref.json's ids for
#    every prompt and its logits for the first;
#  - compiled, it is the llama2c import of the same weights: every tensor's
#    bytes, every node and attribute equal (only tokenizer.scores differ,
#    and order the merge pieces alike), and polyctl generate --json gives the
#    same prompt ids, ids and text on every line of prompts.txt;
#  - broken copies are refused: exit 1, "polyctl compile: <file>: ..." naming
#    the offset and tensor or key, no .pnb written, no sanitizer report.
# The ASan polyctl runs one good and two bad compiles. Exit 0 pass, 1 fail, 77 skip.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${POLYNET_BUILD:-build}
REL=$B/rel/polyctl
ASAN=$B/asan/polyctl
PY=/usr/bin/python3
D=tests/data/llama
BIN=$D/stories260k.bin

[ -x "$REL" ] || { echo "skip: $REL not built (make build)"; exit 77; }
"$PY" -c 'import numpy' 2>/dev/null ||
	{ echo "skip: $PY lacks numpy (apt-get install python3-numpy)"; exit 77; }
T=$(mktemp -d /tmp/pn-st.XXXXXX)
trap 'rm -rf "$T"' EXIT
failures=0
bad() { echo "FAIL: $*"; failures=$((failures + 1)); }

"$PY" tests/ref/llama_to_hf.py "$BIN" "$T/hf" 2>"$T/err" || { cat "$T/err"; exit 1; }
echo "ok: $(cat "$T/err")"

# --- the directory, read as Hugging Face reads it ---------------------------
OPENBLAS_NUM_THREADS=1 "$PY" - "$T/hf" "$D/ref.json" <<'PY' || bad "the directory is not the model in Hugging Face's terms"
import json, struct, sys
import numpy as np
d, ref = sys.argv[1], json.load(open(sys.argv[2], encoding="utf-8"))
cfg = json.load(open(f"{d}/config.json"))
raw = open(f"{d}/model.safetensors", "rb").read()
(n,) = struct.unpack_from("<Q", raw)
hdr = json.loads(raw[8:8 + n])
assert hdr.pop("__metadata__") == {"format": "pt"}
W = {}
for k, v in hdr.items():
    assert v["dtype"] == "F32", k
    b, e = v["data_offsets"]
    W[k] = np.frombuffer(raw[8 + n + b:8 + n + e], "<f4").reshape(v["shape"]).astype(np.float64)
tok = json.load(open(f"{d}/tokenizer.json", encoding="utf-8"))
vocab = tok["model"]["vocab"]
rank = {tuple(m): r for r, m in enumerate(tok["model"]["merges"])}
piece = {i: p for p, i in vocab.items()}

def encode(text):
    # normalizer: Prepend U+2581 (non-empty text), spaces -> U+2581; byte fallback;
    # then the lowest-ranked adjacent merge, leftmost first; post_processor adds <s>
    s = ("\u2581" + text).replace(" ", "\u2581") if text else ""
    w = []
    for ch in s:
        w += [ch] if ch in vocab else ["<0x%02X>" % b for b in ch.encode("utf-8")]
    while True:
        best = min(((rank[(w[i], w[i + 1])], i) for i in range(len(w) - 1)
                    if (w[i], w[i + 1]) in rank), default=None)
        if best is None:
            break
        i = best[1]
        w[i:i + 2] = [w[i] + w[i + 1]]
    return [1] + [vocab[p] for p in w]

for r in ref["prompts"]:
    assert encode(r["prompt"]) == r["ids"], (r["prompt"], encode(r["prompt"]), r["ids"])

# transformers' LlamaForCausalLM forward, rotate_half RoPE, f64
D, H, KV = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
hs, eps, L = D // H, cfg["rms_norm_eps"], cfg["num_hidden_layers"]
inv = 1.0 / cfg["rope_theta"] ** (np.arange(0, hs, 2) / hs)
rms = lambda x, g: x / np.sqrt(np.mean(x * x, -1, keepdims=True) + eps) * g
def rope(x, pos):	# x [T, heads, hs]
    f = np.outer(pos, inv)
    cos, sin = np.cos(np.concatenate([f, f], -1))[:, None], np.sin(np.concatenate([f, f], -1))[:, None]
    rot = np.concatenate([-x[..., hs // 2:], x[..., :hs // 2]], -1)
    return x * cos + rot * sin
r0 = ref["prompts"][0]
ids = np.array(r0["ids"]); T = len(ids); pos = np.arange(T)
x = W["model.embed_tokens.weight"][ids]
for l in range(L):
    p = f"model.layers.{l}."
    h = rms(x, W[p + "input_layernorm.weight"])
    q = rope((h @ W[p + "self_attn.q_proj.weight"].T).reshape(T, H, hs), pos)
    k = rope((h @ W[p + "self_attn.k_proj.weight"].T).reshape(T, KV, hs), pos)
    v = (h @ W[p + "self_attn.v_proj.weight"].T).reshape(T, KV, hs)
    k, v = np.repeat(k, H // KV, 1), np.repeat(v, H // KV, 1)
    s = np.einsum("thd,uhd->htu", q, k) / np.sqrt(hs) + np.triu(np.full((T, T), -np.inf), 1)
    s = np.exp(s - s.max(-1, keepdims=True)); s /= s.sum(-1, keepdims=True)
    x = x + np.einsum("htu,uhd->thd", s, v).reshape(T, D) @ W[p + "self_attn.o_proj.weight"].T
    h = rms(x, W[p + "post_attention_layernorm.weight"])
    g = h @ W[p + "mlp.gate_proj.weight"].T
    x = x + (g / (1 + np.exp(-g)) * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
logits = rms(x[-1], W["model.norm.weight"]) @ W["model.embed_tokens.weight"].T
worst = float(np.max(np.abs(logits - np.array(r0["logits"]))))
assert worst < 1e-5, worst
print(f"ok: Hugging Face semantics: {len(ref['prompts'])} prompts tokenize as ref.json; "
      f"'{r0['prompt']}' logits within {worst:.1g} of ref.json (rotate_half RoPE)")
PY

# --- compiled: the same model as the llama2c import -------------------------
"$REL" compile --from safetensors "$T/hf" -o "$T/hf.pnb" >"$T/out" 2>"$T/err" ||
	{ bad "compile: $(cat "$T/err")"; exit 1; }
grep -qE "^compiled llama: [0-9]+ nodes, [0-9]+ tensors, 260032 parameters, [0-9]+ bytes -> $T/hf.pnb\$" \
	"$T/out" || bad "summary line: $(cat "$T/out")"
[ -s "$T/err" ] && bad "stderr not empty off a TTY: $(cat "$T/err")"
echo "ok: $(cat "$T/out")"
"$REL" compile --from llama2c "$BIN" -o "$T/l2c.pnb" -q || { bad "llama2c compile failed"; exit 1; }
"$REL" inspect "$T/hf.pnb" --json >"$T/hf.json" && "$REL" inspect "$T/l2c.pnb" --json >"$T/l2c.json" ||
	bad "inspect --json failed"
"$PY" - "$T" <<'PY' || bad "the two .pnb files differ"
import json, sys
t = sys.argv[1]
a, b = (json.load(open(f"{t}/{n}.json")) for n in ("hf", "l2c"))
A, B = (open(f"{t}/{n}.pnb", "rb").read() for n in ("hf", "l2c"))
data = next(s for s in a["sections"] if s["name"] == "data")["offset"]
for k in a:
    if k in ("file", "content_hash", "header_crc32c", "sections"):
        continue
    assert a[k] == b[k], f"inspect --json differs in {k!r}"
for sa, sb in zip(a["sections"], b["sections"]):
    assert {**sa, "crc32c": 0} == {**sb, "crc32c": 0}, (sa, sb)
scores = None
for ta in a["tensors"]:
    o, n = data + ta["offset"], ta["bytes"]
    if ta["name"] == "tokenizer.scores":
        import struct
        scores = [struct.unpack_from(f"<{n // 4}f", X, o) for X in (A, B)]
        continue
    assert A[o:o + n] == B[o:o + n], f"tensor {ta['name']} differs"
# the scores differ (ranks vs llama2.c's) but order every piece a merge makes alike
pieces = A[data + next(x for x in a["tensors"] if x["name"] == "tokenizer.pieces")["offset"]:]
pieces = pieces.split(b"\0")[:a["tokenizer"]["count"]]
look = {p: i for i, p in enumerate(pieces)}
made = sorted({look[p] for p in pieces for k in range(1, len(p))
               if p[:k] in look and p[k:] in look})
hf, l2 = scores
assert sorted(made, key=lambda i: -hf[i]) == sorted(made, key=lambda i: (-l2[i], i))
assert max(hf[i] for i in range(len(hf)) if i not in set(made)) < min(hf[i] for i in made)
print(f"ok: .pnb files: {len(a['tensors'])} tensors byte-identical but tokenizer.scores, "
      f"{len(a['nodes'])} nodes and attributes equal; the {len(made)} merge pieces ordered alike")
PY
for m in hf l2c; do
	"$REL" generate "$T/$m.pnb" --prompt-file "$D/prompts.txt" --json >"$T/$m.gen" 2>"$T/err" ||
		bad "generate $m: $(cat "$T/err")"
done
"$PY" - "$T" "$D/ref.json" <<'PY' || bad "generate --json differs"
import json, sys
t, ref = sys.argv[1], json.load(open(sys.argv[2], encoding="utf-8"))["prompts"]
a, b = ([json.loads(l) for l in open(f"{t}/{n}.gen", encoding="utf-8")] for n in ("hf", "l2c"))
assert len(a) == len(b) == len(ref) + 1 and a[-1]["summary"]["failed"] == 0
for x, y, r in zip(a, b, ref):
    for k in ("prompt", "prompt_ids", "ids", "text", "stop"):
        assert x[k] == y[k], (x["line"], k, x[k], y[k])
    assert x["prompt_ids"] == r["ids"], (x["line"], x["prompt_ids"], r["ids"])
print(f"ok: generate --json: {len(ref)} prompts, identical prompt ids (= ref.json), ids and text")
PY

# --- broken copies ------------------------------------------------------------
copy() { cp -r "$T/hf" "$T/$1"; }

# Rewrites $1/model.safetensors: `t` maps names to [dtype, shape, bytes] in
# file order; $2 edits it; post(h), if defined, edits the header after the
# offsets are laid out.
edit_st() {
	"$PY" - "$T/$1/model.safetensors" "$2" <<'PY'
import json, struct, sys
import numpy as np
path, stmt = sys.argv[1], sys.argv[2]
raw = open(path, "rb").read()
(n,) = struct.unpack_from("<Q", raw)
hdr = json.loads(raw[8:8 + n])
meta = hdr.pop("__metadata__")
t = {k: [v["dtype"], v["shape"], raw[8 + n + v["data_offsets"][0]:8 + n + v["data_offsets"][1]]]
     for k, v in sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"])}
env = {"t": t, "np": np}
exec(stmt, env)
h, off = {"__metadata__": meta}, 0
for k, (dt, shape, data) in t.items():
    h[k] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(data)]}
    off += len(data)
if "post" in env:
    env["post"](h)
hb = json.dumps(h).encode()
hb += b" " * (-(8 + len(hb)) % 8)
with open(path, "wb") as f:
    f.write(struct.pack("<Q", len(hb)) + hb + b"".join(v[2] for v in t.values()))
PY
}

edit_json() {	# FILE STATEMENT: edits the parsed JSON `j` of $T/FILE
	"$PY" - "$T/$1" "$2" <<'PY'
import json, sys
path, stmt = sys.argv[1], sys.argv[2]
j = json.load(open(path, encoding="utf-8"))
exec(stmt)
json.dump(j, open(path, "w", encoding="utf-8"), ensure_ascii=False)
PY
}

# expect_fail POLYCTL CASE MESSAGE...: exit 1, each MESSAGE on stderr, no .pnb.
expect_fail() {
	local bin=$1 dir=$2 rc; shift 2
	"$bin" compile --from safetensors "$T/$dir" -o "$T/$dir.pnb" >"$T/out" 2>"$T/err"
	rc=$?
	[ $rc -eq 1 ] || { bad "$dir: exit $rc, expected 1 ($(cat "$T/err"))"; return; }
	grep -q "^polyctl compile: $T/$dir/" "$T/err" || bad "$dir: stderr lacks 'polyctl compile: $T/$dir/'"
	for want in "$@"; do
		grep -qF -- "$want" "$T/err" || bad "$dir: stderr lacks '$want': $(cat "$T/err")"
	done
	[ "$(wc -l <"$T/err")" -eq 1 ] || bad "$dir: stderr is not one line: $(cat "$T/err")"
	grep -q 'Sanitizer' "$T/err" && bad "$dir: sanitizer report: $(cat "$T/err")"
	[ -e "$T/$dir.pnb" ] && bad "$dir: wrote $T/$dir.pnb despite the error"
	echo "ok: $dir: $(head -c 220 "$T/err")"
}

size=$(stat -c %s "$T/hf/model.safetensors")
copy truncated; truncate -s $((size / 2)) "$T/truncated/model.safetensors"
expect_fail "$REL" truncated "truncated/model.safetensors: offset " \
	"past the end of the file ($((size / 2)) bytes: truncated?)"

copy header_past_end; printf '\377\377\377\377\000\000\000\000' |
	dd of="$T/header_past_end/model.safetensors" bs=1 seek=0 conv=notrunc status=none
expect_fail "$REL" header_past_end \
	"header_past_end/model.safetensors: offset 0: header length 4294967295 runs past the end of the file ($size bytes)"

copy wrong_shape
edit_st wrong_shape 't["model.layers.2.mlp.down_proj.weight"][1] = [172, 64]'
expect_fail "$REL" wrong_shape "wrong_shape/model.safetensors: offset " \
	"tensor 'model.layers.2.mlp.down_proj.weight': shape [172,64], expected [64,172] (from config.json)"

copy f16
edit_st f16 'k = "model.layers.1.self_attn.v_proj.weight"; t[k][0] = "F16"; t[k][2] = np.frombuffer(t[k][2], "<f4").astype("<f2").tobytes()'
expect_fail "$REL" f16 "f16/model.safetensors: offset " \
	"tensor 'model.layers.1.self_attn.v_proj.weight': dtype F16, expected F32 (only float32 checkpoints are read)"

copy overlap
edit_st overlap 'def post(h): h["model.layers.1.input_layernorm.weight"]["data_offsets"] = h["model.layers.0.input_layernorm.weight"]["data_offsets"]'
expect_fail "$REL" overlap "overlap/model.safetensors: offset " "overlaps tensor" \
	"model.layers.0.input_layernorm.weight" "model.layers.1.input_layernorm.weight" \
	"expected spans that do not overlap"

copy tied_head
edit_st tied_head 't["lm_head.weight"] = list(t["model.embed_tokens.weight"])'
expect_fail "$REL" tied_head "tied_head/model.safetensors: offset " \
	"tensor 'lm_head.weight' is not one of a LlamaForCausalLM's with config.json's 5 layers and tie_word_embeddings true"

copy no_kv_heads; edit_json no_kv_heads/config.json 'del j["num_key_value_heads"]'
expect_fail "$REL" no_kv_heads 'no_kv_heads/config.json: no "num_key_value_heads", expected an integer'

copy str_hidden; edit_json str_hidden/config.json 'j["hidden_size"] = "64"'
expect_fail "$REL" str_hidden 'str_hidden/config.json: "hidden_size" is not an integer'

copy rope_scaling; edit_json rope_scaling/config.json 'j["rope_scaling"] = {"rope_type": "linear", "factor": 2.0}'
expect_fail "$REL" rope_scaling 'rope_scaling/config.json: "rope_scaling" is set: not supported'

copy no_bytes
edit_json no_bytes/tokenizer.json 'j["model"]["vocab"] = {p: i for p, i in j["model"]["vocab"].items() if not p.startswith("<0x")}'
expect_fail "$REL" no_bytes "no_bytes/tokenizer.json: model.vocab: id 3 is missing, expected '<0x00>'"

copy one_merge_less
edit_json one_merge_less/tokenizer.json 'del j["model"]["merges"][10]'
expect_fail "$REL" one_merge_less "one_merge_less/tokenizer.json: model.vocab: piece " "but no merge makes it so"

copy no_tokenizer; rm "$T/no_tokenizer/tokenizer.json"
expect_fail "$REL" no_tokenizer "no_tokenizer/tokenizer.json: cannot open: No such file or directory"

# --- the sanitized binary: one good, two bad ---------------------------------
if [ -x "$ASAN" ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
	"$ASAN" compile --from safetensors "$T/hf" -o "$T/asan.pnb" -q 2>"$T/err" ||
		bad "ASan compile: $(cat "$T/err")"
	cmp -s "$T/hf.pnb" "$T/asan.pnb" || bad "the ASan build wrote a different file"
	expect_fail "$ASAN" overlap "overlaps tensor"
	expect_fail "$ASAN" no_bytes "id 3 is missing"
else
	bad "$ASAN not built"
fi

[ $failures -eq 0 ] || { echo "$failures failure(s)"; exit 1; }
echo "polyctl compile --from safetensors: the llama2c model, and broken copies refused"
