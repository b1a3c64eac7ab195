#include "common/status.h"

#include <cstring>

namespace cellar {

int exit_code_of(ErrorCode code) {
  switch (code) {
    case ErrorCode::ok:
      return 0;
    case ErrorCode::failed:
      return 1;
    case ErrorCode::usage:
      return 2;
    case ErrorCode::busy:
      return 3;
  }
  return 1;
}

Status Status::from_errno(const std::string& what, int err) { return Status::failed(what + ": " + std::strerror(err)); }

std::string Status::to_string() const {
  std::string out = "ERROR: " + message_;
  if (!detail_.empty()) out += "\nDETAIL: " + detail_;
  if (!hint_.empty()) out += "\nHINT: " + hint_;
  return out;
}

}  // namespace cellar
