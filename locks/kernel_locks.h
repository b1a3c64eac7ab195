// The kernel's table of flock() locks (/proc/locks), read without taking any
// lock: who holds a lock file is the kernel's answer, not the file's content,
// and asking never disturbs a concurrent acquirer (Barman's probe does). Owns
// the /proc/locks format and the /proc/<pid>/cmdline lookup; knows nothing
// about lock names.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <unordered_map>

namespace cellar::locks {

// Identity of a file: device and inode, as stat(2) gives them.
struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

struct FileIdHash {
  size_t operator()(const FileId& id) const noexcept {
    return std::hash<unsigned long long>()(static_cast<unsigned long long>(id.ino) * 1000003ULL ^
                                           static_cast<unsigned long long>(id.dev));
  }
};

// One snapshot of the FLOCK entries of /proc/locks (waiters, "->" lines, and
// POSIX/OFD locks are left out). Load once per scan: a lookup is a hash probe.
class KernelLockTable {
 public:
  // An unreadable /proc/locks gives an empty table (every lock looks free).
  static KernelLockTable load();
  // Parses the text of /proc/locks (for tests).
  static KernelLockTable parse(const std::string& text);

  // Whether `id` is flock()ed, and by which PID. The PID is 0 when the kernel
  // cannot show it (holder in another PID namespace, or dead with the fd
  // inherited by a child). `dir` and `name` are used only to confirm a device mismatch
  // (btrfs subvolumes report another st_dev than /proc/locks): an inode-only
  // match counts when /proc/<pid>/fd of the holder names `dir`/`name`.
  struct Holder {
    pid_t pid = 0;
  };
  std::optional<Holder> holder(const FileId& id, const std::string& dir = "", const std::string& name = "") const;
  size_t size() const { return by_id_.size(); }

 private:
  std::unordered_map<FileId, pid_t, FileIdHash> by_id_;
  std::unordered_multimap<ino_t, pid_t> by_ino_;
};

// The file identity of `path`, or none when it cannot be stat()ed.
std::optional<FileId> file_id_of(const std::string& path);

// The command line of `pid` (arguments joined by spaces, secrets redacted),
// or "" when /proc/<pid>/cmdline cannot be read.
std::string command_line_of(pid_t pid);

}  // namespace cellar::locks
