// Errors as values (leveldb Status). A Status carries a category that maps to
// the exit code of SPEC §2 in exactly one place (exit_code_of), a primary
// message in PostgreSQL's style (lowercase, no final period), and optional
// detail and hint. Result<T> is a value or a Status. Nothing here throws.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace cellar {

enum class ErrorCode {
  ok,
  failed,  // the operation failed: exit 1
  usage,   // usage or configuration error: exit 2
  busy,    // a lock the command needs is held by another process: exit 3
};

// The one mapping from error category to process exit code (SPEC §2).
int exit_code_of(ErrorCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  static Status ok() { return {}; }
  static Status failed(std::string message, std::string hint = {}) {
    return {ErrorCode::failed, std::move(message), std::move(hint)};
  }
  static Status usage(std::string message, std::string hint = {}) {
    return {ErrorCode::usage, std::move(message), std::move(hint)};
  }
  static Status busy(std::string message, std::string hint = {}) {
    return {ErrorCode::busy, std::move(message), std::move(hint)};
  }
  // errno-based failure: "<what>: <strerror(err)>".
  static Status from_errno(const std::string& what, int err);

  bool is_ok() const { return code_ == ErrorCode::ok; }
  explicit operator bool() const { return is_ok(); }
  ErrorCode code() const { return code_; }
  const std::string& message() const { return message_; }
  const std::string& hint() const { return hint_; }
  const std::string& detail() const { return detail_; }
  Status& with_hint(std::string hint) {
    hint_ = std::move(hint);
    return *this;
  }
  Status& with_detail(std::string detail) {
    detail_ = std::move(detail);
    return *this;
  }
  // Prefixes the primary message: "<context>: <message>".
  Status& prefix(const std::string& context) {
    message_ = context + ": " + message_;
    return *this;
  }
  // "ERROR: message" plus "DETAIL: " / "HINT: " lines where present.
  std::string to_string() const;

 private:
  Status(ErrorCode code, std::string message, std::string hint)
      : code_(code), message_(std::move(message)), hint_(std::move(hint)) {}
  ErrorCode code_ = ErrorCode::ok;
  std::string message_;
  std::string hint_;
  std::string detail_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).is_ok()); }
  bool is_ok() const { return v_.index() == 0; }
  explicit operator bool() const { return is_ok(); }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  // By value on a temporary, so `for (auto& x : *make_result())` cannot dangle.
  T operator*() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Status& status() const {
    static const Status ok_status;
    return is_ok() ? ok_status : std::get<Status>(v_);
  }

 private:
  std::variant<T, Status> v_;
};

}  // namespace cellar
