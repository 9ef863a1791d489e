// SPDX-License-Identifier: MIT
// Checks bench/export_llama_onnx.py's graphs in ONNX Runtime (onnxruntime-node):
//   node bench/check_llama_onnx.js MODEL.bin OUT.onnx [--prompt TEXT] [--expect TEXT]
//        [--steps N]
// (OUT-prefill.onnx beside OUT.onnx.) Three checks, exit 1 on the first that fails:
//  1. greedy decoding of --prompt (prefill, then one decode step per token with the
//     graph's own KV cache) continues with --expect (skipped when --expect is "");
//  2. the decode graph alone from an empty cache (P = 0, one token a step) gives the
//     prefill's last logits;
//  3. a batch of two different rows gives each row's logits of a one-row run, in
//     prefill and in a decode step.
// Also the module the benchmark (bench/ort_llama_bench.js) builds on: the format's
// tokenizer and a Llama wrapper around the two sessions.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

const SPACE = '\u2581';

// Config and vocab of a llama2.c single file (the weights are the ONNX graphs').
function readVocab(path) {
	const fd = fs.openSync(path, 'r');
	const head = Buffer.alloc(256);
	fs.readSync(fd, head, 0, 256, 0);
	const n = head.readInt32LE(1);
	const f = (i) => head.readInt32LE(5 + n + 4 * i);
	const cfg = { hidden: f(0), ffn: f(1), max_seq: f(2), vocab: f(3), layers: f(4),
		q_heads: f(5), kv_heads: f(6) };
	// Vocab entries are at most a few dozen bytes each; read generously.
	const buf = Buffer.alloc(cfg.vocab * 72 + 4096);
	const got = fs.readSync(fd, buf, 0, buf.length, 256);
	fs.closeSync(fd);
	const pieces = [], scores = [];
	let off = 0;
	for (let i = 0; i < cfg.vocab; i++) {
		if (off + 8 > got)
			throw new Error(`${path}: vocab entry ${i} past the bytes read`);
		scores.push(buf.readFloatLE(off));
		const len = buf.readInt32LE(off + 4);
		pieces.push(buf.subarray(off + 8, off + 8 + len).toString('utf8'));
		off += 8 + len;
	}
	const index = new Map();
	pieces.forEach((p, i) => { if (!index.has(p)) index.set(p, i); });
	return { cfg, pieces, scores, index };
}

// The format's tokenizer: BOS, then ' ' + text, characters or their bytes, best merges.
function encode(voc, text) {
	const ids = [];
	for (const ch of (' ' + text).replace(/ /g, SPACE)) {
		const id = voc.index.get(ch);
		if (id !== undefined)
			ids.push(id);
		else
			for (const byte of Buffer.from(ch, 'utf8'))
				ids.push(byte + 3);
	}
	for (;;) {
		let best = -Infinity, at = -1, merged = -1;
		for (let i = 0; i + 1 < ids.length; i++) {
			const id = voc.index.get(voc.pieces[ids[i]] + voc.pieces[ids[i + 1]]);
			if (id !== undefined && voc.scores[id] > best) {
				best = voc.scores[id];
				at = i;
				merged = id;
			}
		}
		if (at < 0)
			break;
		ids.splice(at, 2, merged);
	}
	return [1, ...ids];
}

function decode(voc, ids) {
	const bytes = [];
	let first = true;
	for (const id of ids) {
		if (id <= 2)
			continue;
		if (id < 259)
			bytes.push(id - 3);
		else {
			let s = voc.pieces[id].replace(new RegExp(SPACE, 'g'), ' ');
			if (first && s.startsWith(' '))
				s = s.slice(1);
			bytes.push(...Buffer.from(s, 'utf8'));
		}
		first = false;
	}
	return Buffer.from(bytes).toString('utf8');
}

const SESSION_OPTS = {
	executionProviders: ['cpu'],
	intraOpNumThreads: 1,
	interOpNumThreads: 1,
	graphOptimizationLevel: 'all',
	executionMode: 'sequential',
	// The presents grow by one position a step and ORT's arena keeps extending for
	// them (measured, glibc's default malloc: batch 32 at P 150 on the synthetic
	// model, 105 ms a step with the arena, 49-53 ms without; batch 1 and prefill
	// the same within noise; with ort_llama_bench.js's malloc tunables, on or off
	// is within noise).
	enableCpuMemArena: false,
};

// The two sessions and the cache plumbing. A cache is { P, B, k: [], v: [] } of
// ort.Tensors [B, kv, P, hs]; a step's presents become the next step's pasts.
class Llama {
	static async open(decodePath, opts = {}) {
		const m = new Llama();
		const o = { ...SESSION_OPTS, ...opts };
		m.dec = await ort.InferenceSession.create(decodePath, o);
		m.pre = await ort.InferenceSession.create(decodePath.replace(/\.onnx$/, '-prefill.onnx'), o);
		m.layers = (m.dec.outputNames.length - 1) / 2;
		// Shapes from a one-token prefill rather than from the .bin: the graph is the truth.
		const r = await m.pre.run({ ids: ids2d([[1]]) });
		m.vocab = r.logits.dims[1];
		[, m.kv, , m.hs] = r.present_k_0.dims;
		return m;
	}

	emptyCache(B) {
		const z = () => new ort.Tensor('float32', new Float32Array(0), [B, this.kv, 0, this.hs]);
		return { P: 0, B, k: Array.from({ length: this.layers }, z),
			v: Array.from({ length: this.layers }, z) };
	}

