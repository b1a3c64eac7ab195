// `cellar recover SERVER BACKUP DEST` (SPEC §1, barman-behaviour.md §10):
// restores a DONE backup into DEST and writes the recovery settings so that
// starting PostgreSQL on DEST replays WAL up to the requested target.
//
// What lands in DEST (docs/on-disk-formats.md, "Restored directory"):
//   the backup's data/ tree, decompressed, files 0600 and directories 0700;
//   pg_tblspc/<oid> symlinks to each tablespace's location (original or
//     relocated with --tablespace), whose trees are restored there;
//   cellar_wal/  the WAL recovery needs (not with --get-wal);
//   recovery.signal (standby.signal with --standby-mode);
//   postgresql.auto.conf with restore_command and the recovery_target_*
//     settings appended, archive_command = false; every configuration file it
//     edits is first copied to <file>.origin.
//
// Owns: the order of the steps and the refusals. Refusals (non-empty DEST or
// tablespace location, a target before the backup's end, a backup that is not
// DONE, missing WAL) all happen before anything is written. A failure after
// writing started puts DEST and every tablespace location back as they were
// found: one that was absent is removed again (with the parents recover
// created for it), one that was an empty directory is emptied and gets its
// mode back. A kill -9, SIGINT or SIGTERM (not caught) ends recover before it
// can undo anything: the DBA finds a non-empty DEST, which the next recover
// refuses. With --delta DEST is an existing data directory that is updated
// in place (recover_delta.h) and never put back. Not here: file
// copy mechanics (recover_copy.h), WAL selection (recover_wal.h), target
// parsing (recover_target.h), configuration edits (recover_config.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "config/config.h"
#include "recover/recover_target.h"

namespace cellar::recover {

// --tablespace NAME:LOCATION.
struct TablespaceRelocation {
  std::string name;
  std::string location;  // absolute
};

// Parses NAME:LOCATION; usage error "invalid tablespace relocation rule" when
// malformed or the location is not absolute.
Result<TablespaceRelocation> parse_relocation(const std::string& rule);

struct RecoverRequest {
  const Config* config = nullptr;
  const ServerConfig* server = nullptr;
  std::string backup;                             // BACKUP argument: id, name, latest, ...
  std::string dest;                               // DEST, absolute
  RecoveryTarget target;                          // the --target-* options
  std::vector<TablespaceRelocation> relocations;  // --tablespace
  unsigned jobs = 0;                              // worker threads; 0 = parallel_jobs
  bool get_wal = false;                           // restore_command through `cellar get-wal`
  bool standby = false;                           // standby.signal instead of recovery.signal
  bool progress = false;                          // draw a progress line on stderr
  bool delta = false;                             // update an existing DEST of the cluster (recover_delta.h)
  std::string cellar_exe;                         // absolute path of cellar, for --get-wal
  std::function<void(const std::string&)> say;    // informational lines (stdout)
};

// What recover --delta did with DEST's files (WAL copied into cellar_wal/
// included).
struct DeltaCounts {
  size_t unchanged = 0;  // left as they were
  size_t rewritten = 0;  // created, or blocks of them written
  size_t removed = 0;    // entries the backup does not have (a directory counts once)
  uint64_t written = 0;  // bytes written
  size_t trusted = 0;    // of `unchanged`, known from DEST's restore stamp without a read
  size_t mapped = 0;     // compared only in the blocks the WAL since the stamped backup changed
};

struct RecoverOutcome {
  std::string id;                     // the restored backup
  uint64_t bytes = 0;                 // bytes written (decompressed)
  size_t files = 0;                   // data and tablespace files
  size_t wal_files = 0;               // files copied into cellar_wal/
  std::vector<std::string> owned;     // DEST and tablespace locations: to chown
  std::vector<std::string> warnings;  // settings the DBA should review
  double seconds = 0;
  DeltaCounts delta;  // with --delta
};

// With --delta DEST must be a stopped data directory of the backup's cluster
// (recover_delta.h), non-empty destinations are allowed, and what differs
// is written into them; a failure then leaves DEST without global/pg_control
// (the hint says that the same command completes it), never put back.
// Fails with usage (exit 2) on bad input: a non-empty DEST or tablespace
// location (without --delta), DEST no data directory or of another cluster
// (--delta), a target before the backup's end, an unknown tablespace name,
// conflicting options; busy (exit 3) when the backup's id lock is held
// (being deleted, verified...); failed (exit 1) for a backup that is not
// DONE, PostgreSQL running on DEST (--delta), missing WAL and I/O errors. On a failure after writing started, DEST
// and the tablespace locations are put back as they were found, and the
// error's detail says so (or names what could not be removed).
Result<RecoverOutcome> recover(const RecoverRequest& request);

}  // namespace cellar::recover
