#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the cvmm guest from Debian packages only:
#   - a micro-VM Linux kernel from linux-source-6.1 (tinyconfig + guest/kernel.config + the
#     host-only patches in guest/patches/), as bzImage and vmlinux (the ELF with the PVH note);
#   - initramfs-busybox.cpio.gz: busybox-static + /init (guest/init/init.sh) that prints the
#     init marker, writes the boot-timing port and powers off (hosts where user space runs);
#   - initramfs-ud2.cpio.gz: /init is a static binary that is just `ud2` (hosts where guest
#     user space cannot run; the kernel then panics with "Attempted to kill init!").
#
# Artifacts are cached outside the source tree in
#   ${CVMM_GUEST_CACHE:-/var/cache/cvmm/guest}/<hash>/
# where <hash> covers the config fragment, the patches, the init sources, this script and
# the kernel source package version. A complete cache entry is reused without rebuilding.
# `<cache root>/current` points at the newest entry; `<entry>/paths.env` lists the artifacts
# as shell assignments (CVMM_GUEST_BZIMAGE=..., ...), and is printed on success.
#
# Usage: guest/build.sh [--print-dir]   (--print-dir: print only the entry directory)
# Exit status: 0 artifacts ready, 1 build or verification failed, 2 usage, 3 an input package
# is not installed (run scripts/setup-host.sh).
# Environment: CVMM_GUEST_CACHE (cache root), CVMM_KERNEL_SOURCE (kernel tarball),
#              CVMM_GUEST_JOBS (make -j, default nproc), CVMM_GUEST_KEEP_TREE=1 (keep the
#              patched kernel tree <cache root>/kernel-tree after a successful build, so that
#              an input change rebuilds incrementally).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
kernel_tarball=${CVMM_KERNEL_SOURCE:-/usr/src/linux-source-6.1.tar.xz}
kernel_package=linux-source-6.1
cache_root=${CVMM_GUEST_CACHE:-/var/cache/cvmm/guest}
jobs=${CVMM_GUEST_JOBS:-$(nproc)}
busybox_binary=/bin/busybox
# The init marker printed by the busybox /init; the boot test and the bench look for it.
init_marker=CVMM-GUEST-INIT-OK
# Default boot-timing signal of the busybox /init: byte 123 ("init started", the value
# Firecracker uses for "guest boot complete") to cvmm's boot-timing port 0x440
# (devices/debug/boot_timing_port.h). Overridable at boot with cvmm_boot_timing=PORT:VALUE.
boot_timing_default=0x440:123

print_dir_only=0
if [[ ${1:-} == --print-dir ]]; then
  print_dir_only=1
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--print-dir]" >&2
  exit 2
fi

log() { if ((print_dir_only == 0)); then echo "guest: $*"; else echo "guest: $*" >&2; fi; }
die() {
  echo "guest: error: $*" >&2
  exit 1
}
# Exit status 3: a build input is not installed (callers such as the boot test skip on it).
die_missing() {
  echo "guest: error: $*" >&2
  exit 3
}

require_inputs() {
  [[ -r $kernel_tarball ]] ||
    die_missing "kernel source $kernel_tarball not found (install $kernel_package: scripts/setup-host.sh)"
  [[ -x $busybox_binary ]] && file_is_static "$busybox_binary" ||
    die_missing "$busybox_binary is missing or not static (install busybox-static: scripts/setup-host.sh)"
  local tool
  for tool in make gcc flex bison bc gzip patch sha256sum readelf cpio; do
    command -v "$tool" >/dev/null || die_missing "$tool not found (run scripts/setup-host.sh)"
  done
}

file_is_static() {
  # A static executable has no PT_INTERP program header.
  ! readelf -l "$1" 2>/dev/null | grep -q 'Requesting program interpreter'
}

