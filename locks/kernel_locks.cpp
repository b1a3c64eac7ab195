#include "locks/kernel_locks.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <string_view>

#include "common/fs.h"
#include "common/redact.h"

namespace cellar::locks {
namespace {

// Whole content of a /proc file (size 0 in stat, so read until EOF).
std::string read_proc(const std::string& path) {
  std::string out;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

std::string_view next_field(std::string_view& line) {
  size_t start = line.find_first_not_of(' ');
  if (start == std::string_view::npos) return line = {};
  size_t end = line.find(' ', start);
  std::string_view field = line.substr(start, end == std::string_view::npos ? line.size() - start : end - start);
  line = end == std::string_view::npos ? std::string_view{} : line.substr(end);
  return field;
}

bool parse_number(std::string_view s, int base, unsigned long long& out) {
  if (s.empty() || s.size() > 20) return false;
  char buf[24];
  s.copy(buf, s.size());
  buf[s.size()] = '\0';
  char* end = nullptr;
  errno = 0;
  out = std::strtoull(buf, &end, base);
  return errno == 0 && end == buf + s.size();
}

// "MAJ:MIN:INODE": major and minor in hex ("%02x:%02x"), the inode in decimal.
std::optional<FileId> parse_device_inode(std::string_view s) {
  size_t c1 = s.find(':');
  size_t c2 = c1 == std::string_view::npos ? c1 : s.find(':', c1 + 1);
  if (c2 == std::string_view::npos) return std::nullopt;
  unsigned long long maj = 0, min = 0, ino = 0;
  if (!parse_number(s.substr(0, c1), 16, maj) || !parse_number(s.substr(c1 + 1, c2 - c1 - 1), 16, min) ||
      !parse_number(s.substr(c2 + 1), 10, ino))
    return std::nullopt;
  return FileId{makedev(static_cast<unsigned>(maj), static_cast<unsigned>(min)), static_cast<ino_t>(ino)};
}

// Does /proc/<pid>/fd hold an fd open on `path`? (Confirms an inode-only match.)
bool process_has_open(pid_t pid, const std::string& path) {
  std::string dir = "/proc/" + std::to_string(pid) + "/fd";
  auto fds = list_dir(dir);
  if (!fds) return false;
  char target[PATH_MAX];
  for (const auto& fd : *fds) {
    ssize_t n = ::readlink((dir + "/" + fd).c_str(), target, sizeof target - 1);
    if (n > 0 && std::string_view(target, static_cast<size_t>(n)) == path) return true;
  }
  return false;
}

}  // namespace

KernelLockTable KernelLockTable::parse(const std::string& text) {
  KernelLockTable table;
  std::string_view rest(text);
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
    // "1: FLOCK  ADVISORY  WRITE 4711 fd:01:1234567 0 EOF"; waiters read "1: -> FLOCK ...".
    next_field(line);
    if (next_field(line) != "FLOCK") continue;
    next_field(line);  // ADVISORY / MANDATORY
    next_field(line);  // WRITE / READ
    unsigned long long pid = 0;
    if (!parse_number(next_field(line), 10, pid)) continue;
    auto id = parse_device_inode(next_field(line));
    if (!id) continue;
    table.by_id_.emplace(*id, static_cast<pid_t>(pid));
    table.by_ino_.emplace(id->ino, static_cast<pid_t>(pid));
  }
  return table;
}

KernelLockTable KernelLockTable::load() { return parse(read_proc("/proc/locks")); }

std::optional<KernelLockTable::Holder> KernelLockTable::holder(const FileId& id, const std::string& dir,
                                                               const std::string& name) const {
  if (auto it = by_id_.find(id); it != by_id_.end()) return Holder{it->second};
  if (dir.empty()) return std::nullopt;
  auto [first, last] = by_ino_.equal_range(id.ino);
  for (auto it = first; it != last; ++it)
    if (it->second > 0 && process_has_open(it->second, name.empty() ? dir : join_path(dir, name)))
      return Holder{it->second};
  return std::nullopt;
}

std::optional<FileId> file_id_of(const std::string& path) {
  struct stat sb {};
  if (::stat(path.c_str(), &sb) != 0) return std::nullopt;
  return FileId{sb.st_dev, sb.st_ino};
}

std::string command_line_of(pid_t pid) {
  if (pid <= 0) return "";
  std::string raw = read_proc("/proc/" + std::to_string(pid) + "/cmdline");
  while (!raw.empty() && raw.back() == '\0') raw.pop_back();
  for (char& c : raw)
    if (c == '\0') c = ' ';
  return redact_secrets(raw);
}

}  // namespace cellar::locks
