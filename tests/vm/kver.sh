#!/usr/bin/env bash
# Prints the newest kernel version that has both an image in /boot and headers
# in /lib/modules/VER/build: the kernel the VM boots and the module targets.
for img in $(ls /boot/vmlinuz-* 2>/dev/null | sort -rV); do
	v=${img#/boot/vmlinuz-}
	[ -f "/lib/modules/$v/build/Makefile" ] && { echo "$v"; exit 0; }
done
exit 1
