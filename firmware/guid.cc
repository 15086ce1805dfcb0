// SPDX-License-Identifier: Apache-2.0
#include "firmware/guid.h"

#include <fmt/format.h>

#include "base/byte_reader.h"

namespace cvm::firmware {

std::string Guid::to_string() const {
  const std::span<const std::byte> b(bytes_);
  return fmt::format("{:08x}-{:04x}-{:04x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                     load_le<uint32_t>(b.first<4>()), load_le<uint16_t>(b.subspan<4, 2>()),
                     load_le<uint16_t>(b.subspan<6, 2>()), static_cast<unsigned>(b[8]),
                     static_cast<unsigned>(b[9]), static_cast<unsigned>(b[10]),
                     static_cast<unsigned>(b[11]), static_cast<unsigned>(b[12]),
                     static_cast<unsigned>(b[13]), static_cast<unsigned>(b[14]),
                     static_cast<unsigned>(b[15]));
}

}  // namespace cvm::firmware
