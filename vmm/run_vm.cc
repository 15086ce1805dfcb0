// SPDX-License-Identifier: Apache-2.0
#include "vmm/run_vm.h"

#include "vmm/backends.h"
#include "vmm/machine.h"

namespace cvm::vmm {

Result<int> run_vm(const VmConfig& config) {
  CVM_ASSIGN_OR_RETURN(auto backend, make_backend(config.platform));
  CVM_ASSIGN_OR_RETURN(auto machine, Machine::create(config, std::move(backend)));
  return machine->run();
}

}  // namespace cvm::vmm
