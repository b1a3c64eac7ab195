// The sync stream (docs/on-disk-formats.md "Sync stream"): what `sync-send`
// writes on the primary's stdout for a passive node — a POSIX ustar archive
// of either archived WAL files, members named as their paths under wals/
// ("0000000100000000/000000010000000000000003.zst", "00000002.history"), or
// one DONE backup, members named as their paths under base/<id>/ (every
// directory and file but backup.info), stored bytes unchanged (compressed as
// on the primary). Read back with TarReader. This module owns the writer and
// the primary side.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/tar_reader.h"
#include "config/config.h"

namespace cellar::sync {

// One 512-byte ustar header (`type` '0' file, '5' directory; `name` ≤ 255
// bytes, split into prefix/name at a '/'); usage error if it does not fit.
Result<std::string> make_tar_header(const std::string& name, char type, uint64_t size, unsigned mode, int64_t mtime);

// The members of a stream without the tar around them, for a reader that
// takes them as TarHandler events: sync-send's tar writer, or a passive node's
// receiver reading the primary's repository directly (sync/primary.h).
// The archived WAL files `names` under `wals_dir` (validated, each must be
// archived, else an error before the first member), named by their paths
// under wals/.
Status emit_wal_files(const std::string& wals_dir, const std::string& server, const std::vector<std::string>& names,
                      TarHandler& out);
// Every directory and file of the backup directory `backup_dir` but
// backup.info, parents first, named by their paths under it.
Status emit_backup_files(const std::string& backup_dir, TarHandler& out);

// Writes the archived WAL files `names` of `server` as a sync stream to `fd`.
// Every name is validated (a WAL file name) and must be archived, else a
// usage/failed error before anything is written.
Status send_wal_stream(const Config& config, const std::string& server, const std::vector<std::string>& names, int fd);

// Writes the DONE backup `backup_id` of `server` as a sync stream to `fd`,
// holding its backup-id lock (so it is not deleted meanwhile: busy → exit 3).
// Usage error for a malformed id; failed for a backup that is not DONE or
// holds anything but directories and regular files.
Status send_backup_stream(const Config& config, const std::string& server, const std::string& backup_id, int fd);

}  // namespace cellar::sync
