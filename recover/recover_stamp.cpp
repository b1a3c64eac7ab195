#include "recover/recover_stamp.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "common/fs.h"
#include "common/log.h"
#include "common/storage.h"

namespace cellar::recover {
namespace {

constexpr const char* kHeader = "cellar restore stamp 1";

int64_t mtime_ns_of(const struct stat& sb) {
  return static_cast<int64_t>(sb.st_mtim.tv_sec) * 1000000000 + sb.st_mtim.tv_nsec;
}

// The file system's time now, at its own granularity (a second on some):
// the mtime of a file created in `dir` for the purpose. A later write gets
// an mtime no earlier than this; a file whose mtime is not before it could
// be written again without its mtime moving.
Result<int64_t> file_system_now(const std::string& dir) {
  std::string probe = join_path(dir, std::string(kStampFile) + ".probe");
  ::unlink(probe.c_str());
  UniqueFd fd(::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return Status::from_errno("could not create \"" + probe + "\"", errno);
  struct stat sb {};
  bool ok = ::write(fd.get(), "x", 1) == 1 && ::fstat(fd.get(), &sb) == 0;
  int err = errno;
  fd = UniqueFd();
  ::unlink(probe.c_str());
  if (!ok) return Status::from_errno("could not write \"" + probe + "\"", err);
  return mtime_ns_of(sb);
}

}  // namespace

std::optional<FileStat> stat_file(const std::string& path) {
  struct stat sb {};
  if (::lstat(path.c_str(), &sb) != 0 || !S_ISREG(sb.st_mode)) return std::nullopt;
  return FileStat{static_cast<uint64_t>(sb.st_dev), static_cast<uint64_t>(sb.st_ino), static_cast<uint64_t>(sb.st_size),
                  mtime_ns_of(sb)};
}

const StampedFile* RestoreStamp::trusted(const std::string& path) const {
  auto it = files.find(path);
  if (it == files.end()) return nullptr;
  auto now = stat_file(path);
  return now && *now == it->second.stat ? &it->second : nullptr;
}

std::string format_stamp(const RestoreStamp& s) {
  std::string out = std::string(kHeader) + "\nbackup " + s.backup_id + "\nsystemid " + s.systemid + "\ntimeline " +
                    std::to_string(s.timeline) + "\nstart_lsn " + std::to_string(s.start_lsn) + "\nstop_lsn " +
                    std::to_string(s.stop_lsn) + "\n";
  for (const auto& [path, f] : s.files)
    out += "file " + std::to_string(f.stat.dev) + " " + std::to_string(f.stat.ino) + " " + std::to_string(f.stat.size) +
           " " + std::to_string(f.stat.mtime_ns) + " " + f.crc32c + " " + path + "\n";
  return out;
}

Result<RestoreStamp> parse_stamp(const std::string& text) {
  std::istringstream in(text);
  std::string line;
  auto bad = [](const std::string& why) { return Status::failed("malformed restore stamp: " + why); };
  if (!std::getline(in, line) || line != kHeader) return bad("no header");
  RestoreStamp s;
  bool seen[5] = {};
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string key;
    words >> key;
    if (key == "file") {
      StampedFile f;
      if (!(words >> f.stat.dev >> f.stat.ino >> f.stat.size >> f.stat.mtime_ns >> f.crc32c) || words.get() != ' ')
        return bad("line \"" + line + "\"");
      std::getline(words, f.path);
      if (f.path.empty() || f.path[0] != '/' || f.crc32c.size() != 8) return bad("line \"" + line + "\"");
      s.files[f.path] = std::move(f);
      continue;
    }
    std::string value;
    if (!(words >> value) || !words.eof()) return bad("line \"" + line + "\"");
    try {
      if (key == "backup")
        s.backup_id = value, seen[0] = true;
      else if (key == "systemid")
        s.systemid = value, seen[1] = true;
      else if (key == "timeline")
        s.timeline = static_cast<uint32_t>(std::stoul(value)), seen[2] = true;
      else if (key == "start_lsn")
        s.start_lsn = std::stoull(value), seen[3] = true;
      else if (key == "stop_lsn")
        s.stop_lsn = std::stoull(value), seen[4] = true;
      else
        return bad("unknown key \"" + key + "\"");
    } catch (const std::exception&) {
      return bad("line \"" + line + "\"");
    }
  }
  for (bool b : seen)
    if (!b) return bad("a key is missing");
  return s;
}

Result<std::optional<RestoreStamp>> read_stamp(const std::string& dest) {
  std::string path = join_path(dest, kStampFile);
  if (!path_exists(path)) return std::optional<RestoreStamp>();
  std::optional<RestoreStamp> out;
  if (auto text = read_file(path); text) {
    auto parsed = parse_stamp(*text);
    if (parsed)
      out = std::move(*parsed);
    else
      log::warning("\"" + path + "\" is ignored: " + parsed.status().message());
  } else {
    log::warning("\"" + path + "\" is ignored: " + text.status().message());
  }
  return out;
}

Status remove_stamp(const std::string& dest) {
  std::string path = join_path(dest, kStampFile);
  if (::unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return Status::ok();
    return Status::from_errno("could not remove \"" + path + "\"", errno);
  }
  return fsync_dir(dest);
}

Result<std::optional<RestoreStamp>> take_stamp(const std::string& dest) {
  auto out = read_stamp(dest);
  if (!out) return out;
  if (Status st = remove_stamp(dest); !st) return st;
  return out;
}

Status write_stamp(const std::string& dest, const RestoreStamp& stamp, const std::vector<StampedFile>& written) {
  auto fs_now = file_system_now(dest);
  if (!fs_now) return fs_now.status();
  const int64_t now = *fs_now;
  RestoreStamp out = stamp;
  out.files.clear();
  for (const auto& f : written) {
    auto st = stat_file(f.path);
    if (st && *st == f.stat && st->mtime_ns < now) out.files[f.path] = f;
  }
  return storage::write_file(storage::root(), join_path(dest, kStampFile), format_stamp(out));
}

}  // namespace cellar::recover
