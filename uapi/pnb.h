/* SPDX-License-Identifier: MIT */
/*
 * pnb.h - the PolyNet binary model file (.pnb): stable on-disk ABI.
 *
 * One little-endian file, mmap-able:
 *
 *   [pnb_header][strings][tensor table][value table][node table] ... [data]
 *
 * The data section starts on a PNB_DATA_ALIGN boundary and every tensor in
 * it on a PNB_TENSOR_ALIGN boundary, so a mapped file is used in place.
 * Each section carries its CRC32C (Castagnoli) in the header; the header
 * carries its own. A reader trusts no offset, size, index or enum: see
 * lib/pnb.c.
 *
 * Compatibility: PNB_VERSION changes only when an existing struct changes.
 * New ops, dtypes and attributes are added with new numbers; readers reject
 * numbers they do not know, by name, rather than guessing.
 */
#ifndef PNB_UAPI_H
#define PNB_UAPI_H

#include <stdint.h>

#define PNB_MAGIC		"POLYNET\x1a"	/* 8 bytes, no NUL needed */
#define PNB_VERSION		1u
#define PNB_DATA_ALIGN		4096u
#define PNB_TENSOR_ALIGN	64u
#define PNB_MAX_DIMS		4u
/* The most tokens a model accepts (header max_tokens): arenas and position
 * tables are sized by it, so a reader refuses more rather than allocating. */
#define PNB_MAX_TOKENS		65536u
#define PNB_NONE		0xffffffffu	/* absent index */

enum pnb_section_id {
	PNB_SEC_STRINGS = 0,	/* NUL-terminated UTF-8, referenced by byte offset */
	PNB_SEC_TENSORS = 1,	/* struct pnb_tensor[count]: weights and tables */
	PNB_SEC_VALUES = 2,	/* struct pnb_value[count]: activations (DAG edges) */
	PNB_SEC_NODES = 3,	/* struct pnb_node[count], in topological order */
	PNB_SEC_DATA = 4,	/* tensor bytes; offset % PNB_DATA_ALIGN == 0 */
	PNB_SEC_COUNT = 5,
};

struct pnb_section {
	uint64_t offset;	/* from the start of the file */
	uint64_t size;		/* bytes */
	uint32_t count;		/* entries (0 for STRINGS and DATA) */
	uint32_t crc32c;	/* of the section's bytes */
};

enum pnb_tokenizer_kind {
	PNB_TOKENIZER_NONE = 0,
	PNB_TOKENIZER_SPM_UNIGRAM = 1,	/* SentencePiece unigram, NFKC, U+2581 */
	/* Llama's SentencePiece BPE as llama2.c runs it: score-ordered pair
	 * merges, byte fallback (ids 3..258 = bytes 0..255), ids 0, 1, 2 =
	 * unk, BOS, EOS (lib/text/tok_bpe.h) */
	PNB_TOKENIZER_LLAMA_BPE = 2,
};

struct pnb_header {
	uint8_t  magic[8];	/* PNB_MAGIC */
	uint32_t version;	/* PNB_VERSION */
	uint32_t header_size;	/* sizeof(struct pnb_header) */
	uint64_t file_size;	/* the whole file, bytes */
	uint32_t flags;		/* none defined: must be 0 */
	uint32_t name;		/* string: model name */
	uint32_t input;		/* value: token ids, I32, TOKENS layout, width 1 */
	uint32_t output;	/* value: the graph's result */
	uint32_t max_tokens;	/* positions >= this are clipped before the graph */
	uint32_t tokenizer;	/* enum pnb_tokenizer_kind */
	uint32_t tok_pieces;	/* tensor: U8 blob of NUL-terminated pieces, or NONE */
	uint32_t tok_scores;	/* tensor: F32 [n_pieces] scores, or NONE */
	uint32_t reserved[6];	/* must be 0 */
	struct pnb_section sec[PNB_SEC_COUNT];
	uint32_t header_crc32c;	/* CRC32C of every header byte before this field */
	uint32_t pad;		/* must be 0 */
};

