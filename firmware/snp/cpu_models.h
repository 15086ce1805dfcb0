// SPDX-License-Identifier: Apache-2.0
// vCPU models whose CPUID signature (CPUID Fn0000_0001_EAX) goes into RDX of every SEV-ES /
// SNP VMSA, and so into the launch measurement. Included by firmware/snp/ and tools/measure.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace cvm::firmware::snp {

/// The CPUID Fn0000_0001_EAX signature for a family/model/stepping (AMD CPUID Specification
/// #25481, "Family, Model, Stepping Identifiers"): families above 0xF are encoded as
/// base family 0xF plus extended family (family - 0xF) in bits 27:20; model bits 7:4 go to
/// the extended model field (bits 19:16).
constexpr uint32_t cpu_signature(uint32_t family, uint32_t model, uint32_t stepping) noexcept {
  const uint32_t base_family = family > 0xf ? 0xf : family;
  const uint32_t extended_family = family > 0xf ? (family - 0xf) & 0xff : 0;
  return (extended_family << 20) | (((model >> 4) & 0xf) << 16) | (base_family << 8) |
         ((model & 0xf) << 4) | (stepping & 0xf);
}

struct CpuModel {
  std::string_view name;
  uint32_t family;
  uint32_t model;
  uint32_t stepping;
  constexpr uint32_t signature() const noexcept { return cpu_signature(family, model, stepping); }
};

/// Every model cvmm-measure accepts, in QEMU's spelling (QEMU target/i386/cpu.c
/// builtin_x86_defs). A QEMU version suffix (-vN) never changes family/model/stepping.
std::span<const CpuModel> known_cpu_models() noexcept;

/// The model named `name` (case-sensitive, as QEMU's -cpu), or nullopt.
std::optional<CpuModel> find_cpu_model(std::string_view name) noexcept;

/// "EPYC, EPYC-v1, ..." for error messages.
std::string known_cpu_model_names();

}  // namespace cvm::firmware::snp