kernel_source_version() {
  local version
  if version=$(dpkg-query -W -f='${Version}' "$kernel_package" 2>/dev/null) && [[ -n $version ]]; then
    echo "$kernel_package=$version"
  else
    # Not installed through dpkg (CVMM_KERNEL_SOURCE): key on the tarball's content.
    echo "tarball-sha256=$(sha256sum "$kernel_tarball" | cut -d' ' -f1)"
  fi
}

# The cache key: every input that changes the artifacts.
input_hash() {
  {
    kernel_source_version
    local f
    for f in "$here/kernel.config" "$here"/patches/*.patch "$here"/init/* "$here/build.sh"; do
      echo "== ${f#"$here"/}"
      cat "$f"
    done
  } | sha256sum | cut -c1-16
}

artifacts=(bzImage vmlinux initramfs-busybox.cpio.gz initramfs-ud2.cpio.gz)

entry_complete() {
  local name
  for name in "${artifacts[@]}" paths.env; do
    [[ -s $1/$name ]] || return 1
  done
}

# --- kernel ------------------------------------------------------------------------------------

apply_patches() {
  local tree=$1 p
  for p in "$here"/patches/*.patch; do
    # --fuzz=0 and --forward: the hunk must match this source exactly, once; a patch that
    # is already applied or does not match fails the build instead of being skipped.
    patch -d "$tree" -p1 --forward --fuzz=0 --batch --no-backup-if-mismatch --quiet <"$p" ||
      die "patch ${p##*/} does not apply to $(kernel_source_version); update guest/patches/"
    log "applied ${p##*/}"
  done
}

# Prints the fragment's requested settings as "CONFIG_X=value" or "CONFIG_X is not set".
requested_options() {
  sed -n -E -e 's/^(CONFIG_[A-Za-z0-9_]+=.*)$/\1/p' \
    -e 's/^# (CONFIG_[A-Za-z0-9_]+) is not set$/\1 is not set/p' "$here/kernel.config"
}