enum pnb_dtype {
	PNB_DTYPE_F32 = 1,
	PNB_DTYPE_F16 = 2,
	PNB_DTYPE_BF16 = 3,
	PNB_DTYPE_I32 = 4,
	PNB_DTYPE_U8 = 5,
	PNB_DTYPE_I8 = 6,
};

/* A weight or table stored in the data section. F32 data is finite: readers
 * refuse a NaN or an Inf, naming the tensor, the element and its byte. */
struct pnb_tensor {
	uint32_t name;		/* string */
	uint32_t dtype;		/* enum pnb_dtype */
	uint32_t ndim;		/* 1..PNB_MAX_DIMS */
	uint32_t flags;		/* none defined: must be 0 */
	uint64_t shape[PNB_MAX_DIMS];	/* dims past ndim must be 0 */
	uint64_t offset;	/* from the start of the data section, % 64 == 0 */
	uint64_t size;		/* bytes == product(shape) * dtype size */
};

enum pnb_layout {
	PNB_LAYOUT_TOKENS = 1,	/* one row per token: [batch * T, width] */
	PNB_LAYOUT_SEQ = 2,	/* one row per sequence: [batch, width] */
};

/* An activation: a DAG edge, sized at run time by batch and T. */
struct pnb_value {
	uint32_t name;		/* string */
	uint32_t dtype;		/* PNB_DTYPE_F32 or PNB_DTYPE_I32 */
	uint32_t layout;	/* enum pnb_layout */
	uint32_t width;		/* features per row, >= 1 */
};

enum pnb_act {
	PNB_ACT_NONE = 0,
	PNB_ACT_RELU = 1,
	PNB_ACT_GELU = 2,	/* erf form */
	PNB_ACT_SILU = 3,
	PNB_ACT_TANH = 4,
	PNB_ACT_GELU_TANH = 5,
	PNB_ACT_COUNT = 6,
};

enum pnb_pos_kind {
	PNB_POS_NONE = 0,
	PNB_POS_LEARNED = 1,	/* w[1] = table [max_pos, D] */
	PNB_POS_SINCOS = 2,	/* w[2] = inv_freq [D/2]: [sin(p*inv) | cos(p*inv)] */
};

