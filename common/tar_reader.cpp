#include "common/tar_reader.h"

#include <algorithm>

namespace cellar {
namespace {

constexpr size_t kBlock = 512;

std::string field(std::string_view block, size_t off, size_t len) {
  std::string_view f = block.substr(off, len);
  size_t nul = f.find('\0');
  return std::string(f.substr(0, nul));
}

// Octal numeric field (spaces and NULs allowed around the digits).
bool parse_octal(std::string_view block, size_t off, size_t len, uint64_t& out) {
  out = 0;
  bool digits = false;
  for (char c : block.substr(off, len)) {
    if (c >= '0' && c <= '7') {
      out = out * 8 + static_cast<uint64_t>(c - '0');
      digits = true;
    } else if (c == ' ' || c == '\0') {
      if (digits) break;
    } else {
      return false;
    }
  }
  return true;
}

bool checksum_ok(std::string_view block) {
  uint64_t stored = 0;
  if (!parse_octal(block, 148, 8, stored)) return false;
  uint64_t sum = 0;
  for (size_t i = 0; i < kBlock; ++i)
    sum += (i >= 148 && i < 156) ? uint64_t(' ') : static_cast<unsigned char>(block[i]);
  return sum == stored;
}

}  // namespace

Result<TarMember> parse_tar_header(std::string_view block) {
  if (!checksum_ok(block)) return Status::failed("corrupt tar header (bad checksum)");
  TarMember m;
  std::string prefix = field(block, 345, 155);
  m.name = field(block, 0, 100);
  if (!prefix.empty()) m.name = prefix + "/" + m.name;
  while (m.name.size() > 1 && m.name.back() == '/') m.name.pop_back();
  uint64_t mode = 0, mtime = 0;
  if (!parse_octal(block, 100, 8, mode) || !parse_octal(block, 124, 12, m.size) || !parse_octal(block, 136, 12, mtime))
    return Status::failed("corrupt tar header for \"" + m.name + "\"");
  m.mode = static_cast<unsigned>(mode);
  m.mtime = static_cast<int64_t>(mtime);
  char type = block[156];
  m.type = (type == '0' || type == '\0') ? TarType::file
           : type == '5'                 ? TarType::directory
           : type == '2'                 ? TarType::symlink
                                         : TarType::other;
  if (m.type != TarType::file) m.size = m.type == TarType::other ? m.size : 0;
  m.link_target = field(block, 157, 100);
  return m;
}

Status TarReader::parse_header() {
  bool zero = std::all_of(header_.begin(), header_.end(), [](char c) { return c == '\0'; });
  if (zero) {
    ended_ = true;
    return Status::ok();
  }
  auto m = parse_tar_header(header_);
  if (!m) return m.status();
  if (!safe_member_name(m->name)) return Status::failed("unsafe member name \"" + m->name + "\" in the backup archive");
  if (Status st = handler_->on_member(*m); !st) return st;
  data_left_ = m->size;
  padding_left_ = (kBlock - m->size % kBlock) % kBlock;
  in_member_ = true;
  if (data_left_ == 0) {
    in_member_ = false;
    return handler_->on_member_end();
  }
  return Status::ok();
}

bool safe_member_name(const std::string& name) {
  return !name.empty() && name.find("..") == std::string::npos && name[0] != '/';
}

Status TarReader::feed(std::string_view bytes) {
  while (!bytes.empty()) {
    if (data_left_ > 0) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(data_left_, bytes.size()));
      if (Status st = handler_->on_member_data(bytes.substr(0, take)); !st) return st;
      data_left_ -= take;
      bytes.remove_prefix(take);
      if (data_left_ == 0) {
        in_member_ = false;
        if (Status st = handler_->on_member_end(); !st) return st;
      }
    } else if (padding_left_ > 0) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(padding_left_, bytes.size()));
      padding_left_ -= take;
      bytes.remove_prefix(take);
    } else if (ended_) {
      return Status::ok();  // trailing zero blocks
    } else {
      size_t take = std::min(kBlock - header_.size(), bytes.size());
      header_.append(bytes.substr(0, take));
      bytes.remove_prefix(take);
      if (header_.size() == kBlock) {
        Status st = parse_header();
        header_.clear();
        if (!st) return st;
      }
    }
  }
  return Status::ok();
}

Status TarReader::finish() const {
  if (in_member_ || data_left_ > 0 || !header_.empty())
    return Status::failed("backup archive ended in the middle of a member");
  return Status::ok();
}

}  // namespace cellar
