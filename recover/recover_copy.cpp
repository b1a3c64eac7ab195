#include "recover/recover_copy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "common/crc32c.h"
#include "common/fs.h"
#include "common/storage_filter.h"
#include "incr/incremental_file.h"
#include "recover/recover_delta.h"

namespace cellar::recover {
namespace fs = std::filesystem;
namespace {

std::string strip_suffix(const std::string& name, codec::Codec codec) {
  std::string suffix = codec::codec_suffix(codec);
  bool has = !suffix.empty() && name.size() > suffix.size() &&
             name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  return has ? name.substr(0, name.size() - suffix.size()) : name;
}

// Applies one loaded incremental to the file open on `fd`: its length, then
// its blocks, a run of consecutive block numbers in one pwrite (they are
// stored one after the other). The file's new size.
Result<uint64_t> apply_part(int fd, const CopyJob& job, const LoadedPart& part) {
  const incr::IncrementalHeader& header = part.header;
  const uint64_t size = static_cast<uint64_t>(header.truncate_blocks) * incr::kBlockSize;
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0)
    return Status::from_errno("could not resize file \"" + job.dest + "\"", errno);
  const char* data = part.bytes.data() + header.data_offset();
  for (size_t i = 0; i < header.blocks.size();) {
    size_t j = i + 1;
    while (j < header.blocks.size() && header.blocks[j] == header.blocks[j - 1] + 1) ++j;
    const char* p = data + i * incr::kBlockSize;
    const size_t length = (j - i) * incr::kBlockSize;
    const uint64_t offset = static_cast<uint64_t>(header.blocks[i]) * incr::kBlockSize;
    for (size_t done = 0; done < length;) {
      ssize_t n = ::pwrite(fd, p + done, length - done, static_cast<off_t>(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return Status::from_errno("could not write file \"" + job.dest + "\"", errno);
      done += static_cast<size_t>(n);
    }
    i = j;
  }
  return size;
}

// Loads `part` on a thread of its own when it is large (while the caller
// copies the base or applies the part before), else when asked for.
std::future<Result<LoadedPart>> load_soon(const ChainPart& part) {
  const bool large = !part.unchanged_blocks && part.size.value_or(0) >= kSmallFileSize;
  return std::async(large ? std::launch::async : std::launch::deferred, [&part] { return load_part(part); });
}

// Decompresses one file of the repository into a new file of DEST, fsynced.
// DEST is not the archive: files are written in place under their final names
// (DEST was empty, and a failed recover clears it again).
Result<uint64_t> copy_one(const CopyJob& job) {
  // A chain's parts load one ahead of their use: the oldest while the base
  // is copied, each next one while the one before is applied.
  std::future<Result<LoadedPart>> next;
  if (!job.incrementals.empty()) next = load_soon(job.incrementals[0]);
  // The CRC-32C checked below stands in for the codec's own checksum.
  auto in = storage::open_decompressed(storage::root(), job.src, job.codec, !job.crc32c.empty());
  if (!in) return in.status();
  UniqueFd out(::open(job.dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!out.valid()) return Status::from_errno("could not create file \"" + job.dest + "\"", errno);
  Crc32c crc;
  auto bytes = storage::drain(**in, [&](std::string_view piece) {
    crc.update(piece);
    return write_all(out.get(), piece, job.dest);
  });
  if (!bytes) return bytes.status();
  if ((job.size && *bytes != *job.size) || (!job.crc32c.empty() && crc32c_manifest_hex(crc.value()) != job.crc32c))
    return Status::failed("\"" + storage::root().describe(job.src) + "\" does not match the backup manifest (" +
                              std::to_string(*bytes) + " bytes, CRC32C " + crc32c_manifest_hex(crc.value()) + ")",
                          "run \"cellar verify-backup\" on the backup; restore another backup if it fails");
  for (size_t i = 0; i < job.incrementals.size(); ++i) {
    auto part = next.get();
    if (i + 1 < job.incrementals.size()) next = load_soon(job.incrementals[i + 1]);
    if (!part) return part.status();
    bytes = apply_part(out.get(), job, *part);
    if (!bytes) return bytes.status();
  }
  if (::fsync(out.get()) != 0) return Status::from_errno("could not fsync file \"" + job.dest + "\"", errno);
  int fd = out.release();
  if (::close(fd) != 0) return Status::from_errno("could not close file \"" + job.dest + "\"", errno);
  return *bytes;
}

// Work shared by the copy threads: the large files, then the small ones,
// each taken once; the first error.
struct CopyWork {
  CopyWork(const std::vector<CopyJob>& j, const CopyProgress& p, CopyMode m, const DeltaHints& h)
      : jobs(j), progress(p), mode(m), hints(h) {
    for (size_t i = 0; i < jobs.size(); ++i)
      (jobs[i].size && *jobs[i].size <= kSmallFileSize ? small : large).push_back(i);
  }
  const std::vector<CopyJob>& jobs;
  const CopyProgress& progress;
  CopyMode mode;
  const DeltaHints& hints;
  std::vector<size_t> large, small;
  std::atomic<size_t> next_large{0}, next_small{0};
  std::atomic<bool> stop{false};
  std::mutex mu;
  Status error;
  CopyStats stats;

  Result<DeltaWrite> copy_file(const CopyJob& job) const {
    if (mode == CopyMode::delta) return delta_one(job, hints);
    auto bytes = copy_one(job);
    if (!bytes) return bytes.status();
    return DeltaWrite{*bytes, *bytes, true};
  }

  // The next job for a worker (`small_only`: never a large one), or nothing.
  std::optional<size_t> take(bool small_only) {
    if (!small_only)
      if (size_t i = next_large++; i < large.size()) return large[i];
    if (size_t i = next_small++; i < small.size()) return small[i];
    return std::nullopt;
  }

  void run(bool small_only = false) {
    for (std::optional<size_t> i; !stop && (i = take(small_only));) {
      const CopyJob& job = jobs[*i];
      auto done = copy_file(job);
      std::optional<FileStat> after;
      if (done && job.incrementals.empty() && job.size && !job.crc32c.empty()) after = stat_file(job.dest);
      std::lock_guard<std::mutex> g(mu);
      if (!done) {
        if (error.is_ok()) error = done.status();
        stop = true;
        return;
      }
      stats.bytes += done->bytes;
      stats.written += done->written;
      stats.unchanged += done->rewritten ? 0 : 1;
      stats.trusted += done->trusted ? 1 : 0;
      stats.mapped += done->mapped ? 1 : 0;
      // A file compared only where the WAL changed blocks may keep hint bits
      // the backup's copy lacks: it is not vouched for by the manifest's CRC.
      if (after && !done->mapped) stats.stamped.push_back({job.dest, *after, job.crc32c});
      if (mode == CopyMode::create || done->rewritten || done->trusted) stats.durable.insert(job.dest);
      ++stats.files;
      if (progress) progress(stats.bytes);
    }
  }
};

Status make_dir(const std::string& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0 || (errno == EEXIST && fs::is_directory(dir))) return Status::ok();
  return Status::from_errno("could not create directory \"" + dir + "\"", errno);
}

Result<FoundDestination> inspect_one(const std::string& path) {
  struct stat sb {};
  if (::lstat(path.c_str(), &sb) == 0) return FoundDestination{path, "", sb.st_mode & 07777};
  // Absent, and so may be its parents: make_dirs creates them too.
  std::string created = path;
  for (;;) {
    if (errno != ENOENT) return Status::from_errno("could not stat \"" + created + "\"", errno);
    std::string parent = dirname_of(created);
    if (parent == created || ::lstat(parent.c_str(), &sb) == 0) return FoundDestination{path, created, 0};
    created = parent;
  }
}

Status put_back_one(const FoundDestination& found) {
  std::error_code ec;
  if (!found.created.empty()) {
    fs::remove_all(found.created, ec);
    if (ec) return Status::failed("could not remove \"" + found.created + "\": " + ec.message());
    return Status::ok();
  }
  for (fs::directory_iterator it(found.path, ec), end; !ec && it != end; it.increment(ec)) {
    fs::remove_all(it->path(), ec);
    if (ec) return Status::failed("could not remove \"" + it->path().string() + "\": " + ec.message());
  }
  if (ec) return Status::failed("could not read directory \"" + found.path + "\": " + ec.message());
  if (::chmod(found.path.c_str(), found.mode) != 0)
    return Status::from_errno("could not chmod \"" + found.path + "\"", errno);
  return Status::ok();
}

// "\"a\"", "\"a\" and \"b\"", "\"a\", \"b\" and \"c\"".
std::string quoted_list(const std::vector<FoundDestination>& found) {
  std::string out;
  for (size_t i = 0; i < found.size(); ++i)
    out += (i == 0 ? "" : i + 1 == found.size() ? " and " : ", ") + ("\"" + found[i].path + "\"");
  return out;
}

}  // namespace

Status plan_tree(const std::string& src_root, const std::string& dest_root, codec::Codec codec, RestorePlan& plan) {
  plan.dirs.push_back(dest_root);
  plan.roots.emplace_back(src_root, dest_root);
  auto entries = storage::root().list_tree(src_root);
  if (!entries) return Status(entries.status()).prefix("could not read backup directory \"" + src_root + "\"");
  // Sorted by path, so a directory comes before what it holds.
  for (const auto& e : *entries) {
    std::string dest = join_path(dest_root, e.name);
    if (e.is_dir)
      plan.dirs.push_back(dest);
    else
      plan.files.push_back({join_path(src_root, e.name), strip_suffix(dest, codec), codec, {}, {}});
  }
  return Status::ok();
}

Result<LoadedPart> load_part(const ChainPart& part) {
  const std::string what = "\"" + storage::root().describe(part.src) + "\"";
  LoadedPart out;
  if (part.unchanged_blocks) {
    out.bytes = incr::encode_incremental_header({*part.unchanged_blocks, {}});
  } else {
    auto in = storage::open_decompressed(storage::root(), part.src, part.codec, !part.crc32c.empty());
    if (!in) return in.status();
    if (part.size) out.bytes.reserve(*part.size);
    auto read = storage::drain(**in, [&out](std::string_view piece) {
      out.bytes.append(piece);
      return Status::ok();
    });
    if (!read) return read.status();
  }
  if ((part.size && out.bytes.size() != *part.size) ||
      (!part.crc32c.empty() && crc32c_manifest_hex(crc32c(out.bytes)) != part.crc32c))
    return Status::failed(what + " does not match its backup manifest",
                          "run \"cellar verify-backup\" on the backup; restore another backup if it fails");
  auto header = incr::parse_incremental(out.bytes, what);
  if (!header) return header.status();
  out.header = std::move(*header);
  return out;
}

Result<CopyStats> execute_plan(const RestorePlan& plan, unsigned jobs, const CopyProgress& progress,
                               unsigned small_jobs, CopyMode mode, const DeltaHints& hints) {
  for (const auto& d : plan.dirs)
    if (Status st = make_dir(d); !st) return st;
  CopyWork work(plan.files, progress, mode, hints);
  std::vector<std::thread> threads;
  unsigned n = std::max(1u, std::min<unsigned>(jobs, static_cast<unsigned>(plan.files.size())));
  unsigned extra = std::min<unsigned>(small_jobs, static_cast<unsigned>(work.small.size()));
  for (unsigned i = 1; i < n; ++i) threads.emplace_back([&work] { work.run(); });
  for (unsigned i = 0; i < extra; ++i) threads.emplace_back([&work] { work.run(true); });
  work.run();
  for (auto& t : threads) t.join();
  if (!work.error.is_ok()) return work.error;
  for (const auto& [link, target] : plan.symlinks)
    if (!(mode == CopyMode::delta && symlink_points_at(link, target)) && ::symlink(target.c_str(), link.c_str()) != 0)
      return Status::from_errno("could not create symbolic link \"" + link + "\"", errno);
  return work.stats;
}

Status fsync_tree(const std::string& root, const std::unordered_set<std::string>& durable) {
  std::error_code ec;
  std::vector<std::string> dirs{root};
  fs::recursive_directory_iterator it(root, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    if (it->is_symlink(ec)) continue;
    if (it->is_directory(ec)) {
      dirs.push_back(it->path().string());
      continue;
    }
    if (durable.count(it->path().string())) continue;
    UniqueFd fd(::open(it->path().c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid() || ::fsync(fd.get()) != 0)
      return Status::from_errno("could not fsync file \"" + it->path().string() + "\"", errno);
  }
  if (ec) return Status::failed("could not read directory \"" + root + "\": " + ec.message());
  // Children before parents: a directory's entries are durable before it is.
  for (auto d = dirs.rbegin(); d != dirs.rend(); ++d)
    if (Status st = fsync_dir(*d); !st) return st;
  return fsync_dir(dirname_of(root));
}

Result<std::vector<FoundDestination>> inspect_destinations(const std::vector<std::string>& paths) {
  std::vector<FoundDestination> out;
  for (const auto& path : paths) {
    auto found = inspect_one(path);
    if (!found) return found.status();
    out.push_back(std::move(*found));
  }
  return out;
}

Status put_back(const std::vector<FoundDestination>& found, Status why) {
  std::string detail = why.detail().empty() ? "" : why.detail() + "; ";
  for (auto it = found.rbegin(); it != found.rend(); ++it)
    if (Status st = put_back_one(*it); !st)
      return why.with_detail(detail + "\"" + it->path + "\" could not be put back as it was found: " + st.message())
          .with_hint("remove what recover wrote there before trying again");
  bool one = found.size() == 1;
  return why.with_detail(detail + quoted_list(found) +
                         (one ? " was left as it was found" : " were left as they were found"));
}

Result<bool> usable_destination(const std::string& path) {
  struct stat sb {};
  if (::lstat(path.c_str(), &sb) != 0) {
    if (errno == ENOENT) return true;
    return Status::from_errno("could not stat \"" + path + "\"", errno);
  }
  if (!S_ISDIR(sb.st_mode)) return false;
  auto names = list_dir(path);
  if (!names) return names.status();
  return names->empty();
}

}  // namespace cellar::recover
