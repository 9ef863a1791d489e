#!/usr/bin/env bash
# The driver suite in a real VM (tests/vm/run.sh): exit 0 pass, 1 fail,
# 77 only when qemu, busybox or a Debian kernel with headers is missing.
set -u
cd "$(dirname "$0")/../.."
export POLYNET_VM_BUILD=${POLYNET_VM_BUILD:-${POLYNET_BUILD:-build}/vm}
exec bash tests/vm/run.sh test
