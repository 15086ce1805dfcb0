// SPDX-License-Identifier: Apache-2.0
// What the guest's fw-cfg program must report for a file holding `content`, whichever fw_cfg
// device it talks to (QEMU's under TCG, cvmm's FwCfgDevice in the hosted build). Both tests
// check the same lines, so passing both means the two devices answer the driver identically.
#pragma once

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "base/byte_reader.h"
#include "tests/guest/guest_harness.h"

namespace cvm::test::guest {

inline constexpr const char* kFwCfgTestFile = "opt/cvmm/test";

inline void expect_fw_cfg_report(const GuestReport& r, const std::string& content) {
  const auto bytes = as_bytes(content);
  const std::string size = std::to_string(content.size());
  EXPECT_TRUE(r.has_line("fw-cfg signature=QEMU id=0x3")) << r.full_output;
  EXPECT_TRUE(r.has_line("fw-cfg dma-register=QEMU CFG")) << r.full_output;
  EXPECT_EQ(r.value(std::string("fw-cfg file name=") + kFwCfgTestFile, "size"), size)
      << r.full_output;
  const std::string sha = sha256_hex(bytes);
  EXPECT_TRUE(r.has_line("fw-cfg port size=" + size + " sha256=" + sha)) << r.full_output;
  EXPECT_TRUE(r.has_line("fw-cfg dma status=0x0 tail-zero=1")) << r.full_output;
  EXPECT_TRUE(r.has_line("fw-cfg dma size=" + size + " sha256=" + sha)) << r.full_output;
  EXPECT_TRUE(r.has_line("fw-cfg dma-skip skip=3 status=0x0")) << r.full_output;
  EXPECT_TRUE(r.has_line("fw-cfg after-skip size=" + std::to_string(content.size() - 3) +
                         " sha256=" + sha256_hex(bytes.subspan(3))))
      << r.full_output;
  EXPECT_TRUE(r.has_line("fw-cfg dma-write status=0x1")) << r.full_output;
  EXPECT_TRUE(r.has_line("fw-cfg ok")) << r.full_output;
  EXPECT_TRUE(r.has_line("done pass")) << r.full_output;
  // The directory lists files in ascending name order with keys 0x20, 0x21, ... (QEMU's
  // fw_cfg_add_file_callback sorts by name for current machine types).
  std::string previous;
  unsigned expected_key = 0x20;
  for (const std::string& line : r.lines) {
    const std::string prefix = "fw-cfg file name=";
    if (line.rfind(prefix, 0) != 0) {
      continue;
    }
    const std::string name = line.substr(prefix.size(), line.find(' ', prefix.size()) -
                                                            prefix.size());
    EXPECT_LT(previous, name) << r.full_output;
    char key[16];
    std::snprintf(key, sizeof(key), "key=%#x ", expected_key++);
    EXPECT_NE(line.find(key), std::string::npos) << line;
    previous = name;
  }
  EXPECT_GT(expected_key, 0x20u);
}

}  // namespace cvm::test::guest
