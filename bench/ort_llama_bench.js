// SPDX-License-Identifier: MIT
// ONNX Runtime (onnxruntime-node, CPU EP, intra = inter = 1 thread, sequential, all
// graph optimisations) on a Llama decoder exported by bench/export_llama_onnx.py:
//   node bench/ort_llama_bench.js --model OUT.onnx [--label NAME]
//        [--prefill-tokens 128[,N...]] [--prefill-iters 200]
//        [--prompt 32] [--gen 256] [--gens 8]
//        [--batches 8,32] [--batch-gen 256] [--max-s 60] [--arena 0]
// (OUT-prefill.onnx beside OUT.onnx.) --arena 1: ORT's CPU memory arena (off by default,
// bench/check_llama_onnx.js says why). Prints one JSON object per line:
//  {"what":"model", "engine", "label", "layers", "kv_heads", "head_size", "vocab",
//   "threads":1, "ort", "arena", "glibc_tunables"}            what was run
//  {"what":"prefill", "engine", "label", "batch":1, "tokens":N, "iters", "p50_us",
//   "p99_us", "p999_us", "tok_per_s"}                           (a) one prefill of N tokens
//     from nothing (5 untimed first); tok_per_s = N / p50
//  {"what":"decode", "engine", "label", "batch":B, "prompt", "gen", "gens", "steps", "p50_us",
//   "p99_us", "p999_us", "mean_us", "first_p50_us", "last_p50_us", "tok_per_s"}
//     (b) B = 1: gens generations of gen tokens after a prefilled prompt, every decode
//     step recorded (one untimed generation first); steps = gens * gen; first/last_p50
//     over the first / last eighth of each generation (the cache grows by one position a
//     step); tok_per_s = steps / summed step time.
//     (c) B = 8, 32: B sequences decoded together, one batched call a step, one timed
//     generation of batch-gen steps (after an untimed 8-step one); tok_per_s = B * steps /
//     wall time of the steps.
// A timed step is one session.run() (its feeds: the previous step's presents, as
// ORT returns them) plus the greedy argmax of the logits: what an application's loop
// does. The prefill before each generation is not timed there. Percentiles are
// nearest-rank (bench/bench_common.js); with fewer than 1000 samples p99.9 is the max.
// prompt + gen must fit the model's context (ORT refuses a position past its RoPE table).
// Prompt ids: BOS, then the LCG of bench/bench_common.js (seed 12345 + row) mod
// (vocab - 3) + 3. --max-s caps each measurement's timed part (a partial generation
// still counts its steps).
'use strict';
const { spawnSync } = require('child_process');
const { Llama, argmax } = require('./check_llama_onnx');
const { percentile } = require('./bench_common');

// glibc's malloc serves the per-step presents (up to ~19 MB each at batch 32) with
// fresh mmaps, whose page faults cost more than the copies (measured: 20-24 s of
// system time in a 256-step batch-32 run, and half its tokens/s). Raising the mmap
// threshold to glibc's maximum and never trimming lets freed blocks be reused. The
// tunables are read at process start, so the benchmark re-runs itself with them
// unless GLIBC_TUNABLES is already set (set it to '' to measure without).
const TUNABLES = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=4294967296';
if (process.env.GLIBC_TUNABLES === undefined) {
	const r = spawnSync(process.execPath, [...process.execArgv, __filename, ...process.argv.slice(2)],
		{ stdio: 'inherit', env: { ...process.env, GLIBC_TUNABLES: TUNABLES } });
	process.exit(r.status === null ? 1 : r.status);
}

function parse(argv) {
	const o = { model: null, label: null, 'prefill-tokens': 128, 'prefill-iters': 200,
		prompt: 32, gen: 256, gens: 8, batches: '8,32', 'batch-gen': 256, 'max-s': 60,
		arena: 0 };
	for (let i = 0; i < argv.length; i += 2) {
		const k = argv[i].replace(/^--/, '');
		if (!argv[i].startsWith('--') || !(k in o) || argv[i + 1] === undefined)
			die(`bad argument '${argv[i]}'`);
		const lists = ['batches', 'prefill-tokens'];
		o[k] = ['model', 'label', ...lists].includes(k) ? argv[i + 1] : Number(argv[i + 1]);
		if (typeof o[k] === 'number' && !(o[k] >= (['max-s', 'arena'].includes(k) ? 0 : 1)))
			die(`--${k}: '${argv[i + 1]}'`);
		if (lists.includes(k) && !/^(\d+(,\d+)*)?$/.test(o[k]))
			die(`--${k}: '${o[k]}', expected N[,N...] or '' (none)`);
	}
	if (!o.model)
		die('--model OUT.onnx is required');
	o.label = o.label || o.model.split('/').pop().replace(/\.onnx$/, '');
	for (const k of ['batches', 'prefill-tokens'])
		o[k] = String(o[k]).split(',').filter((x) => x).map(Number);
	return o;
}

