// SPDX-License-Identifier: MIT
// What the JS benchmarks share with each other and with `polyctl bench`:
// options, the deterministic token ids of each configuration, the timing
// loop and the percentile rule. Keep ids() and stats() in step with
// tools/polyctl/bench.c: the engines must see the same inputs and be
// summarised the same way.
'use strict';
const fs = require('fs');

const MAX_LEN = 128;	// the model's ClipToMaxLength
const VOCAB = 8000;	// real pieces (the table has 8002 rows)

const USAGE = `options:
  --ids FILE       jsonl with "ids" per line (default: fixed pseudo-random ids)
  --configs LIST   BxT,... (default 1x16,1x128,32x16,32x128)
  --iters N        timed runs per configuration (default: 2000 at batch 1, 300 above)
  --warmup N       untimed runs first (default 20, 3 above batch 1)
  --max-s S        stop a configuration's timed runs after S seconds (default none)`;

function parseArgs(argv, extra = {}) {
	const o = { ids: null, configs: '1x16,1x128,32x16,32x128', iters: 0, warmup: -1,
		maxS: Infinity, ...extra };
	for (let i = 0; i < argv.length; i++) {
		const a = argv[i], v = argv[i + 1];
		const need = () => {
			if (v === undefined)
				usage(`${a} needs a value`);
			i++;
			return v;
		};
		if (a === '--ids') o.ids = need();
		else if (a === '--configs') o.configs = need();
		else if (a === '--iters') o.iters = posInt(a, need());
		else if (a === '--warmup') o.warmup = posInt(a, need(), true);
		else if (a === '--max-s') o.maxS = Number(need());
		else if (a.startsWith('--') && a.slice(2) in extra) o[a.slice(2)] = need();
		else usage(`unknown argument '${a}'`);
	}
	o.configs = o.configs.split(',').map((c) => {
		const m = /^(\d+)x(\d+)$/.exec(c.trim());
		if (!m || +m[1] < 1 || +m[2] < 1 || +m[2] > MAX_LEN)
			usage(`--configs: '${c}', expected BxT with B >= 1 and 1 <= T <= ${MAX_LEN}`);
		return { batch: +m[1], tokens: +m[2] };
	});
	return o;
}

function posInt(name, v, zeroOk = false) {
	const n = Number(v);
	if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1))
		usage(`${name}: '${v}' is not a ${zeroOk ? 'non-negative' : 'positive'} integer`);
	return n;
}

function usage(msg) {
	console.error(`${process.argv[1].split('/').pop()}: ${msg}\n${USAGE}`);
	process.exit(2);
}

// Token id lines: the "ids" of every line of FILE, or one fixed pseudo-random
// line (LCG, the same numbers as polyctl bench's fallback) when FILE is null.
function loadIdLines(file) {
	if (!file) {
		let s = 12345;
		const line = [];
		for (let i = 0; i < 4096; i++) {
			s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
			line.push((s >>> 16) % VOCAB);
		}
		return [line];
	}
	const lines = fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim())
		.map((l, i) => {
			const ids = JSON.parse(l).ids;
			if (!Array.isArray(ids) || !ids.length)
				throw new Error(`${file}:${i + 1}: expected a non-empty "ids" array`);
			return ids;
		});
	if (!lines.length)
		throw new Error(`${file}: no lines with "ids"`);
	return lines;
}

// Row b of a [batch, T] configuration: line b mod #lines, repeated to exactly T.
function configIds(lines, batch, T) {
	const ids = new Int32Array(batch * T);
	for (let b = 0; b < batch; b++) {
		const line = lines[b % lines.length];
		for (let t = 0; t < T; t++)
			ids[b * T + t] = line[t % line.length];
	}
	return ids;
}

// Nearest-rank percentile of sorted xs: the smallest x with >= p% of xs <= x.
function percentile(sorted, p) {
	const k = Math.max(1, Math.ceil((p / 100) * sorted.length));
	return sorted[k - 1];
}

// Runs fn (async, one inference) warmup times, then up to iters timed times.
async function measure(fn, iters, warmup, maxS) {
	for (let i = 0; i < warmup; i++)
		await fn();
	const lat = new Float64Array(iters);
	const t0 = process.hrtime.bigint();
	let n = 0;
	for (; n < iters; n++) {
		const a = process.hrtime.bigint();
		await fn();
		const b = process.hrtime.bigint();
		lat[n] = Number(b - a) / 1e3;
		if (Number(b - t0) / 1e9 > maxS) {
			n++;
			break;
		}
	}
	const wall = Number(process.hrtime.bigint() - t0) / 1e9;
	return { lat: lat.slice(0, n).sort(), wall };
}

function report(engine, cfg, m) {
	const n = m.lat.length;
	const r = {
		engine, batch: cfg.batch, tokens: cfg.tokens, iters: n,
		p50_us: round(percentile(m.lat, 50)),
		p99_us: round(percentile(m.lat, 99)),
		p999_us: round(percentile(m.lat, 99.9)),
		seq_per_s: round((cfg.batch * n) / m.wall),
	};
	console.log(JSON.stringify(r));
}

const round = (x) => Math.round(x * 10) / 10;

function defaultIters(o, batch) {
	return o.iters || (batch === 1 ? 2000 : 300);
}

function defaultWarmup(o, batch) {
	return o.warmup >= 0 ? o.warmup : (batch === 1 ? 20 : 3);
}

module.exports = { MAX_LEN, parseArgs, loadIdLines, configIds, percentile, measure, report,
	defaultIters, defaultWarmup };