# Fails with the list of requested options that olddefconfig dropped or changed.
check_config_survived() {
  local config=$1 line name dropped=()
  while IFS= read -r line; do
    if [[ $line == *" is not set" ]]; then
      name=${line%% is not set}
      # Off means: not "=y/m" (an invisible symbol is absent from .config, which is also off).
      if grep -q -E "^${name}=" "$config"; then
        dropped+=("$name: requested off, got $(grep -E "^${name}=" "$config")")
      fi
    else
      name=${line%%=*}
      if ! grep -q -x -F "$line" "$config"; then
        dropped+=("$line: got $(grep -E "^(# )?${name}[= ]" "$config" || echo 'absent')")
      fi
    fi
  done < <(requested_options)
  if ((${#dropped[@]} > 0)); then
    printf 'guest: error: option not in the final .config: %s\n' "${dropped[@]}" >&2
    die "${#dropped[@]} requested kernel option(s) dropped by olddefconfig (missing dependency?)"
  fi
  log "all $(requested_options | wc -l) requested kernel options survived olddefconfig"
}

# The patched source identity of a kernel tree: source version + patch contents.
tree_identity() {
  {
    kernel_source_version
    cat "$here"/patches/*.patch
  } | sha256sum | cut -c1-16
}

# Extracts and patches the kernel source into $1 unless $1 already holds this exact patched
# source (then make rebuilds incrementally: a changed option recompiles only what uses it).
prepare_tree() {
  local tree=$1 identity
  identity=$(tree_identity)
  if [[ -f $tree/.cvmm-tree && $(<"$tree/.cvmm-tree") == "$identity" ]]; then
    log "reusing the kernel tree $tree"
    return
  fi
  rm -rf "$tree"
  log "extracting $kernel_tarball"
  mkdir -p "$tree"
  tar -xf "$kernel_tarball" -C "$tree" --strip-components=1
  apply_patches "$tree"
  echo "$identity" >"$tree/.cvmm-tree"
}

build_kernel() {
  local tree=$1
  prepare_tree "$tree"
  log "configuring (tinyconfig + guest/kernel.config), log in $tree/config.log"
  {
    make -C "$tree" ARCH=x86_64 tinyconfig &&
      (cd "$tree" && ARCH=x86_64 scripts/kconfig/merge_config.sh -m -O . .config \
        "$here/kernel.config") &&
      make -C "$tree" ARCH=x86_64 olddefconfig
  } >"$tree/config.log" 2>&1 || die "kernel configuration failed, see $tree/config.log"
  check_config_survived "$tree/.config"
  log "compiling the kernel with -j$jobs (several minutes)"
  # Fixed build identity (user, host, and the source tarball's time, which comes from the
  # package) so that identical inputs give identical images.
  make -C "$tree" -s ARCH=x86_64 -j"$jobs" KBUILD_BUILD_USER=cvmm KBUILD_BUILD_HOST=cvmm \
    KBUILD_BUILD_TIMESTAMP="$(date -u -r "$kernel_tarball" '+%Y-%m-%d %H:%M:%S UTC')" bzImage
  make -C "$tree" -s ARCH=x86_64 usr/gen_init_cpio
}

# --- initramfs ---------------------------------------------------------------------------------

build_init_binaries() {
  local out=$1
  local flags=(-O2 -static -nostdlib -nostartfiles -ffreestanding -fno-stack-protector
    -fno-asynchronous-unwind-tables -fno-pie -no-pie -Wl,--build-id=none -s)
  gcc "${flags[@]}" -o "$out/ud2-init" "$here/init/ud2_init.S"
  gcc -std=c11 -Wall -Wextra -Werror "${flags[@]}" -o "$out/cvmm-boot-mark" \
    "$here/init/boot_mark.c"
  sed -e "s/@INIT_MARKER@/$init_marker/" -e "s/@BOOT_TIMING_DEFAULT@/$boot_timing_default/" \
    "$here/init/init.sh" >"$out/init.sh"
}

# gen_init_cpio list entries shared by both variants: /dev/console must exist before init
# runs (the kernel opens it for init's stdio; devtmpfs is not auto-mounted on an initramfs).
common_cpio_entries() {
  cat <<EOF
dir /dev 0755 0 0
nod /dev/console 0600 0 0 c 5 1
dir /proc 0755 0 0
dir /sys 0755 0 0
dir /tmp 1777 0 0
EOF
}

make_cpio() {
  local gen=$1 list=$2 out=$3
  # -t 0: every mtime is 0, so identical inputs give identical archives; no root needed
  # because owners and device nodes come from the list, not from the file system.
  "$gen" -t 0 "$list" | gzip -n -9 >"$out"
}

build_initramfs() {
  local gen=$1 stage=$2 entry=$3
  build_init_binaries "$stage"
  {
    common_cpio_entries
    echo "dir /bin 0755 0 0"
    echo "file /bin/busybox $busybox_binary 0755 0 0"
    echo "slink /bin/sh busybox 0777 0 0"
    echo "file /bin/cvmm-boot-mark $stage/cvmm-boot-mark 0755 0 0"
    echo "file /init $stage/init.sh 0755 0 0"
  } >"$stage/busybox.list"
  make_cpio "$gen" "$stage/busybox.list" "$entry/initramfs-busybox.cpio.gz"
  {
    common_cpio_entries
    echo "file /init $stage/ud2-init 0755 0 0"
  } >"$stage/ud2.list"
  make_cpio "$gen" "$stage/ud2.list" "$entry/initramfs-ud2.cpio.gz"
}

# --- static verification -----------------------------------------------------------------------

verify_artifacts() {
  local entry=$1
  # bzImage: boot sector signature 0x55aa at 0x1fe, "HdrS" at 0x202 (Documentation/x86/boot.rst).
  [[ $(od -An -tx1 -j 0x1fe -N 2 "$entry/bzImage" | tr -d ' ') == 55aa ]] ||
    die "bzImage: no 0x55aa boot signature"
  [[ $(dd if="$entry/bzImage" bs=1 skip=$((0x202)) count=4 status=none) == HdrS ]] ||
    die "bzImage: no HdrS setup header"
  # vmlinux: the PVH entry note, Xen ELF note type 18 (XEN_ELFNOTE_PHYS32_ENTRY).
  readelf -n "$entry/vmlinux" | grep -A1 -E '^ +Xen ' | grep -q -E '0x00000012|PHYS32_ENTRY' ||
    die "vmlinux: no PVH (XEN_ELFNOTE_PHYS32_ENTRY) note"
  verify_cpio "$entry/initramfs-busybox.cpio.gz" init bin/busybox bin/sh bin/cvmm-boot-mark \
    dev/console
  verify_cpio "$entry/initramfs-ud2.cpio.gz" init dev/console
}

verify_cpio() {
  local archive=$1 name listing
  shift
  listing=$(gzip -dc "$archive" | cpio -it --quiet) || die "$archive: not a gzip cpio archive"
  for name in "$@"; do
    grep -q -x -F "$name" <<<"$listing" || die "$archive: $name missing"
  done
}

# Prints the artifact paths of cache entry $1 as shell assignments.
paths_env() {
  local entry=$1
  cat <<EOF
# cvmm guest artifacts (guest/build.sh); source this file from a shell.
CVMM_GUEST_DIR=$entry
CVMM_GUEST_BZIMAGE=$entry/bzImage
CVMM_GUEST_VMLINUX=$entry/vmlinux
CVMM_GUEST_INITRAMFS_BUSYBOX=$entry/initramfs-busybox.cpio.gz
CVMM_GUEST_INITRAMFS_UD2=$entry/initramfs-ud2.cpio.gz
CVMM_GUEST_INIT_MARKER=$init_marker
CVMM_GUEST_BOOT_TIMING_DEFAULT=$boot_timing_default
CVMM_GUEST_KERNEL_SOURCE=$(kernel_source_version)
EOF
}

# --- main --------------------------------------------------------------------------------------

build_entry() {
  local entry=$1 work="$1.work" tree="$cache_root/kernel-tree"
  local started=$SECONDS
  rm -rf "$work"
  mkdir -p "$work/stage" "$work/out"
  build_kernel "$tree"
  cp "$tree/arch/x86/boot/bzImage" "$work/out/bzImage"
  cp "$tree/vmlinux" "$work/out/vmlinux"
  cp "$tree/.config" "$work/out/kernel.config.full"
  build_initramfs "$tree/usr/gen_init_cpio" "$work/stage" "$work/out"
  verify_artifacts "$work/out"
  paths_env "$entry" >"$work/out/paths.env"
  echo "$((SECONDS - started))" >"$work/out/build-seconds"
  rm -rf "$entry"
  mv "$work/out" "$entry"
  rm -rf "$work"
  # The kernel tree (~1.5 GB) is only needed to rebuild after an input change.
  if [[ ${CVMM_GUEST_KEEP_TREE:-0} != 1 ]]; then
    rm -rf "$tree"
  fi
  log "built in $((SECONDS - started)) s"
}

main() {
  require_inputs
  mkdir -p "$cache_root"
  local hash entry
  hash=$(input_hash)
  entry="$cache_root/$hash"
  # One builder at a time per cache root (ctest and scripts/test.sh may both call us).
  exec 9>"$cache_root/.lock"
  flock 9
  if entry_complete "$entry"; then
    log "cached: $entry"
  else
    log "building $hash into $entry"
    build_entry "$entry"
  fi
  verify_artifacts "$entry"
  ln -sfn "$hash" "$cache_root/current"
  if ((print_dir_only == 1)); then
    echo "$entry"
  else
    cat "$entry/paths.env"
  fi
}

main
