// SPDX-License-Identifier: Apache-2.0
// Shared fixture of the vsock device tests: a VsockDevice on a socket in a fresh temporary
// directory, a guest (GuestVsockStack over VsockGuestDriver) and hybrid-vsock client helpers.
// Included by vsock_*_test.cc only.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "devices/virtio/vsock/vsock_device.h"
#include "tests/unit/virtio/vsock_guest.h"
#include "tests/unit/virtio/vsock_test_util.h"

namespace cvm::devices::virtio::vsock {

using testing::GuestPacket;
using testing::GuestVsockStack;
using testing::HostEnd;
using testing::VsockGuestDriver;
using testing::pattern;
using Key = GuestVsockStack::Key;

inline constexpr uint32_t kFirstHostPort = 1u << 30;
inline constexpr uint32_t kBufAlloc = 256 * 1024;

inline std::string text(const std::vector<std::byte>& bytes) {
  return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}
inline std::span<const std::byte> bytes_of(std::string_view s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

class VsockDeviceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cvmm-vsock-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/vm.sock";
  }
  void TearDown() override {
    device.reset();  // stops the loop before the guest memory goes away
    stack.reset();
    driver.reset();
    std::filesystem::remove_all(dir_);
  }

  void start(VsockOptions options = {}, VsockGuestDriver::Config config = {}) {
    if (!device) {
      auto created = VsockDevice::create(3, path_, options);
      ASSERT_TRUE(created.has_value()) << created.error().message();
      device = std::move(*created);
    }
    driver = std::make_unique<VsockGuestDriver>(*device, config);
    ASSERT_TRUE(driver->activate().has_value());
    stack = std::make_unique<GuestVsockStack>(*driver);
  }

  bool run_until(const std::function<bool()>& done,
                 std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    return stack->run_until(done, timeout);
  }
  // Pumps for `duration` regardless (to prove something does NOT happen).
  void run_for(std::chrono::milliseconds duration, const std::function<void()>& each = [] {}) {
    (void)stack->run_until([&] { each(); return false; }, duration);
  }

  // Connects a client, sends the handshake line and waits for the reply line.
  HostEnd handshake(uint32_t port, std::string_view extra = {}) {
    HostEnd client = HostEnd::connect(path_);
    EXPECT_TRUE(client.valid());
    client.queue(fmt::format("CONNECT {}\n", port));
    client.queue(extra);
    client.pump_out();
    EXPECT_TRUE(run_until([&] {
      client.pump_in();
      return client.eof || client.input_text().find('\n') != std::string::npos;
    }));
    return client;
  }
  Key key_for(const HostEnd& client, uint32_t guest_port) {
    const std::string reply = client.input_text();
    return Key{guest_port, static_cast<uint32_t>(std::stoul(reply.substr(3)))};
  }

  std::string dir_;
  std::string path_;
  std::unique_ptr<VsockGuestDriver> driver;
  std::unique_ptr<GuestVsockStack> stack;
  std::unique_ptr<VsockDevice> device;
};

}  // namespace cvm::devices::virtio::vsock
