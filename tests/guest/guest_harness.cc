// SPDX-License-Identifier: Apache-2.0
#include "tests/guest/guest_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <fmt/format.h>
#include <thread>

#include "base/file.h"
#include "base/hex.h"
#include "firmware/sha.h"
#include "tests/guest/src/pattern.h"

namespace cvm::test::guest {

std::string guest_elf_path() { return CVMM_TEST_GUEST_ELF; }

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

Result<int> run_process(const std::vector<std::string>& argv,
                        const std::filesystem::path& output, std::chrono::milliseconds timeout) {
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

std::optional<std::string> GuestReport::value(std::string_view prefix,
                                              std::string_view key) const {
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
  return parse_report(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
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

std::string sha256_hex(std::span<const std::byte> bytes) {
  return to_hex(firmware::sha256(bytes));
}

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

}  // namespace cvm::test::guest
