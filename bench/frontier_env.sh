# shellcheck shell=bash
# Sourced by bench/frontier.sh and real_components.sh:
# the build they read, a private copy of polyctl (a rebuild during a run does
# not change the binary measured), the core benchmarks are pinned to, and
# the compile arguments the structural variants share. Set NAME and OUT first.
cd "$(dirname "$0")/.." || exit 1
B=${B:-build}
FX=build/npm/node_modules/sentiment/test/fixtures
EXACT=$B/use.pnb
PY=/usr/bin/python3
die() { echo "bench/$NAME: $*" >&2; exit 1; }

[ -x "$B/rel/polyctl" ] || die "$B/rel/polyctl missing: make B=$B build"
[ -f "$EXACT" ] || die "$EXACT missing: make B=$B model"
[ -f "$FX/amazon.json" ] && [ -f "$FX/imdb.json" ] ||
	die "$FX missing: bash scripts/fetch_npm.sh build/npm"
mkdir -p "$OUT"
cp "$B/rel/polyctl" "$OUT/polyctl"
P=$OUT/polyctl
PIN=()
command -v taskset >/dev/null && [ "$(nproc --all)" -gt 1 ] && PIN=(taskset -c 1)
# Every calibration token (amazon has ~14.4k): the ridge refits fit up to 1,281 columns.
R="--calib-rows 20000"
M1="--macro 1 --macro-len 1 --macro-first 1 --macro-seed ffn"
