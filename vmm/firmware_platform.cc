// SPDX-License-Identifier: Apache-2.0
#include "vmm/firmware_platform.h"

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "devices/acpi/acpi_pm_io.h"
#include "devices/debug/boot_timing_port.h"
#include "devices/firmware_rom/firmware_rom.h"
#include "devices/legacy/system_control_port.h"
#include "devices/pci/i440fx.h"
#include "devices/pci/pci_config_io.h"
#include "devices/rtc/cmos_rtc.h"

namespace cvm::vmm {

Result<void> insert_firmware_platform(devices::Bus& pio, devices::PowerRequestSink& sink,
                                      const x86::MemoryLayout& layout, uint32_t vcpu_count) {
  namespace pci = devices::pci;
  namespace rtc = devices::rtc;
  const rtc::CmosMemoryInfo memory{.below_4g_bytes = layout.low_ram_end,
                                   .above_4g_bytes = layout.high_ram_bytes,
                                   .vcpu_count = vcpu_count};
  CVM_TRY(pio.insert(std::make_shared<rtc::CmosRtc>(memory), rtc::kCmosPortBase,
                     rtc::kCmosPortCount));
  CVM_TRY(pio.insert(std::make_shared<devices::legacy::SystemControlPort>(sink),
                     devices::legacy::kSystemControlPortA,
                     devices::legacy::kSystemControlPortCount));
  auto config = std::make_shared<pci::PciConfigIo>(sink);
  CVM_TRY(config->add_function(0, 0, pci::make_i440fx_host_bridge()));
  CVM_TRY(config->add_function(1, 0, pci::make_piix3_isa_bridge()));
  auto pm_io =
      std::make_shared<devices::acpi::AcpiPmIo>(sink, &devices::debug::monotonic_now_ns);
  CVM_TRY(config->add_function(1, 3, std::make_unique<pci::Piix4PowerManagement>(pio, pm_io)));
  return pio.insert(std::move(config), pci::kPciConfigIoBase, pci::kPciConfigIoCount);
}

Result<void> insert_firmware_rom(devices::Bus& mmio, const firmware::LaunchPlan& plan) {
  // Bounds: firmware_ranges never exceeds the plan (the builders set it to ranges they added).
  const std::size_t count = std::min(plan.firmware_ranges, plan.ranges.size());
  for (std::size_t i = 0; i < count; ++i) {
    const firmware::PlanRange& range = plan.ranges[i];
    const std::string name =
        fmt::format("firmware {} [{:#x}, {:#x})", range.label, range.gpa, range.gpa + range.size);
    auto rom = std::make_shared<devices::firmware_rom::FirmwareRom>(range.blob, range.contents(),
                                                                    range.size, name);
    auto inserted = mmio.insert(std::move(rom), range.gpa, range.size);
    if (!inserted) {
      return std::move(inserted).error().context(name);
    }
  }
  return ok();
}

}  // namespace cvm::vmm
