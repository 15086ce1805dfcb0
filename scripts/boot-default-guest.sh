#!/usr/bin/env bash
# Boots the project's default guest under cvmm: installs dependencies, builds cvmm and the
# guest kernel + initramfs (cached per machine), then runs the guest with its console on this
# terminal. The guest prints its init marker and powers off; cvmm then exits 0.
# Extra arguments are passed to `cvmm run` (e.g. --cpus boot=1).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup-host.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
ninja -C build cvmm

# guest/build.sh prints the artifact paths as shell assignments (CVMM_GUEST_BZIMAGE=...).
eval "$(guest/build.sh | grep -E '^CVMM_GUEST_[A-Z0-9_]+=')"

initramfs=$CVMM_GUEST_INITRAMFS_BUSYBOX
if [[ -d /sys/module/kvm_pvm ]]; then
  # On the nested kvm_pvm host guest user space does not run (guest/README.md): boot the
  # initramfs whose /init is `ud2`; the kernel reaching init is then the end of the boot.
  echo "boot-default-guest: kvm_pvm host, guest user space cannot run here: using the ud2 init" >&2
  initramfs=$CVMM_GUEST_INITRAMFS_UD2
fi

exec build/tools/cvmm/cvmm run \
  --kernel "$CVMM_GUEST_BZIMAGE" \
  --initramfs "$initramfs" \
  --cmdline "$(cat guest/cmdline.txt)" \
  --cpus boot=2 \
  --memory size=256M \
  --serial tty \
  "$@"
