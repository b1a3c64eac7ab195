#include "sync/sync_stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "catalog/catalogue.h"
#include "common/fs.h"
#include "common/storage.h"
#include "common/tar_reader.h"
#include "config/layout.h"
#include "config/names.h"
#include "locks/lock_backend.h"
#include "locks/typed_lock.h"
#include "pg/wal_names.h"
#include "wal/wal_store.h"

namespace cellar::sync {
namespace {

constexpr uint64_t kSmallestSegmentSize = 1024 * 1024;

// Zero-padded octal in width-1 digits plus NUL, as ustar wants.
void put_octal(std::string& block, size_t at, size_t width, uint64_t value) {
  for (size_t i = width - 1; i-- > 0; value >>= 3) block[at + i] = static_cast<char>('0' + (value & 7));
  block[at + width - 1] = '\0';
}

struct Member {
  std::string name;  // path under wals/ or base/<id>/; directories without a trailing '/'
  std::string path;  // the stored file
  bool is_dir = false;
};

// Hands the whole file at `path` (already opened as `in`) to `out`; its size
// must stay `size` (a file that changed under us is an error, not a short member).
Status copy_exact(storage::Reader& in, TarHandler& out, uint64_t size, const std::string& path) {
  char buf[1 << 16];
  uint64_t left = size;
  while (left > 0) {
    auto n = in.read(buf, static_cast<size_t>(std::min<uint64_t>(sizeof buf, left)));
    if (!n) return n.status();
    if (*n == 0) return Status::failed("\"" + path + "\" shrank while being sent");
    if (Status s = out.on_member_data(std::string_view(buf, *n)); !s) return s;
    left -= *n;
  }
  return Status::ok();
}

Status emit_member(const Member& m, TarHandler& out) {
  if (m.is_dir) {
    TarMember dir{m.name, TarType::directory, 0, 0700, 0, {}};
    if (Status s = out.on_member(dir); !s) return s;
    return out.on_member_end();
  }
  auto st = storage::root().info(m.path);
  if (!st) return st.status();
  if (!*st) return Status::failed("\"" + m.path + "\" disappeared while being sent");
  const uint64_t size = (*st)->size;
  auto in = storage::root().open_read(m.path);
  if (!in) return in.status();
  if (Status s = out.on_member({m.name, TarType::file, size, 0600, (*st)->mtime, {}}); !s) return s;
  if (Status s = copy_exact(**in, out, size, m.path); !s) return s;
  return out.on_member_end();
}

// Every directory and file under `dir` but backup.info, parents first.
Result<std::vector<Member>> backup_members(const std::string& dir) {
  std::vector<Member> out;
  auto entries = storage::root().list_tree(dir);
  if (!entries) return entries.status();
  for (const auto& e : *entries) {
    if (e.name == layout::kBackupInfoName) continue;
    out.push_back({e.name, join_path(dir, e.name), e.is_dir});
  }
  std::sort(out.begin(), out.end(), [](const Member& a, const Member& b) { return a.name < b.name; });
  return out;
}

// The sync stream itself: members as ustar on `fd`, then the end blocks.
class TarWriter final : public TarHandler {
 public:
  explicit TarWriter(int fd) : fd_(fd) {}
  Status on_member(const TarMember& m) override {
    const bool dir = m.type == TarType::directory;
    auto header = make_tar_header(m.name + (dir ? "/" : ""), dir ? '5' : '0', m.size, m.mode, m.mtime);
    if (!header) return header.status();
    size_ = m.size;
    return write_all(fd_, *header, "the sync stream");
  }
  Status on_member_data(std::string_view bytes) override { return write_all(fd_, bytes, "the sync stream"); }
  Status on_member_end() override {
    return write_all(fd_, std::string((512 - size_ % 512) % 512, '\0'), "the sync stream");
  }
  Status finish() { return write_all(fd_, std::string(1024, '\0'), "the sync stream"); }

 private:
  int fd_;
  uint64_t size_ = 0;
};

}  // namespace

Result<std::string> make_tar_header(const std::string& name, char type, uint64_t size, unsigned mode, int64_t mtime) {
  std::string prefix, base = name;
  if (base.size() > 100) {
    size_t cut = name.rfind('/', 155);
    if (cut == std::string::npos || name.size() - cut - 1 > 100)
      return Status::usage("path \"" + name + "\" is too long for the sync stream");
    prefix = name.substr(0, cut);
    base = name.substr(cut + 1);
  }
  std::string block(512, '\0');
  std::memcpy(block.data(), base.data(), base.size());
  put_octal(block, 100, 8, mode);
  put_octal(block, 108, 8, 0);
  put_octal(block, 116, 8, 0);
  put_octal(block, 124, 12, size);
  put_octal(block, 136, 12, static_cast<uint64_t>(mtime < 0 ? 0 : mtime));
  block[156] = type;
  std::memcpy(block.data() + 257, "ustar", 6);
  std::memcpy(block.data() + 263, "00", 2);
  std::memcpy(block.data() + 345, prefix.data(), prefix.size());
  std::memset(block.data() + 148, ' ', 8);
  uint64_t sum = 0;
  for (char c : block) sum += static_cast<unsigned char>(c);
  put_octal(block, 148, 7, sum);  // six digits, NUL, and the space already there
  return block;
}

Status emit_wal_files(const std::string& wals_dir, const std::string& server, const std::vector<std::string>& names,
                      TarHandler& out) {
  std::vector<Member> members;
  for (const std::string& name : names) {
    if (!pg::parse_wal_file_name(name, kSmallestSegmentSize))
      return Status::usage("\"" + name + "\" is not a WAL file name");
    auto found = wal::find_archived(wals_dir, name);
    if (!found) return Status::failed("WAL file \"" + name + "\" is not archived for server \"" + server + "\"");
    members.push_back({found->path.substr(wals_dir.size() + 1), found->path});
  }
  for (const Member& m : members)
    if (Status s = emit_member(m, out); !s) return s;
  return Status::ok();
}

Status emit_backup_files(const std::string& backup_dir, TarHandler& out) {
  auto members = backup_members(backup_dir);
  if (!members) return members.status();
  for (const Member& m : *members)
    if (Status s = emit_member(m, out); !s) return s;
  return Status::ok();
}

Status send_wal_stream(const Config& config, const std::string& server, const std::vector<std::string>& names, int fd) {
  TarWriter tar(fd);
  if (Status s = emit_wal_files(wal::wals_dir(config.server_dir(server)), server, names, tar); !s) return s;
  return tar.finish();
}

Status send_backup_stream(const Config& config, const std::string& server, const std::string& backup_id, int fd) {
  if (!is_backup_id(backup_id)) return Status::usage("\"" + backup_id + "\" is not a backup id");
  auto lock = locks::BackupIdLock::acquire(locks::lock_manager(config), server, backup_id);
  if (!lock) return lock.status();
  auto catalogue = catalog::load_catalogue(config, server);
  if (!catalogue) return catalogue.status();
  const catalog::BackupEntry* found = nullptr;
  for (const auto& b : catalogue->backups)
    if (b.info.backup_id == backup_id) found = &b;
  if (!found || found->status != catalog::BackupStatus::done)
    return Status::failed("backup " + backup_id + " of server \"" + server + "\" is not DONE on this node");
  TarWriter tar(fd);
  if (Status s = emit_backup_files(found->dir, tar); !s) return s;
  return tar.finish();
}

}  // namespace cellar::sync