/*
 * Operators. in[] are value indices, w[] tensor indices (PNB_NONE where the
 * op marks a weight optional), one output value per node.
 *
 * EMBED      in: ids.  w: [0] table [V,D], [1] pos table or NONE,
 *            [2] inv_freq or NONE, [3] type table [1,D] or NONE.
 *            iattr[0] enum pnb_pos_kind; fattr[0] token scale (1.0 normally).
 *            out = scale * table[id] + pos(t) (+ type[0])
 * LAYERNORM  in: x.  w: gamma [D], beta [D].  fattr[0] eps.  biased variance.
 * RMSNORM    in: x.  w: gamma [D].  fattr[0] eps.
 * LINEAR     in: x.  w: W [in,out], b [out] or NONE.  iattr[0] enum pnb_act.
 *            out = act(x W + b)
 * ACT        in: x.  iattr[0] enum pnb_act.
 * ADD        in: a, b (same layout and width); or a TOKENS and b SEQ of the
 *            same width: b's row is added to every token of its sequence.
 * FFN        in: x.  w: W1, b1 or NONE, W2 [ff,D], b2 or NONE.
 *            iattr[0] enum pnb_act, iattr[1] gated.
 *            plain: out = act(x W1 + b1) W2 + b2, W1 [D,ff]
 *            gated: W1 [D,2ff] = [gate | up] columns,
 *                   out = (act(x Wg + bg) * (x Wu + bu)) W2 + b2  (SwiGLU: SILU)
 * ATTENTION  in: qkv [rows, 3D] as q | k | v, heads contiguous in each.
 *            iattr[0] heads, iattr[1] causal.  fattr[0] scale (1/sqrt(hd)).
 *            Keys at t >= len are masked; out [rows, D].
 * POOL_MEAN  in: x (TOKENS).  out (SEQ) = mean over t < len (0 rows if len 0).
 * POOL_CLS   in: x (TOKENS).  out (SEQ) = row t = 0.
 * L2NORM     in: x.  fattr[0] eps.  out = x * rsqrt(max(sum x^2, eps)).
 * SOFTMAX    in: x.  softmax over each row.
 *
 * The causal decoder (docs/generate.md). Sequence b's token t sits at
 * position p = pos0[b] + t, pos0 given per run (0 for a whole prompt).
 * ROPE       in: x [rows, W] TOKENS.  iattr[0] heads rotated (from the
 *            start of the row), [1] head size hs (even).  fattr[0] theta.
 *            Within each rotated head the pairs (2i, 2i+1) turn by
 *            p / theta^(2i/hs); columns past heads * hs are copied.
 * ATTN_CACHE in: qkv [rows, (H + 2 Hkv) hs] TOKENS as q | k | v.
 *            iattr[0] H query heads, [1] Hkv key/value heads (dividing
 *            H: query head h reads KV head h / (H / Hkv)), [2] layer: its
 *            slice of the run's KV cache.  fattr[0] scale.  Writes k and v
 *            at positions p, then attends causally over cached positions
 *            0..p; out [rows, H hs] TOKENS.
 * LOGITS     in: x [rows, D] TOKENS.  w: [0] table [V, D] (the embedding
 *            table when tied).  iattr[0] last: 1 keeps only each
 *            sequence's last valid token (out [B, V] SEQ), 0 every token
 *            (out [rows, V] TOKENS).  out = x table^T.
 *
 * Numbers 32 and up are the PolyNet nodes (SPECS.md); a reader that does not
 * implement one rejects the file naming it. docs/polynodes.md explains them.
 * A "series" is a Chebyshev series replacing an activation (lib/cpu/cheb.h):
 * base act relu/gelu/silu/gelu_tanh, degree 1..PNB_POLY_MAX_DEGREE, range
 * a < b, asymptotes outside it (x above b, 0 below a); with the even flag
 * the range is [-b, b], the degree even, and the coefficients are the
 * degree/2 + 1 even terms of act(x) - x/2. ncoef = even ? deg/2 + 1 : deg + 1.
 *
 * POLY_FFN   in: x [rows,D] F32; or, codebook mode, the I32 codes [rows,1]
 *            of a VQ node in codes mode.
 *            w: [0] W1, [1] b1 or NONE, [2] W2 [ff,D], [3] b2 or NONE (as FFN),
 *            [4] coefs [ncoef], [5] codebook [K,D] (codebook mode only:
 *            the VQ node's codebook, same K).
 *            iattr[0] base act, [1] gated, [2] degree, [3] even, [4] codebook.
 *            fattr[0] a, [1] b.  out [rows,D] = FFN with act := series;
 *            codebook mode: out[r] = that FFN of codebook[code[r]], run once
 *            per distinct code present.
 * VQ         in: x [rows,D] F32.  w: [0] codebook [K,D], [1] norms [K] =
 *            ||e_k||^2, [2] table [K,W] (cache mode only).
 *            iattr[0] mode: 0 codes (out I32 width 1), 1 quantize (out F32
 *            width D = codebook[k*]), 2 cache (out F32 width W = table[k*]).
 *            k* = argmin_k ||x - e_k||^2 (ties: lowest k).
 * CQA        in: qkv [rows,3D] TOKENS as ATTENTION.  w: [0] planes [B,hd],
 *            1 <= B <= 64 LSH hyperplanes shared by the heads.
 *            iattr[0] heads, [1] clusters C >= 1, [2] topk (0: plain
 *            clustered attention; k >= 1: improved variant), [3] Hamming
 *            k-means iterations 1..64.  fattr[0] scale.  Non-causal;
 *            keys t >= len masked; out [rows,D] TOKENS.
 * MACRO      in: x [rows,D] F32.  out [rows,D] = x + sum over the top-k
 *            experts e of g_e * (series_e(x W1_e + b1_e) W2_e + b2_e).
 *            w: [0] router: centroids [E,D] (router 0) or Wg [D,E]
 *            (router 1), [1] router bias [E] or NONE (router 1 only),
 *            [2] W1 [E*D,r], [3] b1 [E*r] or NONE, [4] coefs [E,ncoef],
 *            [5] W2 [E*r,D], [6] b2 [E*D] or NONE.
 *            iattr[0] E, [1] router (0 nearest centroid, 1 linear gate),
 *            [2] topk 1 or 2 (<= E), [3] degree, [4] even, [5] base act.
 *            fattr[0] a, [1] b, [2] router temperature tau > 0:
 *            g = softmax(chosen scores / tau); centroid score -||x - c_e||^2.
 */
