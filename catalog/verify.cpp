#include "catalog/verify.h"

#include <fcntl.h>
#include <sys/stat.h>

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
  if (!path_exists(stored)) return "\"" + mf.path + "\" is missing (" + stored + ")";
  auto in = storage::open_decompressed(storage::local(), stored, codec);
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

// Every regular file below `dir`, as full paths.
void walk(const std::string& dir, std::vector<std::string>& out) {
  auto names = list_dir(dir);
  if (!names) return;
  for (const auto& n : *names) {
    std::string p = join_path(dir, n);
    struct stat sb {};
    if (::lstat(p.c_str(), &sb) != 0) continue;
    if (S_ISDIR(sb.st_mode))
      walk(p, out);
    else
      out.push_back(p);
  }
}

void find_extra_files(const std::string& backup_dir, const std::set<std::string>& known, VerifyReport& report) {
  auto names = list_dir(backup_dir);
  if (!names) return;
  std::vector<std::string> files;
  for (const auto& n : *names) {
    std::string p = join_path(backup_dir, n);
    struct stat sb {};
    if (::lstat(p.c_str(), &sb) == 0 && S_ISDIR(sb.st_mode)) walk(p, files);
  }
  for (const auto& f : files)
    if (!known.count(f)) report.problems.push_back("\"" + f + "\" is not in the backup manifest");
}

}  // namespace

Result<VerifyReport> verify_backup(const locks::BackupIdLock&, const BackupEntry& backup) {
  auto text = read_file(layout::backup_manifest_file(backup.dir));
  if (!text) return Status(text.status()).with_hint("a backup without backup_manifest is incomplete");
  VerifyReport report;
  if (Status st = check_manifest_checksum(*text); !st) report.problems.push_back(st.message());
  auto manifest = parse_manifest(*text);
  if (!manifest) return manifest.status();
  auto codec = codec::parse_codec(backup.info.compression.empty() ? "none" : backup.info.compression);
  if (!codec) return Status::failed("backup " + backup.info.backup_id + " has an unknown compression");
  std::set<std::string> known;
  for (const auto& mf : manifest->files) {
    std::string stored = stored_path_of(backup.dir, mf.path, *codec);
    known.insert(stored);
    ++report.files_checked;
    if (std::string problem = check_file(stored, *codec, mf); !problem.empty()) report.problems.push_back(problem);
  }
  find_extra_files(backup.dir, known, report);
  return report;
}

}  // namespace cellar::catalog