function die(msg) {
	console.error(`ort_llama_bench: ${msg}`);
	process.exit(2);
}

function promptIds(row, n, vocab) {
	let s = 12345 + row;
	const ids = [1];
	while (ids.length < n) {
		s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
		ids.push(3 + ((s >>> 16) % (vocab - 3)));
	}
	return ids;
}

const now = () => process.hrtime.bigint();
const us = (a, b) => Number(b - a) / 1e3;
const r1 = (x) => Math.round(x * 10) / 10;

function stats(lat) {
	const s = Float64Array.from(lat).sort();
	return { p50_us: r1(percentile(s, 50)), p99_us: r1(percentile(s, 99)),
		p999_us: r1(percentile(s, 99.9)) };
}

// Prefills B rows of `prompt` ids, then decodes `gen` greedy steps; returns the
// step latencies (µs) and the wall time of the steps (s). Stops early at deadline.
async function generate(m, B, prompt, gen, deadline = Infinity) {
	const rows = Array.from({ length: B }, (_, b) => promptIds(b, prompt, m.vocab));
	let { logits, cache } = await m.prefill(rows);
	const lat = [];
	const t0 = now();
	for (let s = 0; s < gen; s++) {
		const a = now();
		const next = Array.from({ length: B }, (_, b) => argmax(logits, b, m.vocab));
		({ logits, cache } = await m.step(next, cache));
		const b = now();
		lat.push(us(a, b));
		if (b > deadline)
			break;
	}
	return { lat, wall: us(t0, now()) / 1e6 };
}

async function main() {
	const o = parse(process.argv.slice(2));
	const m = await Llama.open(o.model, { enableCpuMemArena: o.arena !== 0 });
	const base = { engine: 'onnxruntime', label: o.label };
	let version = 'unknown';
	try {
		version = require('onnxruntime-node/package.json').version;
	} catch (e) { /* an exports map may hide it */ }
	console.log(JSON.stringify({ what: 'model', ...base, layers: m.layers, kv_heads: m.kv,
		head_size: m.hs, vocab: m.vocab, threads: 1, ort: version, arena: o.arena,
		glibc_tunables: process.env.GLIBC_TUNABLES }));
	const cap = () => now() + BigInt(Math.round(o['max-s'] * 1e9));

	// (a) prefill latency, for each N of --prefill-tokens.
	for (const N of o['prefill-tokens']) {
		const ids = [promptIds(0, N, m.vocab)];
		for (let i = 0; i < 5; i++)
			await m.prefill(ids);
		const pl = [];
		const dl = cap();
		for (let i = 0; i < o['prefill-iters']; i++) {
			const a = now();
			await m.prefill(ids);
			const b = now();
			pl.push(us(a, b));
			if (b > dl)
				break;
		}
		const ps = stats(pl);
		console.log(JSON.stringify({ what: 'prefill', ...base, batch: 1, tokens: N,
			iters: pl.length, ...ps, tok_per_s: r1(N / (ps.p50_us / 1e6)) }));
	}

	// (b) per-token decode latency at batch 1.
	await generate(m, 1, o.prompt, o.gen);
	const lat = [], first = [], last = [];
	const eighth = Math.max(1, Math.floor(o.gen / 8));
	const db = cap();
	let gens = 0;
	for (; gens < o.gens && now() < db; gens++) {
		const g = await generate(m, 1, o.prompt, o.gen, db);
		lat.push(...g.lat);
		first.push(...g.lat.slice(0, eighth));
		if (g.lat.length === o.gen)
			last.push(...g.lat.slice(-eighth));
	}
	const sum = lat.reduce((x, y) => x + y, 0);
	console.log(JSON.stringify({ what: 'decode', ...base, batch: 1, prompt: o.prompt, gen: o.gen,
		gens, steps: lat.length, ...stats(lat), mean_us: r1(sum / lat.length),
		first_p50_us: stats(first).p50_us, last_p50_us: last.length ? stats(last).p50_us : null,
		tok_per_s: r1(lat.length / (sum / 1e6)) }));

	// (c) batched decode throughput.
	for (const B of o.batches) {
		await generate(m, B, o.prompt, 8);
		const g = await generate(m, B, o.prompt, o['batch-gen'], cap());
		console.log(JSON.stringify({ what: 'decode', ...base, batch: B, prompt: o.prompt,
			gen: o['batch-gen'], gens: 1, steps: g.lat.length, ...stats(g.lat),
			mean_us: r1(g.lat.reduce((x, y) => x + y, 0) / g.lat.length),
			tok_per_s: r1((B * g.lat.length) / g.wall) }));
	}
}

main().catch((e) => {
	console.error(`ort_llama_bench: ${e.message}`);
	process.exit(1);
});
