#!/usr/bin/env bash
# Installs what the driver build and the VM tests need, only what is missing:
# Debian's kernel image and its headers (same version), qemu, a static
# busybox, cpio, sparse and kmod. Called by scripts/setup.sh.
set -euo pipefail

pkgs=(linux-image-amd64 linux-headers-amd64 qemu-system-x86 busybox-static cpio sparse kmod)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "setup_vm: installing ${missing[*]}" >&2
SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# the kernel image is only booted by qemu, never installed as the host's boot kernel
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
