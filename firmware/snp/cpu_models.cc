// SPDX-License-Identifier: Apache-2.0
#include "firmware/snp/cpu_models.h"

#include <array>

namespace cvm::firmware::snp {
namespace {

// Family/model/stepping from QEMU target/i386/cpu.c builtin_x86_defs (checked against
// qemu/qemu 0048035a: EPYC 23/1/2 with versions 1-4, EPYC-Rome 23/49/0 with 1-4,
// EPYC-Milan 25/1/1 with 1-2, EPYC-Genoa 25/17/0 with 1) and the later additions
// (EPYC-Rome-v5, EPYC-Milan-v3, EPYC-Genoa-v2, EPYC-Turin 26/0/0) whose version properties
// only toggle features. The same values are in virtee/sev-snp-measure vcpu_types.py.
// EPYC-IBPB is QEMU's alias of EPYC-v2.
constexpr std::array kModels = {
    CpuModel{"EPYC", 23, 1, 2},         CpuModel{"EPYC-v1", 23, 1, 2},
    CpuModel{"EPYC-v2", 23, 1, 2},      CpuModel{"EPYC-IBPB", 23, 1, 2},
    CpuModel{"EPYC-v3", 23, 1, 2},      CpuModel{"EPYC-v4", 23, 1, 2},
    CpuModel{"EPYC-Rome", 23, 49, 0},   CpuModel{"EPYC-Rome-v1", 23, 49, 0},
    CpuModel{"EPYC-Rome-v2", 23, 49, 0}, CpuModel{"EPYC-Rome-v3", 23, 49, 0},
    CpuModel{"EPYC-Rome-v4", 23, 49, 0}, CpuModel{"EPYC-Rome-v5", 23, 49, 0},
    CpuModel{"EPYC-Milan", 25, 1, 1},   CpuModel{"EPYC-Milan-v1", 25, 1, 1},
    CpuModel{"EPYC-Milan-v2", 25, 1, 1}, CpuModel{"EPYC-Milan-v3", 25, 1, 1},
    CpuModel{"EPYC-Genoa", 25, 17, 0},  CpuModel{"EPYC-Genoa-v1", 25, 17, 0},
    CpuModel{"EPYC-Genoa-v2", 25, 17, 0}, CpuModel{"EPYC-Turin", 26, 0, 0},
    CpuModel{"EPYC-Turin-v1", 26, 0, 0},
};

}  // namespace

std::span<const CpuModel> known_cpu_models() noexcept { return kModels; }

std::optional<CpuModel> find_cpu_model(std::string_view name) noexcept {
  for (const CpuModel& model : kModels) {
    if (model.name == name) {
      return model;
    }
  }
  return std::nullopt;
}

std::string known_cpu_model_names() {
  std::string names;
  for (const CpuModel& model : kModels) {
    if (!names.empty()) {
      names += ", ";
    }
    names += model.name;
  }
  return names;
}

}  // namespace cvm::firmware::snp
