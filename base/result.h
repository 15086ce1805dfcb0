// SPDX-License-Identifier: Apache-2.0
// Error and Result<T>: the one error type of cvmm (architecture-anchors §B.6).
// Member names follow std::expected so that a later switch is an alias change.
// Included by every module; depends on nothing internal.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace cvm {

/// What kind of failure an Error is; callers branch on this, never on the text.
enum class ErrorCode {
  kInvalidArgument,     // bad user input: flag, config value, path
  kMalformedImage,      // a kernel, firmware or disk image fails validation
  kNotFound,            // a file or resource is missing
  kNotSupportedByHost,  // the host lacks a capability (no /dev/kvm, no TDX, ...)
  kKvm,                 // a KVM ioctl failed
  kTeeFirmware,         // the TDX module or the SEV firmware returned an error status
  kIo,                  // a system call other than a KVM ioctl failed
  kGuest,               // the guest did something the VMM refuses
  kInternal,            // a bug in cvmm
};

/// An error with a context chain. It prints as "outer: inner: root cause",
/// lower-case and without a trailing period (LLVM message style).
class Error final {
 public:
  Error(ErrorCode code, std::string message, int sys_errno = 0, uint64_t fw_status = 0)
      : code_(code), message_(std::move(message)), sys_errno_(sys_errno), fw_status_(fw_status) {}

  /// Prepends "what: " to the message; returns *this for chaining.
  Error& context(std::string_view what) & {
    message_ = fmt::format("{}: {}", what, message_);
    return *this;
  }
  Error&& context(std::string_view what) && {
    message_ = fmt::format("{}: {}", what, message_);
    return std::move(*this);
  }

  ErrorCode code() const noexcept { return code_; }
  const std::string& message() const noexcept { return message_; }
  /// errno of the failing system call, 0 if none.
  int sys_errno() const noexcept { return sys_errno_; }
  /// Status word of the TDX module / SEV firmware, 0 if none.
  uint64_t fw_status() const noexcept { return fw_status_; }

 private:
  ErrorCode code_;
  std::string message_;
  int sys_errno_;
  uint64_t fw_status_;
};

/// Builds an Error from a format string.
template <typename... Args>
Error make_error(ErrorCode code, fmt::format_string<Args...> format, Args&&... args) {
  return Error(code, fmt::format(format, std::forward<Args>(args)...));
}

/// Builds a kIo/kKvm error that carries errno and its strerror text:
/// "<what>: <strerror(err)>".
Error errno_error(ErrorCode code, std::string_view what, int err);

/// Tag type to construct a failed Result, like std::unexpected.
class Unexpected final {
 public:
  explicit Unexpected(Error error) : error_(std::move(error)) {}
  Error& error() & noexcept { return error_; }
  Error&& error() && noexcept { return std::move(error_); }

 private:
  Error error_;
};

/// A value or an Error.
template <typename T>
class [[nodiscard]] Result final {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit like expected
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  Result(Unexpected u) : state_(std::in_place_index<1>, std::move(u).error()) {}  // NOLINT

  bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  Error& error() & { return std::get<1>(state_); }
  const Error& error() const& { return std::get<1>(state_); }
  Error&& error() && { return std::get<1>(std::move(state_)); }

  template <typename F>
  auto and_then(F&& f) && -> std::invoke_result_t<F, T&&> {
    if (!has_value()) {
      return std::move(*this).error();
    }
    return std::forward<F>(f)(std::move(*this).value());
  }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> final {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT
  Result(Unexpected u) : error_(std::move(u).error()), failed_(true) {}  // NOLINT

  bool has_value() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return has_value(); }
  void value() const {}

  Error& error() & { return error_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_{ErrorCode::kInternal, ""};
  bool failed_ = false;
};

/// Success value for Result<void>.
inline Result<void> ok() { return {}; }

}  // namespace cvm

#define CVM_CONCAT_INNER_(a, b) a##b
#define CVM_CONCAT_(a, b) CVM_CONCAT_INNER_(a, b)

/// Evaluates a Result-returning expression; returns its error from the caller on failure.
#define CVM_TRY(expr)                               \
  do {                                              \
    auto cvm_try_result_ = (expr);                  \
    if (!cvm_try_result_.has_value()) {             \
      return std::move(cvm_try_result_).error();    \
    }                                               \
  } while (false)

/// `CVM_ASSIGN_OR_RETURN(auto x, f())`: declares/assigns lhs from a Result or returns its error.
#define CVM_ASSIGN_OR_RETURN(lhs, expr) \
  CVM_ASSIGN_OR_RETURN_IMPL_(CVM_CONCAT_(cvm_result_, __LINE__), lhs, expr)
#define CVM_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.has_value()) {                          \
    return std::move(tmp).error();                 \
  }                                                \
  lhs = std::move(tmp).value()

namespace cvm::detail {
[[noreturn]] void check_failed(const char* file, int line, const char* cond, const char* msg);
}  // namespace cvm::detail

/// Aborts (also in release builds) when an internal invariant that memory safety depends
/// on is broken. Never use it for guest- or user-controlled input.
#define CVM_CHECK(cond, msg)                                         \
  do {                                                               \
    if (!(cond)) {                                                   \
      ::cvm::detail::check_failed(__FILE__, __LINE__, #cond, (msg)); \
    }                                                                \
  } while (false)

#define CVM_UNREACHABLE(msg) ::cvm::detail::check_failed(__FILE__, __LINE__, "unreachable", (msg))