#define PNB_POLY_MAX_DEGREE	128u
enum pnb_op {
	PNB_OP_EMBED = 1,
	PNB_OP_LAYERNORM = 2,
	PNB_OP_RMSNORM = 3,
	PNB_OP_LINEAR = 4,
	PNB_OP_ACT = 5,
	PNB_OP_ADD = 6,
	PNB_OP_FFN = 7,
	PNB_OP_ATTENTION = 8,
	PNB_OP_POOL_MEAN = 9,
	PNB_OP_POOL_CLS = 10,
	PNB_OP_L2NORM = 11,
	PNB_OP_SOFTMAX = 12,
	PNB_OP_ROPE = 13,
	PNB_OP_ATTN_CACHE = 14,
	PNB_OP_LOGITS = 15,
	PNB_OP_STD_END = 16,

	PNB_OP_POLY_FFN = 32,
	PNB_OP_VQ = 33,
	PNB_OP_CQA = 34,
	PNB_OP_MACRO = 35,
	PNB_OP_POLYGLU = 36,
	PNB_OP_POM = 37,
	PNB_OP_POLYSKETCH = 38,
};

/*
 * Slot names: the index of each weight (w[]), integer attribute (iattr[]) and
 * float attribute (fattr[]) of each op, as documented above. They are part of
 * the ABI: a slot never moves. Code reads n->iattr[PNB_IA_FFN_GATED], never
 * n->iattr[1]; lib/ops/ names each slot again for readers and tools.
 */
