// SPDX-License-Identifier: Apache-2.0
#include "vmm/tdx/quote_service.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

#include "base/byte_reader.h"
#include "base/unique_fd.h"

namespace cvm::vmm::tdx {
namespace {

constexpr uint16_t kQgsMajor = 1;
constexpr uint16_t kQgsMinor = 1;
constexpr uint32_t kGetQuoteRequest = 0;
constexpr uint32_t kGetQuoteResponse = 1;
constexpr std::size_t kQgsHeaderSize = 16;
constexpr std::size_t kQgsBodyOffset = 24;
constexpr uint32_t kMaxResponse = 128 * 1024;  // the GetQuote buffer limit (§2.10)
constexpr int kTimeoutSeconds = 30;

template <typename T>
void put_le(std::vector<std::byte>& out, std::size_t at, T value) {
  store_le<T>(std::span<std::byte>(out).subspan(at).template first<sizeof(T)>(), value);
}

Result<void> send_all(int fd, std::span<const std::byte> data) {
  while (!data.empty()) {
    const ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return errno_error(ErrorCode::kIo, "quote service: send", n < 0 ? errno : EPIPE);
    }
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return ok();
}

Result<void> receive_all(int fd, std::span<std::byte> out) {
  while (!out.empty()) {
    const ssize_t n = ::recv(fd, out.data(), out.size(), 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return errno_error(ErrorCode::kIo, "quote service: receive", n < 0 ? errno : ECONNRESET);
    }
    out = out.subspan(static_cast<std::size_t>(n));
  }
  return ok();
}

Result<UniqueFd> connect_unix(const std::string& path) {
  sockaddr_un address{};
  if (path.size() >= sizeof(address.sun_path)) {
    return make_error(ErrorCode::kInvalidArgument, "quote service socket path too long: {}", path);
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return errno_error(ErrorCode::kIo, "quote service: socket", errno);
  }
  const timeval timeout{kTimeoutSeconds, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ::setsockopt(fd.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  address.sun_family = AF_UNIX;
  std::memcpy(address.sun_path, path.data(), path.size());
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) < 0) {
    return errno_error(ErrorCode::kIo, fmt::format("quote service: connect {}", path), errno);
  }
  return fd;
}

class QgsSocketService final : public QuoteService {
 public:
  explicit QgsSocketService(std::string path) : path_(std::move(path)) {}

  Result<std::vector<std::byte>> get_quote(std::span<const std::byte> report) override {
    CVM_ASSIGN_OR_RETURN(UniqueFd fd, connect_unix(path_));
    CVM_TRY(send_all(fd.get(), encode_qgs_get_quote_request(report)));
    std::array<std::byte, 4> frame{};
    CVM_TRY(receive_all(fd.get(), frame));
    const uint32_t length = load_be<uint32_t>(std::span<const std::byte, 4>(frame));
    if (length < kQgsBodyOffset || length > kMaxResponse + kQgsBodyOffset) {
      return make_error(ErrorCode::kIo, "quote service: response length {} out of range", length);
    }
    std::vector<std::byte> message(length);
    CVM_TRY(receive_all(fd.get(), message));
    return decode_qgs_get_quote_response(message);
  }

 private:
  std::string path_;
};

}  // namespace

std::unique_ptr<QuoteService> make_qgs_socket_service(std::string path) {
  return std::make_unique<QgsSocketService>(std::move(path));
}

namespace {

/// Frame length + 24-byte QGS header/body prefix of `type` followed by `payload`; `first` and
/// `second` are the two u32 after the header (report_size/id_list_size or
/// selected_id_size/quote_size).
std::vector<std::byte> framed_message(uint32_t type, uint32_t first, uint32_t second,
                                      std::span<const std::byte> payload) {
  const auto size = static_cast<uint32_t>(kQgsBodyOffset + payload.size());
  std::vector<std::byte> out(4 + size);
  for (std::size_t i = 0; i < 4; ++i) {  // frame length, big-endian
    out[i] = static_cast<std::byte>(size >> (24 - 8 * i));
  }
  put_le<uint16_t>(out, 4 + 0, kQgsMajor);
  put_le<uint16_t>(out, 4 + 2, kQgsMinor);
  put_le<uint32_t>(out, 4 + 4, type);
  put_le<uint32_t>(out, 4 + 8, size);
  put_le<uint32_t>(out, 4 + 12, 0);
  put_le<uint32_t>(out, 4 + 16, first);
  put_le<uint32_t>(out, 4 + 20, second);
  std::copy(payload.begin(), payload.end(), out.begin() + 4 + kQgsBodyOffset);
  return out;
}

}  // namespace

std::vector<std::byte> encode_qgs_get_quote_request(std::span<const std::byte> report) {
  return framed_message(kGetQuoteRequest, static_cast<uint32_t>(report.size()), 0, report);
}

std::vector<std::byte> encode_qgs_get_quote_response(std::span<const std::byte> quote) {
  return framed_message(kGetQuoteResponse, 0, static_cast<uint32_t>(quote.size()), quote);
}

std::optional<std::span<const std::byte>> framed_qgs_request_report(
    std::span<const std::byte> request) {
  if (request.size() < 4 + kQgsBodyOffset) {
    return std::nullopt;
  }
  const uint32_t frame = load_be<uint32_t>(request.first<4>());
  const std::span<const std::byte> message = request.subspan(4);
  const auto major = load_le<uint16_t>(message.first<2>());
  const auto type = load_le<uint32_t>(message.subspan<4, 4>());
  const auto size = load_le<uint32_t>(message.subspan<8, 4>());
  const auto report_size = load_le<uint32_t>(message.subspan<16, 4>());
  const auto id_list_size = load_le<uint32_t>(message.subspan<20, 4>());
  if (frame != message.size() || size != message.size() || major != kQgsMajor ||
      type != kGetQuoteRequest ||
      uint64_t{report_size} + id_list_size != message.size() - kQgsBodyOffset) {
    return std::nullopt;
  }
  return message.subspan(kQgsBodyOffset, report_size);
}

Result<std::vector<std::byte>> decode_qgs_get_quote_response(std::span<const std::byte> message) {
  ByteReader reader(message, "QGS GET_QUOTE_RESP");
  CVM_ASSIGN_OR_RETURN(const uint16_t major, reader.le<uint16_t>(0, "major_version"));
  CVM_ASSIGN_OR_RETURN(const uint32_t type, reader.le<uint32_t>(4, "type"));
  CVM_ASSIGN_OR_RETURN(const uint32_t size, reader.le<uint32_t>(8, "size"));
  CVM_ASSIGN_OR_RETURN(const uint32_t error_code, reader.le<uint32_t>(12, "error_code"));
  if (major != kQgsMajor || type != kGetQuoteResponse || size != message.size()) {
    return make_error(ErrorCode::kIo,
                      "quote service: unexpected response (version {}, type {}, size {} of {})",
                      major, type, size, message.size());
  }
  if (error_code != 0) {
    return make_error(ErrorCode::kIo, "quote service: error code {:#x}", error_code);
  }
  CVM_ASSIGN_OR_RETURN(const uint32_t id_size,
                       reader.le<uint32_t>(kQgsHeaderSize, "selected_id_size"));
  CVM_ASSIGN_OR_RETURN(const uint32_t quote_size,
                       reader.le<uint32_t>(kQgsHeaderSize + 4, "quote_size"));
  CVM_ASSIGN_OR_RETURN(auto quote,
                       reader.slice(kQgsBodyOffset + std::size_t{id_size}, quote_size, "quote"));
  return std::vector<std::byte>(quote.begin(), quote.end());
}

}  // namespace cvm::vmm::tdx
