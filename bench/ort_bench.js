// SPDX-License-Identifier: MIT
// ONNX Runtime (onnxruntime-node, CPU EP) latency of the exported USE lite.
//   node bench/ort_bench.js --model build/use.onnx [--ids FILE] [--configs 1x16,...]
//        [--iters N] [--warmup N] [--max-s S] [--engine NAME]
// --engine: the "engine" field of the JSON lines (default onnxruntime;
// bench/run.sh passes onnxruntime-int8 for build/use_int8.onnx).
// One thread (intra = inter = 1) and full graph optimisation: the one-core
// peer of `polyctl bench --threads 1`. Prints one JSON line per configuration.
// Inputs are built once; a timed run is one InferenceSession.run(), so it
// includes the binding's per-call cost, as an application would see it.
'use strict';
const ort = require('onnxruntime-node');
const c = require('./bench_common');

async function main() {
	const o = c.parseArgs(process.argv.slice(2), { model: null, engine: 'onnxruntime' });
	if (!o.model) {
		console.error('ort_bench.js: --model FILE.onnx is required');
		process.exit(2);
	}
	const sess = await ort.InferenceSession.create(o.model, {
		executionProviders: ['cpu'],
		intraOpNumThreads: 1,
		interOpNumThreads: 1,
		graphOptimizationLevel: 'all',
		executionMode: 'sequential',
	});
	const lines = c.loadIdLines(o.ids);
	for (const cfg of o.configs) {
		const n = cfg.batch * cfg.tokens;
		const ids = new ort.Tensor('int64', BigInt64Array.from(
			c.configIds(lines, cfg.batch, cfg.tokens), (x) => BigInt(x)), [cfg.batch, cfg.tokens]);
		// All rows full length, as in the other engines' runs.
		const mask = new ort.Tensor('float32', new Float32Array(n).fill(1), [cfg.batch, cfg.tokens]);
		const feeds = { ids, mask };
		const m = await c.measure(() => sess.run(feeds), c.defaultIters(o, cfg.batch),
			c.defaultWarmup(o, cfg.batch), o.maxS);
		c.report(o.engine, cfg, m);
	}
}

main().catch((e) => {
	console.error(`ort_bench: ${e.message}`);
	process.exit(1);
});
