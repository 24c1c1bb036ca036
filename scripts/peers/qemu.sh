#!/bin/sh
# Install QEMU (x86_64 system emulator) for the qemu power driver's tests, idempotently.
# Prints the environment to use:  eval "$(scripts/peers/qemu.sh)"
set -eu

QEMU=/usr/bin/qemu-system-x86_64

# ipxe-qemu: the NIC option ROMs that make `-boot n` a real PXE/iPXE boot; ovmf: UEFI firmware
# for the UEFI network-boot test.
if [ ! -x "$QEMU" ] || [ ! -e /usr/lib/ipxe/qemu/efi-virtio.rom ] || [ ! -e /usr/share/OVMF/OVMF_CODE.fd ]; then
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
    # Refresh the package lists only when the package is not installable as they are.
    if ! apt-cache show qemu-system-x86 >/dev/null 2>&1; then
        $SUDO apt-get update -q >&2
    fi
    if ! $SUDO apt-get install -y -q --no-install-recommends qemu-system-x86 ipxe-qemu ovmf >&2; then
        $SUDO apt-get update -q >&2
        $SUDO apt-get install -y -q --no-install-recommends qemu-system-x86 ipxe-qemu ovmf >&2
    fi
fi

"$QEMU" --version | head -n 1 >&2
echo "export INGOT_QEMU=$QEMU"
