#!/usr/bin/env bash
# Installs what PolyNet needs from Debian's packages, only what is missing.
# Idempotent: a machine that has everything runs no apt at all.
set -euo pipefail

pkgs=(build-essential pkg-config clang libclang-rt-dev
      libdnnl-dev libcmocka-dev liburing-dev libnuma-dev libdrm-dev
      libutf8proc-dev libcjson-dev libmicrohttpd-dev curl
      python3-numpy python3-onnx ca-certificates gnuplot-nox)
# node and npm fetch the real model; any working node will do.
command -v node >/dev/null && command -v npm >/dev/null || pkgs+=(nodejs npm)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "setup: installing ${missing[*]}" >&2
	SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
	export DEBIAN_FRONTEND=noninteractive
	$SUDO apt-get update -qq
	$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The driver's toolchain: Debian's kernel, its headers, qemu, busybox.
bash "$(dirname "$0")/setup_vm.sh"
