#include "wal/xlogdb.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "common/fs.h"
#include "common/log.h"
#include "common/storage.h"
#include "config/layout.h"

namespace cellar::wal {
namespace {

std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  for (std::string f; in >> f;) fields.push_back(f);
  return fields;
}

std::optional<uint64_t> parse_size(const std::string& s) {
  if (s.empty() || s.size() > 19 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::strtoull(s.c_str(), nullptr, 10);
}

std::optional<double> parse_time(const std::string& s) {
  char* end = nullptr;
  double t = std::strtod(s.c_str(), &end);
  if (s.empty() || *end != '\0' || !std::isfinite(t) || t < 0) return std::nullopt;
  return t;
}

// Cuts a torn last line (no '\n') off the catalogue, so that the next
// append starts on a line of its own. The torn line's file is still in wals/
// and archive-wal catalogues it again (its source was not yet removed). Rare:
// the file is rewritten whole, through the same durable write as any other.
Status cut_torn_tail(storage::Storage& store, const std::string& path) {
  auto info = store.info(path);
  if (!info) return info.status();
  if (!*info || (*info)->size == 0) return Status::ok();
  const uint64_t size = (*info)->size;
  const uint64_t window = std::min<uint64_t>(size, 4096);
  auto tail = storage::read_file(store, path, size - window, window);
  if (!tail) return tail.status();
  if (tail->empty() || tail->back() == '\n') return Status::ok();
  auto nl = tail->find_last_of('\n');
  if (nl == std::string::npos && window < size)
    return Status::failed("\"" + path + "\" ends with a line longer than 4096 bytes",
                          "the catalogue is damaged; move it aside and rebuild it from wals/");
  const uint64_t keep = nl == std::string::npos ? 0 : size - window + nl + 1;
  log::warning("removing a torn last line from \"" + path + "\": \"" + tail->substr(tail->size() - (size - keep)) +
               "\"");
  auto kept = storage::read_file(store, path, 0, keep);
  if (!kept) return kept.status();
  return storage::write_file(store, path, *kept);
}

}  // namespace

std::string format_xlog_entry(const XlogEntry& entry) {
  char time[64];
  std::snprintf(time, sizeof time, "%.6f", entry.time);
  return entry.name + "\t" + std::to_string(entry.size) + "\t" + time + "\t" + codec::codec_name(entry.compression) +
         (entry.encryption.empty() ? "" : "\t" + entry.encryption) + "\n";
}

std::optional<XlogEntry> parse_xlog_entry(const std::string& line) {
  auto fields = split_fields(line);
  if (fields.size() < 3 || fields.size() > 5) return std::nullopt;
  if (fields[0].find('/') != std::string::npos) return std::nullopt;
  auto size = parse_size(fields[1]);
  auto time = parse_time(fields[2]);
  if (!size || !time) return std::nullopt;
  XlogEntry e{fields[0], *size, *time, codec::Codec::none, {}};
  if (fields.size() >= 4) {
    auto c = codec::parse_codec(fields[3]);
    if (!c) return std::nullopt;
    e.compression = *c;
  }
  if (fields.size() == 5) e.encryption = fields[4];
  return e;
}

const XlogEntry* XlogDb::find(const std::string& name) const {
  for (const auto& e : entries)
    if (e.name == name) return &e;
  return nullptr;
}

std::vector<XlogEntry> XlogDb::from(const std::string& name) const {
  std::vector<XlogEntry> out;
  for (const auto& e : entries)
    if (e.name >= name) out.push_back(e);
  return out;
}

std::string xlogdb_path(const std::string& server_dir) { return layout::xlogdb_file(server_dir); }

Result<XlogDb> load_xlogdb(const std::string& path) {
  XlogDb db;
  if (!storage::exists(storage::root(), path)) return db;
  auto text = storage::read_file(storage::root(), path);
  if (!text) return text.status();
  size_t pos = 0, line_no = 0;
  while (pos < text->size()) {
    size_t nl = text->find('\n', pos);
    if (nl == std::string::npos) {
      db.torn_tail = text->substr(pos);
      log::warning("ignoring a torn last line of \"" + path + "\" (no newline): \"" + db.torn_tail + "\"");
      break;
    }
    std::string line = text->substr(pos, nl - pos);
    pos = nl + 1;
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto entry = parse_xlog_entry(line);
    if (!entry)
      return Status::failed("invalid line " + std::to_string(line_no) + " in \"" + path + "\": \"" + line + "\"",
                            "expected NAME<TAB>SIZE<TAB>EPOCH_TIME<TAB>COMPRESSION; fix or remove that line");
    db.entries.push_back(std::move(*entry));
  }
  return db;
}

Status append_xlogdb(const locks::XlogdbLock& lock, const std::string& path, const std::vector<XlogEntry>& entries) {
  if (entries.empty()) return Status::ok();
  if (Status st = lock.check_current(); !st) return st.prefix("xlog.db not written");
  storage::Storage& store = storage::root();
  if (Status st = cut_torn_tail(store, path); !st) return st;
  std::string text;
  for (const auto& e : entries) text += format_xlog_entry(e);
  return store.append(path, text);
}

Status save_xlogdb(const locks::XlogdbLock& lock, const std::string& path, const std::vector<XlogEntry>& entries) {
  if (Status st = lock.check_current(); !st) return st.prefix("xlog.db not written");
  std::string text;
  for (const auto& e : entries) text += format_xlog_entry(e);
  return storage::write_file(storage::root(), path, text);
}

}  // namespace cellar::wal
