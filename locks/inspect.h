// Inspection of a lock directory (SPEC §5.4), the engine of `cellar locks`:
// which lock files exist, which are held and by whom, and the safe removal of
// free ones. Listing never takes a lock: it reads the kernel's lock table
// (/proc/locks) once per scan and each file's content read-only, so it never
// makes a concurrent command fail as busy. Only clean_locks() takes locks,
// each one briefly while removing its file. Rendering is the caller's.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "locks/lock_names.h"

namespace cellar::locks {

struct LockEntry {
  std::string file;                  // basename in the lock directory
  std::optional<LockName> name;      // none: the file matches no kind ("unknown")
  bool held = false;                 // per the kernel lock table
  std::optional<pid_t> pid;          // holder per the kernel; none when free or not shown
  std::optional<pid_t> pid_in_file;  // the file's "<pid>\n", when it parses
  std::string content;               // the file's first line when it is not a PID (garbage), else ""
  bool unreadable = false;           // the content could not be read (permissions)
  std::string command;               // the holder's command line, "" if unknown
  int64_t age_seconds = 0;           // since the file's last modification (last PID write)
  // Beyond the file backend's columns (etcd, and client holds in any backend):
  std::string host;                // the holder's host, "" when not recorded
  std::string client;              // a client hold's client ("" for a process lock)
  std::string reason;              // a client hold's reason
  std::optional<int64_t> expires;  // a hold's end (unix seconds), none = until released
  bool expired = false;            // a hold past its TTL: free, stale

  std::string kind() const { return name ? kind_name(name->kind) : "unknown"; }
  std::string server() const { return name ? name->server : ""; }
  std::string backup_id() const { return name ? name->backup_id : ""; }
};

struct ScanOptions {
  std::string server;       // "": every server and the global locks; else exactly this server's
  bool stale_only = false;  // only free locks
  bool all = false;         // also ".*.lock" files that match no kind
  // false: state, holder and command only (from readdir and the kernel
  // table, no per-file system call); age_seconds and the file's PID are
  // left unset. For callers that only need who holds what.
  bool details = true;
};

// The lock files (".*.lock") of `dir`, sorted by name. Fails only when `dir`
// cannot be listed; an odd file (garbage, empty, unreadable) is an entry.
Result<std::vector<LockEntry>> scan_locks(const std::string& dir, const ScanOptions& options);

enum class CleanOutcome {
  removed,  // was free; unlinked while we held it
  held,     // somebody holds it: left alone
  gone,     // vanished before we got to it
  failed,   // could not be opened or removed (see `error`)
};

struct CleanResult {
  std::string file;
  CleanOutcome outcome;
  Status error;
};

// Removes `file` of `dir` if nobody holds it, race-free: open (never create),
// flock non-blocking, check the path still names the locked inode (else
// retry on the new file), unlink while holding, release. A process that
// locks the old inode afterwards notices (LockFile::acquire re-checks) and
// retries on a new file.
CleanResult remove_if_free(const std::string& dir, const std::string& file);

// remove_if_free for every entry not seen held.
std::vector<CleanResult> clean_locks(const std::string& dir, const std::vector<LockEntry>& entries);

}  // namespace cellar::locks