	unpack(r, B, P) {
		const c = { P, B, k: [], v: [] };
		for (let l = 0; l < this.layers; l++) {
			c.k.push(r[`present_k_${l}`]);
			c.v.push(r[`present_v_${l}`]);
		}
		return { logits: r.logits.data, cache: c };
	}

	// rows: B arrays of T ids each (T shared).
	async prefill(rows) {
		const r = await this.pre.run({ ids: ids2d(rows) });
		return this.unpack(r, rows.length, rows[0].length);
	}

	// One decode step: tokens[b] at position cache.P of every row.
	async step(tokens, cache) {
		const B = tokens.length;
		const feeds = {
			ids: new ort.Tensor('int64', BigInt64Array.from(tokens, BigInt), [B, 1]),
			pos: new ort.Tensor('int64', new BigInt64Array(B).fill(BigInt(cache.P)), [B]),
		};
		for (let l = 0; l < this.layers; l++) {
			feeds[`past_k_${l}`] = cache.k[l];
			feeds[`past_v_${l}`] = cache.v[l];
		}
		return this.unpack(await this.dec.run(feeds), B, cache.P + 1);
	}
}

function ids2d(rows) {
	const T = rows[0].length;
	const a = new BigInt64Array(rows.length * T);
	rows.forEach((r, b) => r.forEach((id, t) => { a[b * T + t] = BigInt(id); }));
	return new ort.Tensor('int64', a, [rows.length, T]);
}

function argmax(logits, b, V) {
	let best = 0;
	for (let i = 1; i < V; i++)
		if (logits[b * V + i] > logits[b * V + best])
			best = i;
	return best;
}

// max |a_row - b_row| over the row, relative to max(1, max |b_row|).
function rowDiff(a, ra, b, rb, V) {
	let d = 0, m = 1;
	for (let i = 0; i < V; i++) {
		d = Math.max(d, Math.abs(a[ra * V + i] - b[rb * V + i]));
		m = Math.max(m, Math.abs(b[rb * V + i]));
	}
	return d / m;
}

const TOL = 1e-4;

async function main() {
	const args = process.argv.slice(2);
	const o = { prompt: 'Once upon a time',
		expect: ', there was a little girl named Lily. She loved to play outside in the park.',
		steps: 40 };
	const pos = [];
	for (let i = 0; i < args.length; i++) {
		const key = args[i].startsWith('--') ? args[i].slice(2) : null;
		if (key && key in o && i + 1 < args.length)
			o[key] = key === 'steps' ? Number(args[++i]) : args[++i];
		else if (key)
			throw new Error(`unknown or incomplete option ${args[i]}`);
		else
			pos.push(args[i]);
	}
	if (pos.length !== 2)
		throw new Error('usage: check_llama_onnx.js MODEL.bin OUT.onnx [--prompt T] [--expect T] [--steps N]');
	const voc = readVocab(pos[0]);
	const m = await Llama.open(pos[1]);
	const V = m.vocab;
	const prompt = encode(voc, o.prompt);
	console.log(`prompt ids: ${JSON.stringify(prompt)}`);
	const fail = (msg) => { console.error(`check_llama_onnx: FAIL: ${msg}`); process.exit(1); };

	// 1. Greedy generation through prefill + the KV-cache loop.
	let { logits, cache } = await m.prefill([prompt]);
	const first = logits;
	const out = [];
	for (let s = 0; s < o.steps; s++) {
		const id = argmax(logits, 0, V);
		out.push(id);
		({ logits, cache } = await m.step([id], cache));
	}
	const text = decode(voc, [...prompt, ...out]);
	console.log(`greedy: ${JSON.stringify(text)}`);
	if (o.expect && !text.startsWith(o.prompt + o.expect))
		fail(`the continuation is not ${JSON.stringify(o.expect)}`);

	// 2. Decode graph alone from P = 0 against the prefill.
	let c0 = m.emptyCache(1), l0 = null;
	for (const id of prompt)
		({ logits: l0, cache: c0 } = await m.step([id], c0));
	const d2 = rowDiff(l0, 0, first, 0, V);
	console.log(`decode from P=0 vs prefill: max rel diff ${d2.toExponential(2)}`);
	if (!(d2 < TOL))
		fail(`decode from an empty cache disagrees with prefill (${d2})`);

	// 3. A batch of two rows against one-row runs: prefill and one decode step.
	const other = [1, ...prompt.slice(1).reverse()];
	const b2 = await m.prefill([prompt, other]);
	const one = await m.prefill([other]);
	const tok = [argmax(first, 0, V), argmax(one.logits, 0, V)];
	const s2 = await m.step(tok, b2.cache);
	const s0 = await m.step([tok[0]], (await m.prefill([prompt])).cache);
	const s1 = await m.step([tok[1]], one.cache);
	const d3 = Math.max(rowDiff(b2.logits, 0, first, 0, V), rowDiff(b2.logits, 1, one.logits, 0, V),
		rowDiff(s2.logits, 0, s0.logits, 0, V), rowDiff(s2.logits, 1, s1.logits, 0, V));
	console.log(`batch of 2 vs one-row runs: max rel diff ${d3.toExponential(2)}`);
	if (!(d3 < TOL))
		fail(`batched rows disagree with one-row runs (${d3})`);
	console.log('check_llama_onnx: ok');
}

module.exports = { readVocab, encode, decode, Llama, argmax, SESSION_OPTS };

if (require.main === module)
	main().catch((e) => {
		console.error(`check_llama_onnx: ${e.message}`);
		process.exit(1);
	});
