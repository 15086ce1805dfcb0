// SPDX-License-Identifier: Apache-2.0
// The guest TSC frequency key: `--platform tsc_khz=N` and JSON `platform.tsc_khz`, parsed and
// validated (TDX: the TDX module's 100 MHz..10 GHz range in 25 MHz units; SEV-SNP: refused;
// plain KVM: any non-zero 32-bit value, KVM checks the host's limit).
#include <gtest/gtest.h>

#include <string>

#include "tests/unit/config/test_util.h"

namespace cvm::vmm::config {
namespace {

using testing::error_of;
using testing::from_cli;
using testing::from_json;

std::string tdx_cli(const std::string& options) {
  return error_of(from_cli({"--firmware", "/tdvf.fd", "--platform", "tdx=on," + options}));
}

std::string tdx_json(const std::string& tsc_khz) {
  return error_of(from_json(R"({"payload": {"firmware": "/tdvf.fd"},
                                "platform": {"tdx": true, "tsc_khz": )" +
                            tsc_khz + "}}"));
}

TEST(TscKhzConfigTest, CliTdxKeyIsParsed) {
  auto config = from_cli({"--firmware", "/tdvf.fd", "--platform", "tdx=on,tsc_khz=2000000"});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->platform.tsc_khz, 2'000'000u);
  auto unset = from_cli({"--firmware", "/tdvf.fd", "--platform", "tdx=on"});
  ASSERT_TRUE(unset) << unset.error().message();
  EXPECT_FALSE(unset->platform.tsc_khz);
}

TEST(TscKhzConfigTest, CliPlainGuestTakesAnyNonZeroFrequency) {
  auto config = from_cli({"--kernel", "/k", "--platform", "tsc_khz=2500001"});
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->platform.tee, TeeKind::kNone);
  EXPECT_EQ(config->platform.tsc_khz, 2'500'001u);
  EXPECT_EQ(error_of(from_cli({"--kernel", "/k", "--platform", "tsc_khz=0"})),
            "--platform tsc_khz: 0 is not a frequency (leave the key out to keep the host's)");
}

TEST(TscKhzConfigTest, CliSyntaxErrors) {
  EXPECT_EQ(error_of(from_cli({"--kernel", "/k", "--platform", "tsc_khz=2GHz"})),
            "--platform tsc_khz: '2GHz' is not a decimal number");
  EXPECT_EQ(error_of(from_cli({"--kernel", "/k", "--platform", "tsc_khz=4294967296"})),
            "--platform tsc_khz: 4294967296 is out of range (maximum 4294967295)");
}

TEST(TscKhzConfigTest, CliTdxRangeAndGranularity) {
  EXPECT_EQ(tdx_cli("tsc_khz=100000"), "<ok>");
  EXPECT_EQ(tdx_cli("tsc_khz=10000000"), "<ok>");
  EXPECT_EQ(tdx_cli("tsc_khz=75000"),
            "--platform tsc_khz: 75000 kHz is outside the TDX module's range (100000 to "
            "10000000 kHz)");
  EXPECT_EQ(tdx_cli("tsc_khz=10025000"),
            "--platform tsc_khz: 10025000 kHz is outside the TDX module's range (100000 to "
            "10000000 kHz)");
  EXPECT_EQ(tdx_cli("tsc_khz=2010000"),
            "--platform tsc_khz: 2010000 kHz is not a multiple of 25000 kHz (TDX sets the TSC "
            "in 25 MHz units)");
}

TEST(TscKhzConfigTest, CliSevSnpRefusesIt) {
  EXPECT_EQ(error_of(from_cli({"--firmware", "/ovmf.fd", "--platform",
                               "sev_snp=on,tsc_khz=2000000"})),
            "--platform tsc_khz: is not supported with --platform sev_snp=on");
}

TEST(TscKhzConfigTest, JsonKeyIsParsedAndPrinted) {
  auto config = from_json(R"({"payload": {"firmware": "/tdvf.fd"},
                              "platform": {"tdx": true, "tsc_khz": 1900000}})");
  ASSERT_TRUE(config) << config.error().message();
  EXPECT_EQ(config->platform.tsc_khz, 1'900'000u);
  const std::string text = config_to_json(*config);
  EXPECT_NE(text.find(R"("platform":{"tdx":true,"sev_snp":false,"tsc_khz":1900000})"),
            std::string::npos)
      << text;
  auto again = from_json(text);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(*again, *config);
  auto unset = from_json(R"({"payload": {"kernel": "/k"}, "platform": {"tsc_khz": null}})");
  ASSERT_TRUE(unset) << unset.error().message();
  EXPECT_FALSE(unset->platform.tsc_khz);
  EXPECT_EQ(config_to_json(*unset).find("tsc_khz"), std::string::npos);
}

TEST(TscKhzConfigTest, JsonErrors) {
  EXPECT_EQ(tdx_json(R"("2000000")"),
            "platform.tsc_khz: expected an unsigned integer, got a string");
  EXPECT_EQ(tdx_json("-1"), "platform.tsc_khz: expected an unsigned integer, got -1");
  EXPECT_EQ(tdx_json("4294967296"),
            "platform.tsc_khz: 4294967296 is out of range (maximum 4294967295)");
  EXPECT_EQ(tdx_json("99999"),
            "platform.tsc_khz: 99999 kHz is outside the TDX module's range (100000 to "
            "10000000 kHz)");
  EXPECT_EQ(tdx_json("2012500"),
            "platform.tsc_khz: 2012500 kHz is not a multiple of 25000 kHz (TDX sets the TSC "
            "in 25 MHz units)");
  EXPECT_EQ(tdx_json("2025000"), "<ok>");
  EXPECT_EQ(error_of(from_json(R"({"payload": {"firmware": "/ovmf.fd"},
                                   "platform": {"sev_snp": true, "tsc_khz": 2000000}})")),
            "platform.tsc_khz: is not supported with platform.sev_snp");
}

}  // namespace
}  // namespace cvm::vmm::config
