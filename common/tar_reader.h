// A streaming reader of the ustar archives BASE_BACKUP sends (pg-protocol.md
// §A.6): bytes go in by chunks of any size, members come out as events
// (header, data pieces, end) without ever buffering a whole member, so a
// 1 GB relation segment costs no memory. Owns the tar format only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace cellar {

enum class TarType { file, directory, symlink, other };

struct TarMember {
  std::string name;  // as in the archive, trailing '/' removed
  TarType type = TarType::other;
  uint64_t size = 0;  // data bytes (files)
  unsigned mode = 0;
  int64_t mtime = 0;
  std::string link_target;  // symlinks
};

class TarHandler {
 public:
  virtual ~TarHandler() = default;
  virtual Status on_member(const TarMember& member) = 0;
  virtual Status on_member_data(std::string_view bytes) = 0;
  virtual Status on_member_end() = 0;
};

class TarReader {
 public:
  explicit TarReader(TarHandler& handler) : handler_(&handler) {}
  // Feeds archive bytes. Fails on a corrupt header (bad checksum, bad size).
  Status feed(std::string_view bytes);
  // The archive must have ended at a member boundary.
  Status finish() const;

 private:
  Status parse_header();
  TarHandler* handler_;
  std::string header_;         // partial 512-byte header
  uint64_t data_left_ = 0;     // data bytes of the current member still to come
  uint64_t padding_left_ = 0;  // padding after it
  bool in_member_ = false;
  bool ended_ = false;  // saw the zero end-of-archive block
};

// Whether a member name may be joined onto a destination directory: not
// empty, not absolute, no "..". Every reader of members applies it.
bool safe_member_name(const std::string& name);

// Parses one 512-byte header block (exposed for tests). Nothing for a zero block.
Result<TarMember> parse_tar_header(std::string_view block);

}  // namespace cellar
