#include "backup/stream_writer.h"

#include "catalog/manifest.h"
#include "common/crc32c.h"
#include "common/pause_point.h"
#include "config/layout.h"

namespace cellar::backup {

StreamWriter::StreamWriter(std::string backup_dir, const PipelineOptions& pipeline, ProgressFn progress)
    : dir_(std::move(backup_dir)), pipeline_(pipeline), progress_(std::move(progress)) {}

Status StreamWriter::on_start(const pg::BaseBackupStart& start) {
  result_.start = start;
  for (const auto& t : start.tablespaces) total_ += t.size_kb.value_or(0) * 1024;
  pause_point("backup-streaming");  // tests: the checkpoint is done, the archive stream comes next
  return Status::ok();
}

Status StreamWriter::ensure_dir(const std::string& dir) {
  if (dirs_.count(dir)) return Status::ok();
  if (Status st = storage::root().make_dir(dir); !st) return st;
  dirs_.insert(dir);
  return Status::ok();
}

Status StreamWriter::end_archive() {
  if (!tar_) return Status::ok();
  Status st = tar_->finish();
  tar_.reset();
  return st;
}

Status StreamWriter::on_archive(const std::string& name, const std::string&) {
  if (Status st = end_archive(); !st) return st;
  main_archive_ = name == "base.tar";
  if (main_archive_) {
    root_ = layout::backup_data_dir(dir_);
    manifest_prefix_.clear();
  } else {
    std::string oid = name.substr(0, name.find('.'));
    bool numeric = !oid.empty() && oid.find_first_not_of("0123456789") == std::string::npos;
    if (!numeric || name != oid + ".tar")
      return Status::failed("server sent archive \"" + name + "\"", "server-side compression is not supported");
    root_ = join_path(dir_, oid);
    manifest_prefix_ = "pg_tblspc/" + oid + "/";
  }
  if (Status st = ensure_dir(root_); !st) return st;
  tar_ = std::make_unique<TarReader>(static_cast<TarHandler&>(*this));
  return Status::ok();
}

Status StreamWriter::on_data(std::string_view bytes) {
  if (manifest_out_) {
    manifest_text_.append(bytes);
    return manifest_out_->write(bytes);
  }
  if (!tar_) return Status::failed("BASE_BACKUP sent data before any archive");
  return tar_->feed(bytes);
}

Status StreamWriter::on_progress(uint64_t done) {
  if (progress_) progress_(done, total_);
  return Status::ok();
}

Status StreamWriter::on_manifest() {
  if (Status st = end_archive(); !st) return st;
  auto out = storage::root().open_write(layout::backup_manifest_file(dir_));
  if (!out) return out.status();
  manifest_out_ = std::move(*out);
  return Status::ok();
}

// BASE_BACKUP names pg_wal's members "./pg_wal/..."; the archive's paths
// have no "." component (an object store would take it literally).
static std::string member_path(const std::string& name) {
  std::string_view n = name;
  while (n.starts_with("./")) n.remove_prefix(2);
  return std::string(n);
}

Status StreamWriter::on_member(const TarMember& m) {
  std::string path = join_path(root_, member_path(m.name));
  switch (m.type) {
    case TarType::directory:
      return ensure_dir(path);
    case TarType::symlink: {
      // pg_tblspc/<oid> → the tablespace location; recorded, not created.
      const std::string spc = "pg_tblspc/";
      std::string oid = m.name.compare(0, spc.size(), spc) == 0 ? m.name.substr(spc.size()) : "";
      bool numeric = !oid.empty() && oid.size() < 11 && oid.find_first_not_of("0123456789") == std::string::npos;
      if (main_archive_ && numeric) result_.tablespace_links[static_cast<uint32_t>(std::stoul(oid))] = m.link_target;
      return Status::ok();
    }
    case TarType::file:
      if (Status st = ensure_dir(dirname_of(path)); !st) return st;
      in_file_ = true;
      return pipeline_.begin_file(manifest_prefix_ + member_path(m.name), path, m.size);
    case TarType::other:
      return Status::ok();
  }
  return Status::ok();
}

Status StreamWriter::on_member_data(std::string_view bytes) { return in_file_ ? pipeline_.write(bytes) : Status::ok(); }

Status StreamWriter::on_member_end() {
  if (!in_file_) return Status::ok();
  in_file_ = false;
  return pipeline_.end_file();
}

Status StreamWriter::check_against_manifest(const std::vector<FileOutcome>& files) {
  if (Status st = catalog::check_manifest_checksum(manifest_text_); !st) return st;
  auto manifest = catalog::parse_manifest(manifest_text_);
  if (!manifest) return manifest.status();
  std::unordered_map<std::string, const catalog::ManifestFile*> by_path;
  for (const auto& f : manifest->files) by_path[f.path] = &f;
  for (const auto& f : files) {
    auto it = by_path.find(f.manifest_path);
    if (it == by_path.end()) return Status::failed("file \"" + f.manifest_path + "\" is not in the backup manifest");
    const catalog::ManifestFile& mf = *it->second;
    bool crc_ok = mf.checksum_algorithm != "CRC32C" || mf.checksum == crc32c_manifest_hex(f.crc);
    if (mf.size != f.size || !crc_ok)
      return Status::failed("file \"" + f.manifest_path + "\" does not match the backup manifest (received " +
                            std::to_string(f.size) + " bytes, manifest says " + std::to_string(mf.size) + ")");
  }
  if (by_path.size() != files.size())
    return Status::failed("the backup manifest lists " + std::to_string(by_path.size()) + " files, " +
                          std::to_string(files.size()) + " were received");
  return Status::ok();
}

Result<CopyResult> StreamWriter::complete() {
  if (Status st = end_archive(); !st) return st;
  auto files = pipeline_.finish();
  if (!files) return files.status();
  if (!manifest_out_) return Status::failed("BASE_BACKUP sent no backup manifest");
  if (Status st = check_against_manifest(*files); !st) return st;
  // Files were committed by the workers without a directory fsync each.
  for (const auto& d : dirs_)
    if (Status st = storage::root().sync_dir(d); !st) return st;
  if (Status st = manifest_out_->commit(); !st) return st;
  for (const auto& f : *files) {
    result_.size += f.stored_size;
    result_.cluster_size += f.size;
    if (!f.linked) result_.deduplicated_size += f.stored_size;
  }
  result_.files = std::move(*files);
  return std::move(result_);
}

}  // namespace cellar::backup
