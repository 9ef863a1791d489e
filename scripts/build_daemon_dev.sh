#!/usr/bin/env bash
# Builds polynetd (rel and asan) into $B until the top-level Makefile does:
#   scripts/build_daemon_dev.sh [B]      (default build/rings)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build/rings}
make -s -j2 B="$B" "$B/rel/libpolynet.a" "$B/asan/libpolynet.a" "$B/rel/polyctl"
WARN="-Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wno-unused-parameter"
FLAGS="-I. -Ilib -D_GNU_SOURCE -std=c11 $WARN -g"
LIBS="-ldnnl -lgomp -lcjson -lutf8proc -luring -lnuma -lm -lpthread"
mkdir -p "$B/rel" "$B/asan"
cc $FLAGS -O3 -march=native -fno-math-errno -o "$B/rel/polynetd" daemon/*.c \
	"$B/rel/libpolynet.a" $LIBS
if [ "${ASAN:-1}" = 1 ]; then
	cc $FLAGS -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
		-fno-sanitize-recover=undefined -o "$B/asan/polynetd" daemon/*.c \
		"$B/asan/libpolynet.a" $LIBS
fi
