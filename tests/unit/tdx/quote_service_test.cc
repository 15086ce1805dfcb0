// SPDX-License-Identifier: Apache-2.0
// The QGS client: message bytes, response validation, and one request over a real Unix socket
// to a fake service in a thread. This checks cvmm against its own reading of the QGS framing
// (vmm/tdx/quote_service.h), not against Intel's QGS.
#include "vmm/tdx/quote_service.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "base/byte_reader.h"
#include "base/unique_fd.h"

namespace cvm::vmm::tdx {
namespace {

std::vector<std::byte> bytes(std::initializer_list<int> values) {
  std::vector<std::byte> out;
  for (int v : values) {
    out.push_back(static_cast<std::byte>(v));
  }
  return out;
}

std::vector<std::byte> response(uint32_t type, uint32_t error, std::vector<std::byte> id,
                                std::vector<std::byte> quote, int size_delta = 0) {
  std::vector<std::byte> message(24 + id.size() + quote.size());
  store_le<uint16_t>(std::span(message).first<2>(), 1);
  store_le<uint16_t>(std::span(message).subspan<2, 2>(), 1);
  store_le<uint32_t>(std::span(message).subspan<4, 4>(), type);
  store_le<uint32_t>(std::span(message).subspan<8, 4>(),
                     static_cast<uint32_t>(message.size() + size_delta));
  store_le<uint32_t>(std::span(message).subspan<12, 4>(), error);
  store_le<uint32_t>(std::span(message).subspan<16, 4>(), static_cast<uint32_t>(id.size()));
  store_le<uint32_t>(std::span(message).subspan<20, 4>(), static_cast<uint32_t>(quote.size()));
  std::copy(id.begin(), id.end(), message.begin() + 24);
  std::copy(quote.begin(), quote.end(), message.begin() + 24 + static_cast<long>(id.size()));
  return message;
}

TEST(QgsMessageTest, RequestBytesAreExact) {
  EXPECT_EQ(encode_qgs_get_quote_request(bytes({0xaa, 0xbb})),
            bytes({0,    0,   0, 26,  // frame length, big-endian
                   1,    0,   1, 0,   // version 1.1
                   0,    0,   0, 0,   // GET_QUOTE_REQ
                   26,   0,   0, 0,   // size
                   0,    0,   0, 0,   // error_code
                   2,    0,   0, 0,   // report_size
                   0,    0,   0, 0,   // id_list_size
                   0xaa, 0xbb}));
}

TEST(QgsMessageTest, ResponseQuoteFollowsTheSelectedId) {
  auto quote = decode_qgs_get_quote_response(response(1, 0, bytes({9, 9}), bytes({1, 2, 3})));
  ASSERT_TRUE(quote.has_value()) << quote.error().message();
  EXPECT_EQ(*quote, bytes({1, 2, 3}));
}

TEST(QgsMessageTest, BadResponsesAreErrors) {
  EXPECT_FALSE(decode_qgs_get_quote_response(response(0, 0, {}, bytes({1}))).has_value());
  EXPECT_FALSE(decode_qgs_get_quote_response(response(1, 0x12, {}, bytes({1}))).has_value());
  EXPECT_FALSE(decode_qgs_get_quote_response(response(1, 0, {}, bytes({1}), 4)).has_value());
  auto truncated = response(1, 0, {}, bytes({1, 2, 3, 4}));
  store_le<uint32_t>(std::span(truncated).subspan<20, 4>(), 100);  // quote_size past the end
  EXPECT_FALSE(decode_qgs_get_quote_response(truncated).has_value());
  EXPECT_FALSE(decode_qgs_get_quote_response(bytes({1, 0})).has_value());
}

TEST(QgsMessageTest, FramedRequestsFromGuestsAreRecognised) {
  const auto framed = encode_qgs_get_quote_request(bytes({4, 5, 6}));
  auto report = framed_qgs_request_report(framed);
  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(std::vector<std::byte>(report->begin(), report->end()), bytes({4, 5, 6}));
  // A raw TDREPORT (Linux's driver) is not mistaken for one.
  EXPECT_FALSE(framed_qgs_request_report(std::vector<std::byte>(1024, std::byte{0x11})));
  auto wrong_length = framed;
  wrong_length[3] = std::byte{99};
  EXPECT_FALSE(framed_qgs_request_report(wrong_length));
  EXPECT_FALSE(framed_qgs_request_report(bytes({0, 0, 0, 1, 1})));
  // The response a framed guest gets decodes back to the quote.
  const auto response_frame = encode_qgs_get_quote_response(bytes({8, 9}));
  auto quote = decode_qgs_get_quote_response(std::span(response_frame).subspan(4));
  ASSERT_TRUE(quote.has_value()) << quote.error().message();
  EXPECT_EQ(*quote, bytes({8, 9}));
}

TEST(QgsSocketTest, OneRequestOverAUnixSocket) {
  const std::string path =
      ::testing::TempDir() + "qgs-test-" + std::to_string(::getpid()) + ".sock";
  ::unlink(path.c_str());
  UniqueFd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  ASSERT_TRUE(listener.valid());
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(path.size(), sizeof(address.sun_path));
  std::memcpy(address.sun_path, path.data(), path.size());
  ASSERT_EQ(::bind(listener.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(listener.get(), 1), 0);

  std::vector<std::byte> received;
  std::thread server([&] {
    UniqueFd client(::accept(listener.get(), nullptr, nullptr));
    std::vector<std::byte> buffer(4 + 24 + 3);
    std::size_t got = 0;
    while (got < buffer.size()) {
      const ssize_t n = ::recv(client.get(), buffer.data() + got, buffer.size() - got, 0);
      if (n <= 0) return;
      got += static_cast<std::size_t>(n);
    }
    received = buffer;
    auto reply = response(1, 0, {}, bytes({7, 7, 7, 7, 7}));
    std::vector<std::byte> frame = bytes({0, 0, 0, static_cast<int>(reply.size())});
    frame.insert(frame.end(), reply.begin(), reply.end());
    (void)::send(client.get(), frame.data(), frame.size(), 0);
  });
  auto service = make_qgs_socket_service(path);
  auto quote = service->get_quote(bytes({1, 2, 3}));
  server.join();
  ASSERT_TRUE(quote.has_value()) << quote.error().message();
  EXPECT_EQ(*quote, bytes({7, 7, 7, 7, 7}));
  EXPECT_EQ(received, encode_qgs_get_quote_request(bytes({1, 2, 3})));
  ::unlink(path.c_str());
}

TEST(QgsSocketTest, AbsentServiceIsAnIoError) {
  auto service = make_qgs_socket_service(::testing::TempDir() + "no-such-qgs.sock");
  auto quote = service->get_quote(bytes({1}));
  ASSERT_FALSE(quote.has_value());
  EXPECT_EQ(quote.error().code(), ErrorCode::kIo);
}

}  // namespace
}  // namespace cvm::vmm::tdx
