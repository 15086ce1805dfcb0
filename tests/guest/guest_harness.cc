// SPDX-License-Identifier: Apache-2.0
#include "tests/guest/guest_harness.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <thread>

#include "base/file.h"
#include "base/hex.h"
#include "firmware/sha.h"
#include "tests/guest/src/pattern.h"

namespace cvm::test::guest {

std::string guest_elf_path() { return CVMM_TEST_GUEST_ELF; }

bool dev_kvm_absent() { return ::access("/dev/kvm", F_OK) != 0 && errno == ENOENT; }

bool emulating_kvm_host() { return ::access("/sys/module/kvm_pvm", F_OK) == 0; }

Result<TempDir> TempDir::create(std::string_view prefix) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / (std::string(prefix) + "XXXXXX")).string();
  if (::mkdtemp(pattern.data()) == nullptr) {
    return errno_error(ErrorCode::kIo, "mkdtemp " + pattern, errno);
  }
  return TempDir(pattern);
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
}

Result<ChildProcess> ChildProcess::spawn(const std::vector<std::string>& argv,
                                         const std::filesystem::path& output) {
  const int out = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    return errno_error(ErrorCode::kIo, "open " + output.string(), errno);
  }
  std::vector<char*> args;
  for (const std::string& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int error = errno;
    ::close(out);
    return errno_error(ErrorCode::kIo, "fork for " + argv[0], error);
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    ::setpgid(0, 0);
    const int null = ::open("/dev/null", O_RDONLY);
    ::dup2(null, STDIN_FILENO);
    ::dup2(out, STDOUT_FILENO);
    ::dup2(out, STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  ::close(out);
  ::setpgid(pid, pid);  // also from the parent, so kill(-pid) works at once
  return ChildProcess(pid);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
}

Result<int> ChildProcess::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    if (done < 0) {
      return errno_error(ErrorCode::kIo, "waitpid", errno);
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
      return make_error(ErrorCode::kIo, "process did not exit within {} ms (killed)",
                        timeout.count());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

Result<int> run_process(const std::vector<std::string>& argv, const std::filesystem::path& output,
                        std::chrono::milliseconds timeout) {
  CVM_ASSIGN_OR_RETURN(ChildProcess child, ChildProcess::spawn(argv, output));
  return child.wait(timeout);
}

bool GuestReport::has_line(std::string_view line) const {
  for (const std::string& l : lines) {
    if (l == line) {
      return true;
    }
  }
  return false;
}

std::optional<std::string> GuestReport::value(std::string_view prefix, std::string_view key) const {
  const std::string needle = std::string(key) + "=";
  for (const std::string& line : lines) {
    if (!line.starts_with(prefix)) {
      continue;
    }
    for (std::size_t at = line.find(needle); at != std::string::npos;
         at = line.find(needle, at + 1)) {
      if (at == 0 || line[at - 1] == ' ') {
        const std::size_t start = at + needle.size();
        return line.substr(start, line.find(' ', start) - start);
      }
    }
  }
  return std::nullopt;
}

GuestReport parse_report(std::string_view output) {
  GuestReport report;
  report.full_output = std::string(output);
  constexpr std::string_view kPrefix = "CVMMTEST ";
  while (!output.empty()) {
    const std::size_t end = output.find('\n');
    std::string_view line = output.substr(0, end);
    output = end == std::string_view::npos ? std::string_view() : output.substr(end + 1);
    while (!line.empty() && (line.back() == '\r' || line.back() == '\n')) {
      line.remove_suffix(1);
    }
    const std::size_t at = line.find(kPrefix);  // tolerate console noise before the prefix
    if (at != std::string_view::npos) {
      report.lines.emplace_back(line.substr(at + kPrefix.size()));
    }
  }
  return report;
}

Result<GuestReport> read_report(const std::filesystem::path& output) {
  CVM_ASSIGN_OR_RETURN(const std::vector<std::byte> bytes, read_file(output.string()));
  return parse_report(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

std::vector<std::byte> disk_content(std::size_t size, uint32_t seed) {
  // xorshift64: any deterministic, non-repeating-looking content will do.
  std::vector<std::byte> bytes(size);
  uint64_t state = 0x243f6a8885a308d3ull ^ seed;
  for (std::size_t i = 0; i < size; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    bytes[i] = static_cast<std::byte>(state >> 24);
  }
  return bytes;
}

Result<void> write_file(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return errno_error(ErrorCode::kIo, "open " + path.string(), errno);
  }
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) {
      const int error = errno;
      ::close(fd);
      return errno_error(ErrorCode::kIo, "write " + path.string(), error);
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return ok();
}

std::vector<std::byte> pattern_bytes(uint64_t offset, std::size_t len, uint32_t seed) {
  std::vector<std::byte> bytes(len);
  for (std::size_t i = 0; i < len; ++i) {
    bytes[i] = static_cast<std::byte>(cvmm_pattern_byte(offset + i, seed));
  }
  return bytes;
}

std::string sha256_hex(std::span<const std::byte> bytes) { return to_hex(firmware::sha256(bytes)); }

uint32_t crc32(std::span<const std::byte> bytes, uint32_t crc) {
  static const std::array<uint32_t, 256> kTable = [] {
    std::array<uint32_t, 256> table{};
    for (uint32_t n = 0; n < 256; ++n) {
      uint32_t c = n;
      for (int k = 0; k < 8; ++k) {
        c = (c & 1) != 0 ? 0xedb88320u ^ (c >> 1) : c >> 1;
      }
      table[n] = c;
    }
    return table;
  }();
  uint32_t c = ~crc;
  for (std::byte b : bytes) {
    c = kTable[(c ^ static_cast<uint8_t>(b)) & 0xff] ^ (c >> 8);
  }
  return ~c;
}

std::string crc32_hex(uint32_t crc) { return fmt::format("{:08x}", crc); }

namespace {

Result<sockaddr_un> unix_address(const std::filesystem::path& path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string text = path.string();
  if (text.size() >= sizeof(address.sun_path)) {
    return make_error(ErrorCode::kInvalidArgument, "socket path {} is too long", text);
  }
  std::memcpy(address.sun_path, text.c_str(), text.size() + 1);
  return address;
}

Result<UniqueFd> unix_socket() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) {
    return errno_error(ErrorCode::kIo, "socket(AF_UNIX)", errno);
  }
  return fd;
}

/// Waits until `fd` is readable; false on timeout.
Result<bool> wait_readable(int fd, std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  pollfd p{fd, POLLIN, 0};
  const int ready = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(left.count(), 0)));
  if (ready < 0 && errno != EINTR) {
    return errno_error(ErrorCode::kIo, "poll", errno);
  }
  return ready > 0;
}

}  // namespace

