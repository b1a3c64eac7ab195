// Turns the BASE_BACKUP event stream into a backup directory (SPEC §3):
// base.tar → data/, <oid>.tar → <oid>/, regular files through the
// FilePipeline (compressed, committed through the storage layer without a
// directory fsync each), directories created as they come, pg_tblspc/<oid>
// symlinks recorded, the manifest streamed into an uncommitted storage write
// (and kept in memory, where it is parsed anyway). complete() fsyncs every
// directory once and commits the manifest last, so a directory with
// backup_manifest holds a complete copy (pg_basebackup's rule).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "backup/file_pipeline.h"
#include "common/fs.h"
#include "common/storage.h"
#include "common/tar_reader.h"
#include "pg/base_backup.h"

namespace cellar::backup {

// Called with (bytes done, bytes expected; 0 when unknown).
using ProgressFn = std::function<void(uint64_t, uint64_t)>;

struct CopyResult {
  pg::BaseBackupStart start;
  std::vector<FileOutcome> files;
  std::map<uint32_t, std::string> tablespace_links;  // oid → symlink target in pg_tblspc
  uint64_t size = 0;                                 // bytes on disk
  uint64_t deduplicated_size = 0;                    // bytes on disk not shared with the previous backup
  uint64_t cluster_size = 0;                         // bytes before compression
};

class StreamWriter final : public pg::BaseBackupSink, private TarHandler {
 public:
  StreamWriter(std::string backup_dir, const PipelineOptions& pipeline, ProgressFn progress);

  // BaseBackupSink
  Status on_start(const pg::BaseBackupStart& start) override;
  Status on_archive(const std::string& name, const std::string& path) override;
  Status on_data(std::string_view bytes) override;
  Status on_progress(uint64_t done) override;
  Status on_manifest() override;

  // After BASE_BACKUP ended: waits for the workers, checks every file against
  // the manifest (size and CRC-32C computed while writing), fsyncs the
  // directories, then durably renames the manifest into place.
  Result<CopyResult> complete();

 private:
  Status on_member(const TarMember& member) override;
  Status on_member_data(std::string_view bytes) override;
  Status on_member_end() override;
  Status end_archive();
  Status ensure_dir(const std::string& dir);
  Status check_against_manifest(const std::vector<FileOutcome>& files);

  std::string dir_;
  FilePipeline pipeline_;
  ProgressFn progress_;
  CopyResult result_;
  uint64_t total_ = 0;
  std::unique_ptr<TarReader> tar_;
  std::string root_;             // where the current archive's members go
  std::string manifest_prefix_;  // "" for base.tar, "pg_tblspc/<oid>/" otherwise
  bool main_archive_ = false;
  bool in_file_ = false;
  std::unique_ptr<storage::Writer> manifest_out_;
  std::string manifest_text_;
  std::set<std::string> dirs_;
};

}  // namespace cellar::backup
