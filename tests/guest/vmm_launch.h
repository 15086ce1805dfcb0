// SPDX-License-Identifier: Apache-2.0
// The command lines that boot the test guest under QEMU's microvm and under `cvmm run`, for
// the benchmark driver (bench/guest_io_bench.cc) and the benchmark tests. The same settings
// as qemu_guest_test.cc and cvmm_guest_test.cc (see README.md for why each QEMU flag).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace cvm::test::guest {

inline constexpr const char* kQemuBinary = "/usr/bin/qemu-system-x86_64";

/// isa-debug-exit turns the guest's "passed" write of 0 into QEMU exit status (0 << 1) | 1.
inline constexpr int kQemuPassStatus = 1;

/// A raw disk image for the guest: cvmm `--disk path=..[,readonly=on][,id=..]`, QEMU
/// `virtio-blk-device` (`serial=` is QEMU's name for the id), in slot order.
struct GuestDisk {
  std::string path;
  bool readonly = false;
  std::string id;  // the virtio-blk GET_ID serial; empty: none
};

/// `path` as the only read-write disk; no disk when `path` is empty.
inline std::vector<GuestDisk> disks_of(const std::string& path) {
  return path.empty() ? std::vector<GuestDisk>{} : std::vector<GuestDisk>{GuestDisk{.path = path, .readonly = false, .id = {}}};
}

struct QemuLaunch {
  bool kvm = false;             // accel=kvm, else accel=tcg
  std::string append;           // the guest command line
  std::vector<GuestDisk> disks;  // virtio-blk-device each
  std::string disk_cache = "writeback";  // QEMU -drive cache= (writeback: host page cache)
  std::optional<uint32_t> vsock_cid;     // vhost-vsock-device (needs /dev/vhost-vsock)
};
std::vector<std::string> qemu_microvm_argv(const QemuLaunch& launch);

struct CvmmLaunch {
  std::string binary;
  std::string append;             // "acpi=off " is prepended (virtio_mmio.device= arguments)
  std::filesystem::path serial;   // the guest console goes to this file
  std::vector<GuestDisk> disks;   // --disk each
  std::optional<std::filesystem::path> vsock_socket;  // --vsock cid=3,socket=...
};
inline constexpr uint32_t kCvmmGuestCid = 3;
std::vector<std::string> cvmm_run_argv(const CvmmLaunch& launch);

/// True when `path` exists and can be opened read-write (/dev/kvm, /dev/vhost-vsock).
bool device_usable(const char* path);

}  // namespace cvm::test::guest