Result<UniqueFd> unix_listen(const std::filesystem::path& path) {
  CVM_ASSIGN_OR_RETURN(const sockaddr_un address, unix_address(path));
  CVM_ASSIGN_OR_RETURN(UniqueFd fd, unix_socket());
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return errno_error(ErrorCode::kIo, "bind " + path.string(), errno);
  }
  if (::listen(fd.get(), 128) != 0) {
    return errno_error(ErrorCode::kIo, "listen " + path.string(), errno);
  }
  return fd;
}

Result<UniqueFd> af_vsock_listen(uint32_t port, int backlog) {
  UniqueFd fd(::socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_vm address{};
  address.svm_family = AF_VSOCK;
  address.svm_cid = VMADDR_CID_ANY;
  address.svm_port = port;
  if (fd.get() < 0 ||
      ::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 ||
      ::listen(fd.get(), backlog) != 0) {
    return errno_error(ErrorCode::kIo, fmt::format("AF_VSOCK listen on port {}", port), errno);
  }
  return fd;
}

Result<UniqueFd> accept_connection(const UniqueFd& listener, std::chrono::milliseconds timeout) {
  CVM_ASSIGN_OR_RETURN(const bool ready,
                       wait_readable(listener.get(), std::chrono::steady_clock::now() + timeout));
  if (!ready) {
    return make_error(ErrorCode::kIo, "no connection within {} ms", timeout.count());
  }
  UniqueFd fd(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (fd.get() < 0) {
    return errno_error(ErrorCode::kIo, "accept", errno);
  }
  return fd;
}

namespace {

/// One hybrid-vsock dial: connect, "CONNECT <port>\n", read the reply line byte by byte (so
/// no stream data is consumed with it). Fails when the VMM closes the socket before "OK"
/// (no driver yet, or the guest refused: the client is expected to redial).
Result<UniqueFd> hybrid_dial(const sockaddr_un& address, const std::filesystem::path& socket,
                             uint32_t port, std::chrono::steady_clock::time_point deadline) {
  CVM_ASSIGN_OR_RETURN(UniqueFd fd, unix_socket());
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
    return errno_error(ErrorCode::kIo, "connect " + socket.string(), errno);
  }
  const std::string request = fmt::format("CONNECT {}\n", port);
  CVM_TRY(write_all(fd.get(), std::as_bytes(std::span(request))));
  std::string reply;
  while (reply.empty() || reply.back() != '\n') {
    CVM_ASSIGN_OR_RETURN(const bool ready, wait_readable(fd.get(), deadline));
    char c = 0;
    if (!ready || ::read(fd.get(), &c, 1) != 1 || reply.size() > 64) {
      return make_error(ErrorCode::kIo, "no complete reply to CONNECT {} (got \"{}\")", port,
                        reply);
    }
    reply += c;
  }
  if (!reply.starts_with("OK ")) {
    return make_error(ErrorCode::kIo, "CONNECT {}: unexpected reply \"{}\"", port, reply);
  }
  return fd;
}

}  // namespace

Result<UniqueFd> hybrid_vsock_connect(const std::filesystem::path& socket, uint32_t port,
                                      std::chrono::milliseconds timeout) {
  CVM_ASSIGN_OR_RETURN(const sockaddr_un address, unix_address(socket));
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto fd = hybrid_dial(address, socket, port, deadline);
    if (fd || std::chrono::steady_clock::now() > deadline) {
      return fd;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

Result<StreamSummary> read_to_eof(int fd, std::chrono::milliseconds timeout, std::size_t keep) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  StreamSummary summary;
  std::vector<std::byte> buffer(1 << 20);
  for (;;) {
    CVM_ASSIGN_OR_RETURN(const bool ready, wait_readable(fd, deadline));
    if (!ready) {
      return make_error(ErrorCode::kIo, "stream still open after {} ms ({} bytes read)",
                        timeout.count(), summary.bytes);
    }
    const ssize_t n = ::read(fd, buffer.data(), buffer.size());
    if (n == 0 || (n < 0 && errno == ECONNRESET)) {
      return summary;
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      return errno_error(ErrorCode::kIo, "read", errno);
    }
    const std::span<const std::byte> got(buffer.data(), static_cast<std::size_t>(n));
    summary.crc = crc32(got, summary.crc);
    summary.bytes += got.size();
    const std::size_t keep_now = std::min(got.size(), keep - std::min(keep, summary.head.size()));
    summary.head.insert(summary.head.end(), got.begin(), got.begin() + keep_now);
  }
}

std::vector<Result<StreamSummary>> read_all_to_eof(std::span<const UniqueFd> fds,
                                                   std::chrono::milliseconds timeout,
                                                   std::size_t keep) {
  std::vector<Result<StreamSummary>> streams(fds.size(), StreamSummary{});
  std::vector<std::thread> readers;
  readers.reserve(fds.size());
  for (std::size_t i = 0; i < fds.size(); ++i) {
    readers.emplace_back([&, i] { streams[i] = read_to_eof(fds[i].get(), timeout, keep); });
  }
  for (std::thread& reader : readers) {
    reader.join();
  }
  return streams;
}

Result<void> write_all(int fd, std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return errno_error(ErrorCode::kIo, "write to stream", errno);
    }
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return ok();
}

uint32_t pattern_crc(uint64_t total, uint32_t seed) {
  uint32_t crc = 0;
  constexpr std::size_t kChunk = 1 << 20;
  for (uint64_t at = 0; at < total; at += kChunk) {
    const std::size_t len = static_cast<std::size_t>(std::min<uint64_t>(kChunk, total - at));
    crc = crc32(pattern_bytes(at, len, seed), crc);
  }
  return crc;
}

}  // namespace cvm::test::guest
