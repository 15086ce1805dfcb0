// SPDX-License-Identifier: Apache-2.0
// `cvmm host-check`: per kind of guest (plain KVM, TDX, SEV-SNP), whether this host can run it
// and why not. Also the check the machine runs before anything else, so that a configuration
// the host cannot run fails at once with the same reason host-check prints.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vmm/kvm/sys.h"
#include "vmm/tee_backend.h"

namespace cvm::vmm {

/// Opens `kvm_path` through `sys` and asks every backend. When /dev/kvm cannot be opened,
/// every backend is unavailable with that reason (no backend is asked).
std::vector<HostSupport> check_host_support(std::span<const std::unique_ptr<TeeBackend>> backends,
                                            kvm::Sys& sys = kvm::real_sys(),
                                            const char* kvm_path = "/dev/kvm");

/// The report: per backend one line "NAME  available" or "NAME  unavailable: REASON",
/// followed by its findings indented by four spaces.
std::string format_host_support(std::span<const HostSupport> entries);

}  // namespace cvm::vmm
