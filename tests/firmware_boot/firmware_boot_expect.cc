// SPDX-License-Identifier: Apache-2.0
#include "tests/firmware_boot/firmware_boot_expect.h"

namespace cvm::test::firmware_boot {

std::vector<std::string> expected_report() {
  return {
      "CVMMFW start",
      "CVMMFW pci 00:00.0 id=12378086",
      "CVMMFW pci 00:00.0 class-rev=06000002",
      "CVMMFW pci 00:00.0 device-word=1237 device-byte=37",
      "CVMMFW pci 00:01.0 id=70008086",
      "CVMMFW pci 00:01.0 header-type=80",
      "CVMMFW pci 00:01.3 id=71138086",
      "CVMMFW pci 00:01.3 class-rev=06800003",
      "CVMMFW pci 00:1f.0 id=ffffffff",
      "CVMMFW cmos 15=80 16=02 17=ff 18=ff 30=ff 31=ff 34=00 35=07 5b=00 5c=00 5d=00 5f=00 "
      "0b=02 0d=80",
      "CVMMFW port92=02",
      "CVMMFW pci 00:01.3 pmba=0000b001",
      "CVMMFW pmtimer top-byte=00 advancing=yes",
      "CVMMFW poweroff",
  };
}

std::vector<std::string> firmware_lines(std::string_view serial) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start < serial.size()) {
    std::size_t end = serial.find('\n', start);
    if (end == std::string_view::npos) {
      end = serial.size();
    }
    std::string line(serial.substr(start, end - start));
    std::erase(line, '\r');
    if (line.starts_with("CVMMFW ")) {
      lines.push_back(std::move(line));
    }
    start = end + 1;
  }
  return lines;
}

}  // namespace cvm::test::firmware_boot
