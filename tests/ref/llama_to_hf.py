#!/usr/bin/python3
"""A llama2.c decoder as a Hugging Face Llama directory (issue 15).

  llama_to_hf.py IN.bin OUTDIR

Reads IN.bin (llama2.c's single-file layout, /work/shared/models/stories260k.md,
through tests/ref/llama_ref.py's checked reader) and writes into OUTDIR what
`polyctl compile --from safetensors` reads (docs/compile.md):

  config.json        LlamaForCausalLM, the sizes of IN.bin's config block
  model.safetensors  every weight as F32 under Hugging Face's names; q_proj and
                     k_proj rows permuted as transformers'
                     convert_llama_weights_to_hf.py does (rotate_half RoPE)
  tokenizer.json     the tokenizers library's BPE with byte fallback; the merges
                     are every pair of pieces whose concatenation is a piece,
                     ordered by that piece's score, highest first (ties by its
                     id, then by the pair's ids), as transformers'
                     SentencePieceExtractor orders them

Python 3 and numpy only (Debian's python3-numpy). Exit 1 with one line on
stderr when IN.bin is refused.
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import llama_ref  # noqa: E402

SPACE = llama_ref.SPACE


def permute(w, n_heads):
    """convert_llama_weights_to_hf.py's permute: the rows of each head, pairs
    (2i, 2i+1) interleaved, become halves i and hs/2 + i (rotate_half's layout):
    w.view(n_heads, hs // 2, 2, dim).transpose(1, 2).reshape(dim_out, dim)."""
    dim_out, dim = w.shape
    return w.reshape(n_heads, dim_out // n_heads // 2, 2, dim).transpose(0, 2, 1, 3) \
        .reshape(dim_out, dim)


def tensors(m):
    c, w = m.config, m.w
    f32 = lambda a: np.ascontiguousarray(a, dtype="<f4")  # noqa: E731 (exact: read as f32)
    t = {"model.embed_tokens.weight": f32(w["embedding"]),
         "model.norm.weight": f32(w["rms_final"])}
    for i in range(c["layers"]):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = f32(w["rms_att"][i])
        t[p + "self_attn.q_proj.weight"] = f32(permute(w["wq"][i], c["q_heads"]))
        t[p + "self_attn.k_proj.weight"] = f32(permute(w["wk"][i], c["kv_heads"]))
        t[p + "self_attn.v_proj.weight"] = f32(w["wv"][i])
        t[p + "self_attn.o_proj.weight"] = f32(w["wo"][i])
        t[p + "post_attention_layernorm.weight"] = f32(w["rms_ffn"][i])
        t[p + "mlp.gate_proj.weight"] = f32(w["w_gate"][i])
        t[p + "mlp.up_proj.weight"] = f32(w["w_up"][i])
        t[p + "mlp.down_proj.weight"] = f32(w["w_down"][i])
    if not c["shared_output"]:
        t["lm_head.weight"] = f32(w["wcls"])
    return t


def write_safetensors(path, t):
    """u64 LE header length, the JSON header (space-padded to 8 bytes), the data."""
    header, off = {"__metadata__": {"format": "pt"}}, 0
    names = sorted(t)
    for n in names:
        header[n] = {"dtype": "F32", "shape": list(t[n].shape),
                     "data_offsets": [off, off + t[n].nbytes]}
        off += t[n].nbytes
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-(8 + len(h)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for n in names:
            f.write(t[n].tobytes())


def config_json(m):
    c = m.config
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": c["hidden"],
        "intermediate_size": c["ffn"],
        "num_hidden_layers": c["layers"],
        "num_attention_heads": c["q_heads"],
        "num_key_value_heads": c["kv_heads"],
        "head_dim": c["head_size"],
        "vocab_size": c["vocab"],
        "max_position_embeddings": c["max_seq"],
        "rms_norm_eps": llama_ref.NORM_EPS,
        "rope_theta": llama_ref.ROPE_THETA,
        "rope_scaling": None,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": bool(c["shared_output"]),
        "bos_token_id": llama_ref.BOS,
        "eos_token_id": llama_ref.EOS,
        "torch_dtype": "float32",
    }


def merges(m):
    """Every (a, b) with a + b a piece: by score of a + b descending, then its id,
    then the ids of a and b. llama2.c merges the adjacent pair making the
    highest-scored piece, so this rank order is its merge order."""
    out = []
    for i, p in enumerate(m.pieces):
        for k in range(1, len(p)):
            a, b = m.lookup.get(p[:k]), m.lookup.get(p[k:])
            if a is not None and b is not None:
                out.append((-m.scores[i], i, a, b))
    out.sort()
    return [[m.pieces[a], m.pieces[b]] for _, _, a, b in out]


def tokenizer_json(m):
    special = [{"id": i, "content": m.pieces[i], "single_word": False, "lstrip": False,
                "rstrip": False, "normalized": False, "special": True} for i in range(3)]
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": special,
        # sentencepiece's dummy prefix and its U+2581 for a space
        "normalizer": {"type": "Sequence", "normalizers": [
            {"type": "Prepend", "prepend": SPACE},
            {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}]},
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "<s>", "type_id": 1}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [llama_ref.BOS], "tokens": ["<s>"]}}},
        "decoder": {"type": "Sequence", "decoders": [
            {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
            {"type": "ByteFallback"}, {"type": "Fuse"},
            {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
        "model": {
            "type": "BPE", "dropout": None, "unk_token": "<unk>",
            "continuing_subword_prefix": None, "end_of_word_suffix": None,
            "fuse_unk": True, "byte_fallback": True, "ignore_merges": False,
            "vocab": {p: i for i, p in enumerate(m.pieces)},
            "merges": merges(m)},
    }


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, ensure_ascii=False, indent=1)
        f.write("\n")


def main():
    if len(sys.argv) != 3 or sys.argv[1].startswith("-"):
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    src, out = sys.argv[1:]
    try:
        m = llama_ref.Model(src)
        os.makedirs(out, exist_ok=True)
        write_json(os.path.join(out, "config.json"), config_json(m))
        write_safetensors(os.path.join(out, "model.safetensors"), tensors(m))
        tok = tokenizer_json(m)
        write_json(os.path.join(out, "tokenizer.json"), tok)
    except (OSError, llama_ref.FormatError) as e:
        print(f"llama_to_hf: {e}", file=sys.stderr)
        return 1
    print(f"llama_to_hf: wrote {out}: {len(m.pieces)} pieces, {len(tok['model']['merges'])} "
          f"merges", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
