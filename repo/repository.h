// Repositories (SPEC §8): where a server's archive (base/, wals/,
// identity.json) lives — under home as always, on a shared filesystem, or in
// an S3 bucket — and whether its files are encrypted. This module turns the
// repository keys of a server's configuration into a storage driver and
// mounts it at the server directory's base/, wals/ and identity.json
// (common/storage_mount.h), so every command keeps using the paths of
// config/layout.h while the spool (streaming/, incoming/, errors/, state,
// log and lock files) stays on the local disk.
//
// Not here: what the files mean (catalog/, wal/), and the drivers themselves
// (common/storage_posix.h, s3/s3_storage.h).
#pragma once

#include <memory>
#include <string>

#include "common/status.h"
#include "common/storage.h"
#include "common/storage_mount.h"
#include "config/config.h"

namespace cellar::repo {

// The driver of `server`'s repository, rooted at the server's own place in
// it (<path>/<server>, s3://bucket/<prefix>/<server>), or nullptr for the
// default local repository without encryption, which needs no mount. Usage
// errors (exit 2) for key combinations that cannot work: no credentials, an
// unreadable or too open secret or key file, encryption without a key file.
struct Opened {
  std::shared_ptr<storage::Storage> driver;  // nullptr: plain local repository
  std::shared_ptr<const storage::Filter> filter;
  std::string description;  // "s3://bucket/prefix/main", "/mnt/nfs/cellar/main", or home's server dir
};
Result<Opened> open_repository(const Config& config, const ServerConfig& server);

// The repository of a passive server's primary (primary_repository): the
// driver rooted at the server's place in it, reached with this server's S3
// keys and read with its encryption key (the primary's, when it encrypts).
// nullptr driver when the server has no primary_repository.
Result<Opened> open_primary_repository(const ServerConfig& server);

// Mounts the repository of every configured server (before any thread
// starts), and a passive server's primary repository at
// layout::primary_repository_dir. Fails on the first server whose keys
// cannot work.
Status mount_repositories(const Config& config);

// `check`'s "repository" line: "" when the repository is reachable and
// writable (a probe object written, read back and removed), else the problem
// with the HTTP status and S3 error code where there is one.
std::string probe_repository(const Config& config, const ServerConfig& server);

// `check`'s "primary repository" line of a passive server with
// primary_repository: "" when the primary's repository answers and holds
// the server's identity.json (the primary has run), else the problem.
std::string probe_primary_repository(const ServerConfig& server);

}  // namespace cellar::repo
