// SPDX-License-Identifier: Apache-2.0
#include "tests/guest/vmm_launch.h"

#include <unistd.h>

#include "tests/guest/guest_harness.h"

namespace cvm::test::guest {

std::vector<std::string> qemu_microvm_argv(const QemuLaunch& launch) {
  std::vector<std::string> argv = {
      kQemuBinary,
      "-M",
      std::string("microvm,accel=") + (launch.kvm ? "kvm" : "tcg") +
          ",x-option-roms=off,pit=off,pic=off,rtc=off,acpi=off",
      "-global", "virtio-mmio.force-legacy=false",
      "-m", "64M",
      "-smp", "1",
      "-nodefaults", "-no-user-config",
      "-display", "none",
      "-monitor", "none",
      "-no-reboot",
      "-serial", "stdio",
      "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
      "-kernel", guest_elf_path(),
      "-append", launch.append};
  for (std::size_t i = 0; i < launch.disks.size(); ++i) {
    const GuestDisk& disk = launch.disks[i];
    const std::string id = "disk" + std::to_string(i);
    argv.insert(argv.end(),
                {"-drive",
                 "id=" + id + ",file=" + disk.path + ",format=raw,if=none,cache=" +
                     launch.disk_cache + (disk.readonly ? ",readonly=on" : ""),
                 "-device",
                 "virtio-blk-device,drive=" + id + (disk.id.empty() ? "" : ",serial=" + disk.id)});
  }
  if (launch.vsock_cid) {
    argv.insert(argv.end(), {"-device", "vhost-vsock-device,guest-cid=" +
                                            std::to_string(*launch.vsock_cid)});
  }
  return argv;
}

std::vector<std::string> cvmm_run_argv(const CvmmLaunch& launch) {
  std::vector<std::string> argv = {launch.binary, "run",
                                   "--kernel",    guest_elf_path(),
                                   "--memory",    "size=64M",
                                   "--serial",    "file=" + launch.serial.string(),
                                   "--cmdline",   "acpi=off " + launch.append};
  for (const GuestDisk& disk : launch.disks) {
    argv.insert(argv.end(), {"--disk", "path=" + disk.path + (disk.readonly ? ",readonly=on" : "") +
                                           (disk.id.empty() ? "" : ",id=" + disk.id)});
  }
  if (launch.vsock_socket) {
    argv.insert(argv.end(), {"--vsock", "cid=" + std::to_string(kCvmmGuestCid) +
                                            ",socket=" + launch.vsock_socket->string()});
  }
  return argv;
}

bool device_usable(const char* path) { return ::access(path, R_OK | W_OK) == 0; }

}  // namespace cvm::test::guest
