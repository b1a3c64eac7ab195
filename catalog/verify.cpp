#include "catalog/verify.h"

#include <algorithm>
#include <set>

#include "catalog/manifest.h"
#include "common/codec.h"
#include "common/crc32c.h"
#include "common/fs.h"
#include "common/storage_filter.h"
#include "config/layout.h"

namespace cellar::catalog {
namespace {

std::string check_file(const std::string& stored, codec::Codec codec, const ManifestFile& mf) {
  if (!storage::exists(storage::root(), stored)) return "\"" + mf.path + "\" is missing (" + stored + ")";
  auto in = storage::open_decompressed(storage::root(), stored, codec);
  if (!in) return "\"" + mf.path + "\" is unreadable: " + in.status().message();
  Crc32c crc;
  uint64_t size = 0;
  auto read = storage::drain(**in, [&](std::string_view piece) {
    crc.update(piece);
    size += piece.size();
    return Status::ok();
  });
  if (!read) return "\"" + mf.path + "\" is unreadable: " + read.status().message();
  if (size != mf.size)
    return "\"" + mf.path + "\" has size " + std::to_string(size) + " instead of " + std::to_string(mf.size);
  if (mf.checksum_algorithm == "CRC32C" && crc32c_manifest_hex(crc.value()) != mf.checksum)
    return "\"" + mf.path + "\" has checksum " + crc32c_manifest_hex(crc.value()) + " instead of " + mf.checksum;
  return "";
}

// Every file in a subdirectory of the backup (data/, tablespaces) that the
// manifest does not name; backup.info and backup_manifest sit at the top.
void find_extra_files(const std::string& backup_dir, const std::set<std::string>& known, VerifyReport& report) {
  auto files = storage::root().list_tree(backup_dir);
  if (!files) return;
  for (const auto& e : *files) {
    if (e.is_dir || e.name.find('/') == std::string::npos) continue;
    std::string f = join_path(backup_dir, e.name);
    if (!known.count(f)) report.problems.push_back("\"" + f + "\" is not in the backup manifest");
  }
}

const char kIncrementalPrefix[] = "INCREMENTAL.";

// "a/INCREMENTAL.b" -> "a/b"; "" for any other path.
std::string whole_name(const std::string& path) {
  size_t at = path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1;
  if (path.compare(at, sizeof kIncrementalPrefix - 1, kIncrementalPrefix) != 0) return "";
  return path.substr(0, at) + path.substr(at + sizeof kIncrementalPrefix - 1);
}

Result<std::set<std::string>> manifest_paths(const BackupEntry& b) {
  auto text = storage::read_file(storage::root(), layout::backup_manifest_file(b.dir));
  if (!text) return text.status();
  auto manifest = parse_manifest(*text);
  if (!manifest) return manifest.status();
  std::set<std::string> out;
  for (const auto& f : manifest->files) out.insert(f.path);
  return out;
}

}  // namespace

Result<ChainReport> verify_chain(const locks::BackupIdLock& lock, const Catalogue& catalogue,
                                 const BackupEntry& backup) {
  ChainReport out;
  auto first = verify_backup(lock, backup);
  if (!first) return first.status();
  out.report = std::move(*first);
  for (const BackupEntry* child = &backup; child->info.incremental();) {
    const std::string& pid = child->info.parent_backup_id;
    auto parent = std::find_if(catalogue.backups.begin(), catalogue.backups.end(),
                               [&](const BackupEntry& e) { return e.info.backup_id == pid; });
    if (parent == catalogue.backups.end() || parent->status != BackupStatus::done ||
        out.chain_length > static_cast<int>(catalogue.backups.size())) {
      out.report.problems.push_back("backup " + child->info.backup_id + " builds on backup " + pid +
                                    ", which is not a DONE backup of server '" + catalogue.server + "'");
      break;
    }
    ++out.chain_length;
    auto mine = manifest_paths(*child);
    auto theirs = manifest_paths(*parent);
    if (mine && theirs)
      for (const auto& path : *mine)
        if (std::string whole = whole_name(path); !whole.empty() && !theirs->count(whole) && !theirs->count(path))
          out.report.problems.push_back("\"" + path + "\" of backup " + child->info.backup_id +
                                        " has no base in backup " + pid);
    auto report = verify_backup(lock, *parent);
    if (!report) {
      out.report.problems.push_back("backup " + pid + ": " + report.status().message());
      break;
    }
    out.report.files_checked += report->files_checked;
    for (const auto& p : report->problems) out.report.problems.push_back("backup " + pid + ": " + p);
    child = &*parent;
  }
  return out;
}

Result<VerifyReport> verify_backup(const locks::BackupIdLock&, const BackupEntry& backup) {
  auto text = storage::read_file(storage::root(), layout::backup_manifest_file(backup.dir));
  if (!text) return Status(text.status()).with_hint("a backup without backup_manifest is incomplete");
  VerifyReport report;
  if (Status st = check_manifest_checksum(*text); !st) report.problems.push_back(st.message());
  auto manifest = parse_manifest(*text);
  if (!manifest) return manifest.status();
  auto codec = codec::parse_codec(backup.info.compression.empty() ? "none" : backup.info.compression);
  if (!codec) return Status::failed("backup " + backup.info.backup_id + " has an unknown compression");
  std::set<std::string> known;
  for (const auto& mf : manifest->files) {
    ++report.files_checked;
    // Not stored: an unchanged segment, described by the manifest alone
    // (whose checksum is checked above); a file under its name is extra.
    if (mf.unchanged_blocks) continue;
    std::string stored = stored_path_of(backup.dir, mf.path, *codec);
    known.insert(stored);
    if (std::string problem = check_file(stored, *codec, mf); !problem.empty()) report.problems.push_back(problem);
  }
  find_extra_files(backup.dir, known, report);
  return report;
}

}  // namespace cellar::catalog
