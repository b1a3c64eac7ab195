// `recover --delta`: restoring a backup into an existing data directory of
// the same cluster, PostgreSQL stopped, writing only what differs.
// - The refusals (DEST is no data directory, PostgreSQL runs on it, it
//   belongs to another cluster), before anything is written.
// - global/pg_control is renamed to global/pg_control.cellar-delta before
//   anything changes, so that PostgreSQL cannot start a half-restored
//   directory while the next `recover --delta` still knows its system
//   identifier; recover writes pg_control last and then drops the marker.
// - What the plan does not create is removed; a file is compared with the
//   backup's copy (its size and CRC-32C first, then block by block) and only
//   blocks that differ are written.
// Not here: the order of the steps (recover.cpp), the threads (recover_copy.h).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "recover/recover_copy.h"

namespace cellar::recover {

// The control file's name while a delta restore is under way (PostgreSQL
// ignores it).
inline constexpr const char* kHiddenControlFile = "global/pg_control.cellar-delta";

// Fails with usage when `dest` is no PostgreSQL data directory (no PG_VERSION,
// or neither global/pg_control nor the hidden one) or its system identifier is
// not `systemid`; with failed when DEST/postmaster.pid names a live process.
Status check_delta_destination(const std::string& dest, const std::string& systemid);

// Renames DEST/global/pg_control to kHiddenControlFile (when present) and
// fsyncs global/.
Status hide_control_file(const std::string& dest);

// Removes the hidden control file once pg_control is written and fsynced.
Status drop_hidden_control_file(const std::string& dest);

// Removes every file, directory and symlink under `roots` that `plan` does
// not create as such (a symlink with another target, a file where a
// directory is planned...), except the paths in `keep`. Symlinks are never
// followed. Returns how many entries were removed (a directory counts once).
Result<size_t> remove_unplanned(const RestorePlan& plan, const std::vector<std::string>& roots,
                                const std::vector<std::string>& keep);

// True when `link` is a symbolic link to `target`.
bool symlink_points_at(const std::string& link, const std::string& target);

struct DeltaWrite {
  uint64_t bytes = 0;      // the restored file's size
  uint64_t written = 0;    // bytes written into it
  bool rewritten = false;  // anything written, or its size changed
  bool trusted = false;    // left alone on the restore stamp's word, unread
  bool mapped = false;     // compared only in the blocks the WAL changed
};

// For a relation file (`manifest_path`, main fork) whose DEST copy is known
// to be the stamped backup's (`dest_size` bytes): which blocks may differ in
// the backup being restored, when `map` covers the WAL between the two
// backups. Nothing when the file must be compared whole: no main fork, a
// database copied or dropped, the relation created, dropped or cut before
// this segment (the rules of the incremental backup, backup/incremental_copy.h).
std::optional<std::function<bool(uint64_t)>> blocks_that_may_differ(const std::string& manifest_path,
                                                                    uint64_t dest_size, const incr::ChangeMap& map);

// Brings `job.dest` (created when absent) to the content `job` restores:
// left alone when its size and CRC-32C are the manifest's (taken from
// `hints.stamp` without a read when it trusts the file); with a trusted file
// and `hints.map`, only the blocks the map says may differ are compared;
// otherwise only
// the 8 KiB blocks that differ are written, then the file is cut to its size
// and fsynced. Fails like copy_one when the backup's copy does not match its
// manifest (blocks may already have been written then).
Result<DeltaWrite> delta_one(const CopyJob& job, const DeltaHints& hints = {});

}  // namespace cellar::recover
