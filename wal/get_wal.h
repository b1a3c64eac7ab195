// get-wal (SPEC §1): one archived WAL file, decompressed, to stdout or into a
// directory. Used as PostgreSQL's restore_command, so it is quick, takes no
// lock, writes nothing but the file's bytes on stdout, and treats "absent" as
// an ordinary failure (PostgreSQL probes for history files that do not
// exist). The file is found in wals/ under any codec suffix; xlog.db is not
// read (a file renamed into wals/ but not yet catalogued is complete).
//
// With parallel = N > 1 (barman-wal-restore --parallel, pgBackRest's
// asynchronous archive-get): a segment request also fetches the next N-1
// segments of its timeline, all at once, into the spool's
// get-wal-prefetch/ directory (decompressed and decrypted, each written
// durably under its final name only when complete), so that the next
// requests, which PostgreSQL makes one by one, are served from local disk
// instead of paying a repository round trip each. A prefetched file is
// removed once served; files older than the requested name are removed too
// (recovery moved past them). A prefetch that fails (not archived yet) is no
// error: the later request fetches it directly.
#pragma once

#include <string>

#include "common/status.h"

namespace cellar::wal {

struct GetWalRequest {
  std::string server;      // for messages
  std::string server_dir;  // <home>/<server>
  std::string name;        // WAL file name as given by the user or PostgreSQL
  std::string output_dir;  // "" = stdout; else written durably to <output_dir>/<name>
  int parallel = 1;        // segments fetched per request (this one and the next parallel-1)
};

// Fails with ErrorCode::usage for an invalid name (anything but a segment,
// history, backup-label or partial name: no '/', no '..'), ErrorCode::failed
// when the file is not archived ("WAL file "X" is not in the archive of server
// 'main'"), or on I/O and decompression errors (naming the file).
Status get_wal(const GetWalRequest& request);

}  // namespace cellar::wal
