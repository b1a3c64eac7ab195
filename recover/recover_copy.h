// The copying side of recover: the plan of what to create (directories,
// files decompressed from the catalogue, symlinks), N worker threads that
// decompress and write the files, the final fsync of a restored tree, and
// putting the destinations back as they were found after a failure.
// Every file is created with O_EXCL (DEST was empty: nothing is ever
// overwritten), 0600, and fsynced by the worker that wrote it; with
// CopyMode::delta (recover --delta, recover_delta.h) files are compared with
// what DEST holds and only differing blocks are written.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "common/codec.h"
#include "common/status.h"
#include "incr/change_map.h"
#include "incr/incremental_file.h"
#include "recover/recover_stamp.h"

namespace cellar::recover {

// One incremental of a chain a restored file is combined from.
struct ChainPart {
  std::string src;  // a stored INCREMENTAL.<name>
  codec::Codec codec = codec::Codec::none;
  std::optional<uint64_t> size;  // its manifest's size and CRC-32C, checked before it is applied
  std::string crc32c;
  // Not stored (the segment was unchanged): a header of this many blocks
  // and no changed block, built from the manifest instead of read.
  std::optional<uint32_t> unchanged_blocks{};
};

struct CopyJob {
  std::string src;   // stored file in the catalogue
  std::string dest;  // restored file
  codec::Codec codec = codec::Codec::none;
  // What the backup manifest says the restored file is, when it names it:
  // checked after the copy, so a damaged or altered download is never used.
  std::optional<uint64_t> size;
  std::string crc32c;           // manifest hex; "" when not CRC32C
  std::string manifest_path{};  // its path in the manifest ("base/5/16400"), when it names it
  // Of a backup in a chain: `src` is the newest whole copy, and these are
  // applied to it, oldest first (each cuts or extends the file to its
  // length and writes its blocks; incr/incremental_file.h).
  std::vector<ChainPart> incrementals{};
};

// An incremental of a chain read whole and checked against its manifest.
struct LoadedPart {
  std::string bytes;
  incr::IncrementalHeader header;
};

// Reads and checks `part`; fails when it does not match its manifest or is
// no incremental file.
Result<LoadedPart> load_part(const ChainPart& part);

struct RestorePlan {
  std::vector<std::string> dirs;  // created 0700, parents first
  std::vector<CopyJob> files;
  std::vector<std::pair<std::string, std::string>> symlinks;  // link path, target
  std::vector<std::pair<std::string, std::string>> roots;     // a backup directory, where it is restored
};

// Adds the tree `src_root` (a backup's data/ or <oid>/ directory) restored at
// `dest_root`: every directory (empty ones too) and every regular file, the
// suffix of `codec` removed from file names. Fails on an unreadable tree.
Status plan_tree(const std::string& src_root, const std::string& dest_root, codec::Codec codec, RestorePlan& plan);

struct CopyStats {
  uint64_t bytes = 0;  // restored, decompressed (what DEST holds afterwards)
  size_t files = 0;
  uint64_t written = 0;  // of `bytes`, those actually written (all of them but with CopyMode::delta)
  size_t unchanged = 0;  // files left as they were (CopyMode::delta)
  size_t trusted = 0;    // of `unchanged`, known from the restore stamp without a read
  size_t mapped = 0;     // files compared only where the WAL changed blocks
  // Every file written or compared with a manifest checksum and no chain,
  // with its stat just after: what a restore stamp records.
  std::vector<StampedFile> stamped{};
  // Files known to be on disk already: fsynced by the copy after it wrote
  // them, or trusted from the stamp (fsynced before it was written).
  std::unordered_set<std::string> durable{};
};

// What lets a delta restore leave files unread: the stamp of the restore
// DEST holds (recover_stamp.h) and the blocks that may differ between that
// backup's files and this one's, from the WAL between them.
struct DeltaHints {
  const RestoreStamp* stamp = nullptr;
  const incr::ChangeMap* map = nullptr;  // null: a changed file is compared whole
};

// create: every file is new (O_EXCL), every symlink too. delta: files are
// compared with those in place and only what differs is written; existing
// directories and symlinks with the planned target are kept.
enum class CopyMode { create, delta };

// Called after each file with the bytes written so far (from any worker,
// serialised).
using CopyProgress = std::function<void(uint64_t bytes_done)>;

// Files the manifest says are at most this big count as small for
// execute_plan's small_jobs.
constexpr uint64_t kSmallFileSize = 1 << 20;

// Creates the plan's directories, copies its files with `jobs` worker threads
// and creates its symlinks. Stops at the first error (naming the file).
// `small_jobs` more threads copy only small files (for a repository where
// each file costs a round trip: an object store, where a backup's thousand
// small files would otherwise wait one request at a time per job while the
// large ones hold the jobs); the `jobs` threads take the large files first.
Result<CopyStats> execute_plan(const RestorePlan& plan, unsigned jobs, const CopyProgress& progress,
                               unsigned small_jobs = 0, CopyMode mode = CopyMode::create, const DeltaHints& hints = {});

// fsyncs every regular file and directory under `root` (symlinks are not
// followed), then `root`'s parent, so the restored tree survives a crash;
// the files in `durable` are not fsynced again.
Status fsync_tree(const std::string& root, const std::unordered_set<std::string>& durable = {});

// True when `path` is absent or an empty directory; fails when it is
// something else or unreadable.
Result<bool> usable_destination(const std::string& path);

// What a destination (DEST or a tablespace location) was before recover
// wrote into it, so that a failure can put it back.
struct FoundDestination {
  std::string path;
  std::string created;  // absent: the topmost directory recover creates for it (`path` or a parent); "" when empty
  unsigned mode = 0;    // empty: the directory's permission bits
};

// Records what each of `paths` is now: absent, or an empty directory (as
// usable_destination checked). Fails when one cannot be examined.
Result<std::vector<FoundDestination>> inspect_destinations(const std::vector<std::string>& paths);

// Puts every destination back as it was found, the last one first: removes
// `created` with everything under it, or removes every entry of the
// directory and gives it its mode back (symlinks are removed, never
// followed). Returns `why` with a detail saying so ("\"a\" and \"b\" were left
// as they were found"), or naming the one that could not be put back and the
// reason, with a hint to remove what recover wrote there. A detail `why`
// already had comes first.
Status put_back(const std::vector<FoundDestination>& found, Status why);

}  // namespace cellar::recover
