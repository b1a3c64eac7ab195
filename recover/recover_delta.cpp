#include "recover/recover_delta.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/crc32c.h"
#include "common/fs.h"
#include "common/storage_filter.h"

namespace cellar::recover {
namespace fs = std::filesystem;
namespace {

constexpr size_t kBlock = incr::kBlockSize;
constexpr size_t kReadChunk = 128 * kBlock;  // 1 MiB

// The system identifier a control file starts with (ControlFileData's first
// field, little-endian), in decimal as backup.info records it.
Result<std::string> read_system_identifier(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Status::from_errno("could not open file \"" + path + "\"", errno);
  unsigned char b[8];
  if (::pread(fd.get(), b, sizeof b, 0) != static_cast<ssize_t>(sizeof b))
    return Status::failed("could not read the system identifier in \"" + path + "\"");
  uint64_t id = 0;
  for (int i = 7; i >= 0; --i) id = (id << 8) | b[i];
  return std::to_string(id);
}

// The PID of a live process named by DEST/postmaster.pid, or 0.
long running_postmaster(const std::string& dest) {
  std::string path = join_path(dest, "postmaster.pid");
  if (!path_exists(path)) return 0;
  auto text = read_file(path);
  if (!text) return 0;
  long pid = std::strtol(text->c_str(), nullptr, 10);
  if (pid <= 0 || pid > INT_MAX) return 0;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM ? pid : 0;
}

Status fsync_parent(const std::string& path) { return fsync_dir(dirname_of(path)); }

// Reads up to `size` bytes at `at`; fewer at the end of the file.
Result<size_t> read_at(int fd, char* buf, size_t size, uint64_t at, const std::string& path) {
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::pread(fd, buf + got, size - got, static_cast<off_t>(at + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Status::from_errno("could not read file \"" + path + "\"", errno);
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  return got;
}

// The file open for a delta restore, and what was written into it.
struct DeltaFile {
  int fd;
  const std::string& path;
  uint64_t written = 0;

  std::string old{};  // what the file holds where put() compares (its capacity kept)

  // Writes `data` at `at` where the file does not already hold exactly it:
  // one read of the span, then block by block, a run of differing blocks in
  // one pwrite.
  Status put(std::string_view data, uint64_t at) {
    old.resize(data.size());
    auto got = read_at(fd, old.data(), data.size(), at, path);
    if (!got) return got.status();
    auto same = [&](size_t off) {
      size_t n = std::min<size_t>(kBlock, data.size() - off);
      return off + n <= *got && std::memcmp(old.data() + off, data.data() + off, n) == 0;
    };
    for (size_t off = 0; off < data.size();) {
      if (same(off)) {
        off += kBlock;
        continue;
      }
      size_t end = off + kBlock;
      while (end < data.size() && !same(end)) end += kBlock;
      end = std::min(end, data.size());
      for (size_t done = off; done < end;) {
        ssize_t n = ::pwrite(fd, data.data() + done, end - done, static_cast<off_t>(at + done));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return Status::from_errno("could not write file \"" + path + "\"", errno);
        done += static_cast<size_t>(n);
      }
      written += end - off;
      off = end;
    }
    return Status::ok();
  }
};

Result<uint32_t> file_crc(int fd, const std::string& path) {
  Crc32c crc;
  std::string buf(1 << 20, '\0');
  for (uint64_t at = 0;;) {
    auto got = read_at(fd, buf.data(), buf.size(), at, path);
    if (!got) return got.status();
    if (*got == 0) return crc.value();
    crc.update(std::string_view(buf.data(), *got));
    at += *got;
  }
}

// What a chain's incrementals leave of a file: the blocks that survive from
// each (the newest write of a block not cut off by a later, shorter
// incremental), how much of the base survives, the final size.
struct ChainImage {
  std::vector<LoadedPart> parts;
  std::map<uint32_t, const char*> blocks;
  uint32_t base_limit = UINT32_MAX;  // base blocks below it survive unless in `blocks`
  uint64_t size = 0;
};

Result<ChainImage> image_of(const CopyJob& job) {
  ChainImage image;
  for (const ChainPart& part : job.incrementals) {
    auto loaded = load_part(part);
    if (!loaded) return loaded.status();
    image.parts.push_back(std::move(*loaded));
  }
  for (auto k = image.parts.rbegin(); k != image.parts.rend(); ++k) {
    image.base_limit = std::min(image.base_limit, k->header.truncate_blocks);
    const char* data = k->bytes.data() + k->header.data_offset();
    for (size_t i = 0; i < k->header.blocks.size(); ++i)
      if (uint32_t b = k->header.blocks[i]; b < image.base_limit && !image.blocks.count(b))
        image.blocks[b] = data + i * kBlock;
  }
  image.size = static_cast<uint64_t>(image.parts.back().header.truncate_blocks) * kBlock;
  return image;
}

// What `produce` hands to its sink, to `consume` in chunks of `chunk` bytes
// (a multiple of the block size; only the last is shorter). `produce` runs
// on a thread of its own up to three chunks ahead of `consume`, which runs
// on the caller's: a large file's decompression then overlaps its checksum
// and compare. Returns the bytes consumed, or the first failure of either.
Result<uint64_t> read_ahead(
    const std::function<Result<uint64_t>(const std::function<Status(std::string_view)>&)>& produce, size_t chunk,
    const std::function<Status(std::string_view)>& consume) {
  constexpr size_t kChunks = 4;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::string> free_chunks, ready;  // buffers made as needed, up to kChunks
  size_t made = 0;
  std::deque<size_t> sizes;
  bool ended = false, stop = false;
  Status failure;
  uint64_t total = 0;
  std::thread producer([&] {
    std::string buf;
    size_t got = 0;
    // Hands the chunk being filled to the consumer; false once it stopped.
    auto hand_over = [&]() -> bool {
      std::unique_lock<std::mutex> g(mu);
      if (got > 0) {
        ready.push_back(std::move(buf));
        sizes.push_back(got);
        cv.notify_all();
      }
      buf.clear();
      got = 0;
      return !stop;
    };
    auto take = [&]() -> bool {
      std::unique_lock<std::mutex> g(mu);
      cv.wait(g, [&] { return stop || !free_chunks.empty() || made < kChunks; });
      if (stop) return false;
      if (free_chunks.empty()) {
        ++made;
        g.unlock();
        buf.assign(chunk, '\0');
        return true;
      }
      buf = std::move(free_chunks.front());
      free_chunks.pop_front();
      return true;
    };
    Result<uint64_t> produced = Status::failed("no data");
    try {
      produced = produce([&](std::string_view piece) -> Status {
        while (!piece.empty()) {
          if (buf.empty() && !take()) return Status::failed("the compare stopped");
          size_t n = std::min(piece.size(), buf.size() - got);
          std::memcpy(buf.data() + got, piece.data(), n);
          got += n;
          piece.remove_prefix(n);
          if (got == buf.size() && !hand_over()) return Status::failed("the compare stopped");
        }
        return Status::ok();
      });
    } catch (const std::exception& e) {
      produced = Status::failed(std::string("reading the backup's copy failed: ") + e.what());
    }
    hand_over();
    std::lock_guard<std::mutex> g(mu);
    if (!produced) failure = produced.status();
    ended = true;
    cv.notify_all();
  });
  Status consumed;
  for (;;) {
    std::string buf;
    size_t n = 0;
    {
      std::unique_lock<std::mutex> g(mu);
      cv.wait(g, [&] { return !ready.empty() || ended; });
      if (ready.empty()) break;
      buf = std::move(ready.front());
      n = sizes.front();
      ready.pop_front();
      sizes.pop_front();
    }
    try {
      consumed = consume(std::string_view(buf.data(), n));
    } catch (const std::exception& e) {
      consumed = Status::failed(std::string("comparing failed: ") + e.what());
    }
    total += n;
    std::lock_guard<std::mutex> g(mu);
    buf.resize(chunk);
    free_chunks.push_back(std::move(buf));
    cv.notify_all();
    if (!consumed) {
      stop = true;
      break;
    }
  }
  producer.join();
  if (!consumed) return consumed;
  if (!failure) return failure;
  return total;
}

// Compares the backup's stream with the file block by block; `wanted` says
// which blocks of the stream the file keeps. Returns the stream's size.
Result<uint64_t> put_stream(DeltaFile& file, const CopyJob& job, const std::function<bool(uint64_t)>& wanted) {
  Crc32c crc;
  uint64_t at = 0;
  // Puts `data` (whole blocks but at the end of the stream) in runs of
  // wanted blocks.
  auto put = [&](std::string_view data) -> Status {
    crc.update(data);
    for (size_t off = 0; off < data.size();) {
      size_t end = off;
      while (end < data.size() && wanted((at + end) / kBlock)) end += std::min<size_t>(kBlock, data.size() - end);
      if (end > off)
        if (Status st = file.put(data.substr(off, end - off), at + off); !st) return st;
      off = end < data.size() ? end + std::min<size_t>(kBlock, data.size() - end) : end;
    }
    at += data.size();
    return Status::ok();
  };
  // The CRC-32C checked below stands in for the codec's own checksum.
  auto produce = [&job](const std::function<Status(std::string_view)>& sink) {
    return storage::drain_decompressed(storage::root(), job.src, job.codec, !job.crc32c.empty(), sink);
  };
  // A small file needs no 1 MiB buffers: a chunk of its size (whole blocks).
  size_t chunk = kReadChunk;
  if (job.size && *job.size < kReadChunk) chunk = std::max<size_t>(kBlock, (*job.size + kBlock - 1) / kBlock * kBlock);
  auto bytes = read_ahead(produce, chunk, put);
  if (!bytes) return bytes.status();
  if ((job.size && *bytes != *job.size) || (!job.crc32c.empty() && crc32c_manifest_hex(crc.value()) != job.crc32c))
    return Status::failed("\"" + storage::root().describe(job.src) + "\" does not match the backup manifest (" +
                              std::to_string(*bytes) + " bytes, CRC32C " + crc32c_manifest_hex(crc.value()) + ")",
                          "run \"cellar verify-backup\" on the backup; restore another backup if it fails");
  return *bytes;
}

// Writes what a chain puts over its base: the surviving incremental blocks,
// and zeros where the file was cut and extended again. Returns the final size.
Result<uint64_t> put_chain(DeltaFile& file, const ChainImage& image, uint64_t base_size) {
  for (const auto& [block, data] : image.blocks)
    if (Status st = file.put(std::string_view(data, kBlock), uint64_t{block} * kBlock); !st) return st;
  struct stat sb {};
  if (::fstat(file.fd, &sb) != 0) return Status::from_errno("could not stat file \"" + file.path + "\"", errno);
  const std::string zeros(kBlock, '\0');
  uint64_t end = std::min<uint64_t>(static_cast<uint64_t>(sb.st_size), image.size);
  for (uint64_t b = 0; b * kBlock < end; ++b) {
    bool from_base = b < image.base_limit && b * kBlock < base_size;
    if (!from_base && !image.blocks.count(static_cast<uint32_t>(b)))
      if (Status st =
              file.put(std::string_view(zeros.data(), std::min<uint64_t>(kBlock, end - b * kBlock)), b * kBlock);
          !st)
        return st;
  }
  return image.size;
}

Result<bool> unchanged(int fd, const CopyJob& job, uint64_t size) {
  if (!job.incrementals.empty() || !job.size || job.crc32c.empty() || size != *job.size) return false;
  auto crc = file_crc(fd, job.dest);
  if (!crc) return crc.status();
  return crc32c_manifest_hex(*crc) == job.crc32c;
}

enum class Planned { dir, file, link };

struct Expected {
  Planned kind;
  std::string target;  // of a link
};

// Removes what is under `dir` and not `planned`; recurses into planned
// directories.
Status sweep(const std::string& dir, const std::map<std::string, Expected>& planned, size_t& removed) {
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    names.push_back(it->path().string());
  if (ec) return Status::failed("could not read directory \"" + dir + "\": " + ec.message());
  for (const auto& path : names) {
    struct stat sb {};
    if (::lstat(path.c_str(), &sb) != 0) return Status::from_errno("could not stat \"" + path + "\"", errno);
    auto it = planned.find(path);
    bool keep =
        it != planned.end() && ((it->second.kind == Planned::dir && S_ISDIR(sb.st_mode)) ||
                                (it->second.kind == Planned::file && S_ISREG(sb.st_mode)) ||
                                (it->second.kind == Planned::link && symlink_points_at(path, it->second.target)));
    if (!keep) {
      fs::remove_all(path, ec);
      if (ec) return Status::failed("could not remove \"" + path + "\": " + ec.message());
      ++removed;
    } else if (it->second.kind == Planned::dir) {
      if (Status st = sweep(path, planned, removed); !st) return st;
    }
  }
  return Status::ok();
}

}  // namespace

Status check_delta_destination(const std::string& dest, const std::string& systemid) {
  std::string control = join_path(dest, "global/pg_control");
  if (!path_exists(control)) control = join_path(dest, kHiddenControlFile);
  if (!path_exists(join_path(dest, "PG_VERSION")) || !path_exists(control))
    return Status::usage("\"" + dest + "\" is not a PostgreSQL data directory (no PG_VERSION or global/pg_control)",
                         "recover --delta updates an existing data directory of the same cluster; restore without "
                         "--delta into an empty or absent directory");
  if (long pid = running_postmaster(dest))
    return Status::failed(
        "PostgreSQL is running on \"" + dest + "\" (postmaster.pid names PID " + std::to_string(pid) + ")",
        "stop it before restoring into its data directory");
  auto found = read_system_identifier(control);
  if (!found) return found.status();
  if (*found != systemid)
    return Status::usage("\"" + dest + "\" belongs to database system " + *found + ", the backup to " + systemid,
                         "recover --delta only updates a data directory of the backup's cluster; restore into an "
                         "empty or absent directory instead");
  return Status::ok();
}

Status hide_control_file(const std::string& dest) {
  std::string control = join_path(dest, "global/pg_control");
  if (!path_exists(control)) return Status::ok();
  std::string hidden = join_path(dest, kHiddenControlFile);
  if (::rename(control.c_str(), hidden.c_str()) != 0)
    return Status::from_errno("could not rename \"" + control + "\"", errno);
  return fsync_parent(control);
}

Status drop_hidden_control_file(const std::string& dest) {
  std::string hidden = join_path(dest, kHiddenControlFile);
  if (::unlink(hidden.c_str()) != 0 && errno != ENOENT)
    return Status::from_errno("could not remove \"" + hidden + "\"", errno);
  return fsync_parent(hidden);
}

bool symlink_points_at(const std::string& link, const std::string& target) {
  std::error_code ec;
  if (!fs::is_symlink(fs::symlink_status(link, ec))) return false;
  auto to = fs::read_symlink(link, ec);
  return !ec && to.string() == target;
}

Result<size_t> remove_unplanned(const RestorePlan& plan, const std::vector<std::string>& roots,
                                const std::vector<std::string>& keep) {
  std::map<std::string, Expected> planned;
  for (const auto& d : plan.dirs) planned[d] = {Planned::dir, ""};
  for (const auto& f : plan.files) planned[f.dest] = {Planned::file, ""};
  for (const auto& k : keep) planned[k] = {Planned::file, ""};
  for (const auto& [link, target] : plan.symlinks) planned[link] = {Planned::link, target};
  size_t removed = 0;
  for (const auto& root : roots)
    if (fs::is_directory(fs::symlink_status(root)))
      if (Status st = sweep(root, planned, removed); !st) return st;
  return removed;
}

std::optional<std::function<bool(uint64_t)>> blocks_that_may_differ(const std::string& manifest_path,
                                                                    uint64_t dest_size, const incr::ChangeMap& map) {
  auto rs = incr::parse_relation_path(manifest_path);
  if (!rs || rs->fork.fork != 0 || map.whole_databases.count({rs->fork.spc, rs->fork.db})) return std::nullopt;
  const uint64_t seg_start = static_cast<uint64_t>(rs->segno) * incr::kSegmentBlocks;
  uint64_t from = UINT64_MAX;  // blocks of the segment from here on may all differ
  if (auto lim = map.limits.find(rs->fork); lim != map.limits.end()) {
    if (lim->second <= seg_start) return std::nullopt;
    from = lim->second - seg_start;
  }
  std::set<uint64_t> changed;
  if (auto it = map.blocks.find(rs->fork); it != map.blocks.end())
    for (auto b = it->second.lower_bound(static_cast<uint32_t>(seg_start));
         b != it->second.end() && *b < seg_start + incr::kSegmentBlocks; ++b)
      changed.insert(*b - seg_start);
  const uint64_t dest_blocks = dest_size / kBlock;  // a partial last block is compared
  return [changed = std::move(changed), from, dest_blocks](uint64_t b) {
    return b >= dest_blocks || b >= from || changed.count(b) > 0;
  };
}

Result<DeltaWrite> delta_one(const CopyJob& job, const DeltaHints& hints) {
  const StampedFile* stamped = hints.stamp ? hints.stamp->trusted(job.dest) : nullptr;
  const bool plain = job.incrementals.empty() && job.size && !job.crc32c.empty();
  if (stamped && plain && stamped->stat.size == *job.size && stamped->crc32c == job.crc32c) {
    DeltaWrite out{*job.size, 0, false};
    out.trusted = true;
    return out;
  }
  UniqueFd fd(::open(job.dest.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  const bool created = fd.valid();
  if (!created && errno == EEXIST) fd = UniqueFd(::open(job.dest.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd.valid()) return Status::from_errno("could not open file \"" + job.dest + "\"", errno);
  struct stat sb {};
  if (::fstat(fd.get(), &sb) != 0) return Status::from_errno("could not stat file \"" + job.dest + "\"", errno);
  const auto found_size = static_cast<uint64_t>(sb.st_size);
  // A trusted file is the stamped backup's, known to differ from this one's.
  std::optional<std::function<bool(uint64_t)>> may_differ;
  if (stamped && hints.map && !created && found_size == stamped->stat.size)
    may_differ = blocks_that_may_differ(job.manifest_path, found_size, *hints.map);
  if (!stamped) {
    auto same = unchanged(fd.get(), job, found_size);
    if (!same) return same.status();
    if (*same && !created) return DeltaWrite{found_size, 0, false};
  }
  ChainImage image;
  if (!job.incrementals.empty()) {
    auto loaded = image_of(job);
    if (!loaded) return loaded.status();
    image = std::move(*loaded);
  }
  DeltaFile file{fd.get(), job.dest};
  auto size = put_stream(file, job, [&image, &may_differ](uint64_t b) {
    return (image.parts.empty() || (b < image.base_limit && !image.blocks.count(static_cast<uint32_t>(b)))) &&
           (!may_differ || (*may_differ)(b));
  });
  if (!size) return size.status();
  if (!image.parts.empty()) size = put_chain(file, image, *size);
  if (!size) return size.status();
  if (::fstat(fd.get(), &sb) != 0) return Status::from_errno("could not stat file \"" + job.dest + "\"", errno);
  bool resized = static_cast<uint64_t>(sb.st_size) != *size;
  if (resized && ::ftruncate(fd.get(), static_cast<off_t>(*size)) != 0)
    return Status::from_errno("could not resize file \"" + job.dest + "\"", errno);
  bool rewritten = created || file.written > 0 || resized || found_size != *size;
  if (rewritten && ::fsync(fd.get()) != 0)
    return Status::from_errno("could not fsync file \"" + job.dest + "\"", errno);
  int raw = fd.release();
  if (::close(raw) != 0) return Status::from_errno("could not close file \"" + job.dest + "\"", errno);
  DeltaWrite out{*size, file.written, rewritten};
  out.mapped = may_differ.has_value();
  return out;
}

}  // namespace cellar::recover
