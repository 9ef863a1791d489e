#!/usr/bin/env bash
# Installs what PolyNet needs from Debian's packages, only what is missing.
# Idempotent: a machine that has everything runs no apt at all.
set -euo pipefail

pkgs=(build-essential pkg-config clang libclang-rt-dev
      libdnnl-dev libcmocka-dev liburing-dev libnuma-dev libdrm-dev
      libutf8proc-dev libcjson-dev
      python3-numpy python3-onnx nodejs npm ca-certificates gnuplot-nox)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
# nodejs/npm may come from outside Debian on some images: accept any working node.
if command -v node >/dev/null && command -v npm >/dev/null; then
	missing=("${missing[@]/nodejs}"); missing=("${missing[@]/npm}")
fi
clean=()
for p in "${missing[@]}"; do [ -n "$p" ] && clean+=("$p"); done
[ ${#clean[@]} -eq 0 ] && exit 0

echo "setup: installing ${clean[*]}" >&2
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${clean[@]}" >/dev/null
