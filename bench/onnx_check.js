// SPDX-License-Identifier: MIT
// Checks an exported ONNX model of USE lite against reference embeddings.
//   node bench/onnx_check.js MODEL.onnx REF.jsonl [N] [TOL]
//   node bench/onnx_check.js --cosine MEAN [--min-cosine ROW] MODEL.onnx REF.jsonl [N] [TOL]
// REF.jsonl: one {"text","ids","embedding"} per line (first N used, default 20).
// Runs the rows one by one (no padding) and all together as one padded batch
// (exercising the key mask and the masked pooling). Exit 0 when every
// |ort - ref| < TOL (default 1e-4), 1 otherwise, printing the worst row.
// --cosine: the check for a lossy (int8) model, which no max-abs tolerance
// near 1e-4 fits: per row cosine(ort, ref); exit 1 when the mean is below
// MEAN or (with --min-cosine) any row is below ROW. Max |diff| is still
// printed, and checked only when TOL is given. Prints per pass:
//   <pass>: N rows, max |ort - ref| = X (line L), tolerance T
//   <pass>: N rows, cosine mean M min m (line L), minimum MEAN [row ROW]
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

const MAX_LEN = 128;	// the graph's ClipToMaxLength

async function main() {
	const argv = process.argv.slice(2);
	let cosMean = null, cosRow = null;
	const pos = [];
	for (let i = 0; i < argv.length; i++) {
		if (argv[i] === '--cosine') cosMean = Number(argv[++i]);
		else if (argv[i] === '--min-cosine') cosRow = Number(argv[++i]);
		else pos.push(argv[i]);
	}
	const [model, refPath, nArg, tolArg] = pos;
	if (!model || !refPath || Number.isNaN(cosMean) || Number.isNaN(cosRow) ||
	    (cosRow !== null && cosMean === null)) {
		console.error('usage: onnx_check.js [--cosine MEAN [--min-cosine ROW]] ' +
			'MODEL.onnx REF.jsonl [N] [TOL]');
		process.exit(2);
	}
	// In cosine mode max |diff| is only reported unless TOL is given.
	const n = Number(nArg || 20);
	const tol = tolArg ? Number(tolArg) : cosMean === null ? 1e-4 : Infinity;
	const rows = fs.readFileSync(refPath, 'utf8').split('\n').filter((l) => l.trim())
		.slice(0, n).map((l, i) => {
			const r = JSON.parse(l);
			if (!Array.isArray(r.ids) || !r.ids.length || !Array.isArray(r.embedding))
				throw new Error(`${refPath}:${i + 1}: expected non-empty "ids" and "embedding"`);
			return { ids: r.ids.slice(0, MAX_LEN), emb: r.embedding, line: i + 1 };
		});
	const opt = { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
	const sess = await ort.InferenceSession.create(model, opt);

	const run = async (batch) => {
		const T = Math.max(...batch.map((r) => r.ids.length));
		const ids = new BigInt64Array(batch.length * T);
		const mask = new Float32Array(batch.length * T);
		batch.forEach((r, b) => r.ids.forEach((id, t) => {
			ids[b * T + t] = BigInt(id);
			mask[b * T + t] = 1;
		}));
		const out = await sess.run({
			ids: new ort.Tensor('int64', ids, [batch.length, T]),
			mask: new ort.Tensor('float32', mask, [batch.length, T]),
		});
		return out.embedding.data;
	};
	const compare = (what, batch, data) => {
		let worst = { d: 0, line: 0 };
		batch.forEach((r, b) => {
			if (r.emb.length !== 512)
				throw new Error(`${refPath}:${r.line}: embedding has ${r.emb.length} values, expected 512`);
			for (let j = 0; j < 512; j++) {
				const d = Math.abs(data[b * 512 + j] - r.emb[j]);
				if (!(d <= worst.d))	// NaN counts as worst
					worst = { d, line: r.line };
			}
		});
		console.log(`${what}: ${batch.length} rows, max |ort - ref| = ${worst.d.toExponential(2)}` +
			` (line ${worst.line}), tolerance ${tol}`);
		if (cosMean === null)
			return worst.d < tol;
		let sum = 0, low = { c: Infinity, line: 0 };
		batch.forEach((r, b) => {
			let dot = 0, na = 0, nb = 0;
			for (let j = 0; j < 512; j++) {
				const a = data[b * 512 + j], e = r.emb[j];
				dot += a * e;
				na += a * a;
				nb += e * e;
			}
			const c = dot / Math.sqrt(na * nb);
			sum += c;
			if (!(c >= low.c))	// NaN counts as lowest
				low = { c, line: r.line };
		});
		const mean = sum / batch.length;
		console.log(`${what}: ${batch.length} rows, cosine mean ${mean.toFixed(6)} min ` +
			`${low.c.toFixed(6)} (line ${low.line}), minimum ${cosMean}` +
			(cosRow === null ? '' : ` row ${cosRow}`));
		return worst.d < tol && mean >= cosMean && (cosRow === null || low.c >= cosRow);
	};

	let ok = true;
	let single = [];
	for (const r of rows)
		single = single.concat(Array.from(await run([r])));
	ok = compare('one by one', rows, single) && ok;
	ok = compare('padded batch', rows, await run(rows)) && ok;
	process.exit(ok ? 0 : 1);
}

main().catch((e) => {
	console.error(`onnx_check: ${e.message}`);
	process.exit(1);
});