enum pnb_slot {
	/* EMBED */
	PNB_W_EMBED_TABLE = 0, PNB_W_EMBED_POS = 1, PNB_W_EMBED_INV_FREQ = 2,
	PNB_W_EMBED_TYPE = 3,
	PNB_IA_EMBED_POS_KIND = 0,
	PNB_FA_EMBED_SCALE = 0,
	/* LAYERNORM, RMSNORM */
	PNB_W_NORM_GAMMA = 0, PNB_W_NORM_BETA = 1,
	PNB_FA_NORM_EPS = 0,
	/*
	 * LINEAR, ACT. Quantized GEMM weights (LINEAR's W, FFN's W1 and W2):
	 * W is F32, BF16 (f32 accumulation), or I8 with its per-output-channel
	 * scale slot filled: F32 [out], every scale finite and > 0, W[k][n]
	 * standing for W[k][n] * scale[n]. The optional QP slot (I8 only) is
	 * F32 [2] = {scale, zero point} of a static u8 quantization of the
	 * GEMM's input, x ~ scale * (q - zero), zero an integer in 0..255;
	 * absent, the input is quantized per row at run time. docs/quant.md.
	 */
	PNB_W_LINEAR_W = 0, PNB_W_LINEAR_B = 1, PNB_W_LINEAR_W_SCALE = 2,
	PNB_W_LINEAR_X_QP = 3,
	PNB_IA_LINEAR_ACT = 0,
	PNB_IA_ACT_ACT = 0,
	/* FFN and POLY_FFN (the same first four weights) */
	PNB_W_FFN_W1 = 0, PNB_W_FFN_B1 = 1, PNB_W_FFN_W2 = 2, PNB_W_FFN_B2 = 3,
	/* FFN only: quantized W1 / W2 as LINEAR's (W1's input x, W2's the hidden h) */
	PNB_W_FFN_W1_SCALE = 4, PNB_W_FFN_W2_SCALE = 5, PNB_W_FFN_X_QP = 6,
	PNB_W_FFN_H_QP = 7,
	PNB_IA_FFN_ACT = 0, PNB_IA_FFN_GATED = 1,
	/* ATTENTION and CQA */
	PNB_IA_ATTN_HEADS = 0, PNB_IA_ATTN_CAUSAL = 1,
	PNB_FA_ATTN_SCALE = 0,
	/* ROPE, ATTN_CACHE, LOGITS */
	PNB_IA_ROPE_HEADS = 0, PNB_IA_ROPE_HS = 1,
	PNB_FA_ROPE_THETA = 0,
	PNB_IA_KV_HEADS = 0, PNB_IA_KV_KV_HEADS = 1, PNB_IA_KV_LAYER = 2,
	PNB_FA_KV_SCALE = 0,
	PNB_W_LOGITS_TABLE = 0,
	PNB_IA_LOGITS_LAST = 0,
	/* L2NORM */
	PNB_FA_L2NORM_EPS = 0,
	/* POLY_FFN */
	PNB_W_POLYFFN_COEFS = 4, PNB_W_POLYFFN_CODEBOOK = 5,
	PNB_IA_POLYFFN_ACT = 0, PNB_IA_POLYFFN_GATED = 1, PNB_IA_POLYFFN_DEGREE = 2,
	PNB_IA_POLYFFN_EVEN = 3, PNB_IA_POLYFFN_CODEBOOK = 4,
	PNB_FA_POLYFFN_A = 0, PNB_FA_POLYFFN_B = 1,
	/* VQ */
	PNB_W_VQ_CODEBOOK = 0, PNB_W_VQ_NORMS = 1, PNB_W_VQ_TABLE = 2,
	PNB_IA_VQ_MODE = 0,
	/* CQA */
	PNB_W_CQA_PLANES = 0,
	PNB_IA_CQA_HEADS = 0, PNB_IA_CQA_CLUSTERS = 1, PNB_IA_CQA_TOPK = 2,
	PNB_IA_CQA_ITERS = 3,
	PNB_FA_CQA_SCALE = 0,
	/* MACRO */
	PNB_W_MACRO_ROUTER = 0, PNB_W_MACRO_ROUTER_B = 1, PNB_W_MACRO_W1 = 2,
	PNB_W_MACRO_B1 = 3, PNB_W_MACRO_COEFS = 4, PNB_W_MACRO_W2 = 5, PNB_W_MACRO_B2 = 6,
	PNB_IA_MACRO_EXPERTS = 0, PNB_IA_MACRO_ROUTER = 1, PNB_IA_MACRO_TOPK = 2,
	PNB_IA_MACRO_DEGREE = 3, PNB_IA_MACRO_EVEN = 4, PNB_IA_MACRO_ACT = 5,
	PNB_FA_MACRO_A = 0, PNB_FA_MACRO_B = 1, PNB_FA_MACRO_TAU = 2,
};

#define PNB_NODE_MAX_IN		4u
#define PNB_NODE_MAX_W		8u
#define PNB_NODE_MAX_ATTR	8u

struct pnb_node {
	uint32_t op;		/* enum pnb_op */
	uint32_t name;		/* string */
	uint32_t n_in;		/* used entries of in[] */
	uint32_t n_w;		/* used entries of w[] */
	uint32_t out;		/* value produced */
	uint32_t pad;		/* must be 0 */
	uint32_t in[PNB_NODE_MAX_IN];	/* unused: PNB_NONE */
	uint32_t w[PNB_NODE_MAX_W];	/* unused: PNB_NONE */
	int32_t  iattr[PNB_NODE_MAX_ATTR];
	float    fattr[PNB_NODE_MAX_ATTR];
};

_Static_assert(sizeof(struct pnb_section) == 24, "pnb_section ABI");
_Static_assert(sizeof(struct pnb_header) == 208, "pnb_header ABI");
_Static_assert(sizeof(struct pnb_tensor) == 64, "pnb_tensor ABI");
_Static_assert(sizeof(struct pnb_value) == 16, "pnb_value ABI");
_Static_assert(sizeof(struct pnb_node) == 136, "pnb_node ABI");

#endif /* PNB_UAPI_H */
