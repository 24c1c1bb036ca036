#!/bin/sh
# What the deployment tests (crates/agent/tests/deploy.rs) need on the host, idempotently:
# the deploy executor runs against loop devices with the host's mke2fs (e2fsprogs), mkfs.fat
# (dosfstools), mkswap (util-linux), lvm (lvm2), extlinux + syslinux's MBR code (extlinux,
# syslinux-common, syslinux-efi), losetup (mount), socat, and mksquashfs, xz and
# bzip2 to make images in every format; QEMU (scripts/peers/qemu.sh) boots the result.
# Prints the environment to use:  eval "$(scripts/peers/deploy.sh)"
set -eu
missing=""
command -v mke2fs >/dev/null 2>&1 || missing="$missing e2fsprogs"
command -v mkfs.fat >/dev/null 2>&1 || missing="$missing dosfstools"
command -v extlinux >/dev/null 2>&1 || missing="$missing extlinux"
[ -e /usr/lib/syslinux/mbr/mbr.bin ] || missing="$missing syslinux-common"
[ -e /usr/lib/SYSLINUX.EFI/efi64/syslinux.efi ] || missing="$missing syslinux-efi"
command -v lvm >/dev/null 2>&1 || missing="$missing lvm2"
command -v losetup >/dev/null 2>&1 || missing="$missing mount"
command -v mkswap >/dev/null 2>&1 || missing="$missing util-linux"
# The image formats MAAS accepts, made by the real tools (squashfs as image mirrors publish it).
command -v mksquashfs >/dev/null 2>&1 || missing="$missing squashfs-tools"
command -v xz >/dev/null 2>&1 || missing="$missing xz-utils"
command -v bzip2 >/dev/null 2>&1 || missing="$missing bzip2"
# socat: QEMU's guestfwd runs it per connection to reach the test's servers on 127.0.0.1.
command -v socat >/dev/null 2>&1 || missing="$missing socat"
if [ -n "$missing" ]; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    export DEBIAN_FRONTEND=noninteractive
    # shellcheck disable=SC2086
    if ! $SUDO apt-get install -y -q --no-install-recommends $missing >&2; then
        $SUDO apt-get update -q >&2
        # shellcheck disable=SC2086
        $SUDO apt-get install -y -q --no-install-recommends $missing >&2
    fi
fi
echo "export INGOT_SYSLINUX_DIR=/usr/lib/syslinux"
