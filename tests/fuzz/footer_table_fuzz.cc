// Fuzzes the OVMF footer GUID table parser with arbitrary firmware tails.
#include <cstddef>
#include <cstdint>
#include <span>

#include "firmware/ovmf/footer_table.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::byte> image(reinterpret_cast<const std::byte*>(data), size);
  auto table = cvm::firmware::ovmf::parse_footer_table(image);
  if (table) {
    for (const auto& entry : table->entries()) {
      // Every entry must lie inside the image.
      if (entry.data.data() < image.data() ||
          entry.data.data() + entry.data.size() > image.data() + image.size()) {
        __builtin_trap();
      }
      (void)table->u32(entry.guid);
    }
  }
  return 0;
}
