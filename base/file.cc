// SPDX-License-Identifier: Apache-2.0
#include "base/file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/unique_fd.h"

namespace cvm {
namespace {

Result<UniqueFd> open_regular(const std::string& path, std::size_t max_size, std::size_t* size) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    const int err = errno;
    return errno_error(err == ENOENT ? ErrorCode::kNotFound : ErrorCode::kIo, path, err);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return errno_error(ErrorCode::kIo, path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return make_error(ErrorCode::kInvalidArgument, "{}: not a regular file", path);
  }
  if (static_cast<std::size_t>(st.st_size) > max_size) {
    return make_error(ErrorCode::kInvalidArgument, "{}: file too large ({} bytes, limit {})", path,
                      st.st_size, max_size);
  }
  *size = static_cast<std::size_t>(st.st_size);
  return fd;
}

Result<void> read_all(int fd, const std::string& path, std::byte* out, std::size_t size) {
  std::size_t done = 0;
  while (done < size) {
    const ssize_t n = ::read(fd, out + done, size - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return errno_error(ErrorCode::kIo, path, errno);
    }
    if (n == 0) {
      return make_error(ErrorCode::kIo, "{}: file shrank while being read", path);
    }
    done += static_cast<std::size_t>(n);
  }
  return ok();
}

}  // namespace

Result<std::vector<std::byte>> read_file(const std::string& path, std::size_t max_size) {
  std::size_t size = 0;
  CVM_ASSIGN_OR_RETURN(UniqueFd fd, open_regular(path, max_size, &size));
  std::vector<std::byte> bytes(size);
  CVM_TRY(read_all(fd.get(), path, bytes.data(), size));
  return bytes;
}

Result<std::string> read_text_file(const std::string& path, std::size_t max_size) {
  std::size_t size = 0;
  CVM_ASSIGN_OR_RETURN(UniqueFd fd, open_regular(path, max_size, &size));
  std::string text(size, '\0');
  CVM_TRY(read_all(fd.get(), path, reinterpret_cast<std::byte*>(text.data()), size));
  return text;
}

}  // namespace cvm
