// The layout of a server directory (SPEC §3) and of `home`: the one header
// that spells its names (leveldb's db/filename.h). Every shape it owns, relative
// to the server directory <home>/<server>:
//
//   identity.json                                   PathKind::identity
//   base/<BACKUP_ID>                                PathKind::backup_dir
//   base/<BACKUP_ID>/backup.info                    PathKind::backup_info
//   base/<BACKUP_ID>/backup_manifest                PathKind::backup_manifest
//   base/<BACKUP_ID>/data/<PGDATA path>[.zst|...]   PathKind::backup_file (rest = "data/...")
//   base/<BACKUP_ID>/<tablespace oid>/<path>[...]   PathKind::backup_file (rest = "<oid>/...")
//   wals/xlog.db                                    PathKind::xlogdb
//   wals/sync-wals.info                             PathKind::sync_bookmark (passive nodes)
//   wals/<TLI>.history[.zst|.lz4|.gz]               PathKind::archived_wal
//   wals/<first 16 hex>/<segment or label>[sfx]     PathKind::archived_wal
//   streaming/<segment>                             PathKind::streaming_segment
//   streaming/<segment>.partial                     PathKind::streaming_partial
//   streaming/<TLI>.history                         PathKind::streaming_segment
//   incoming/<WAL file name>                        PathKind::incoming
//   errors/<WAL-ish name>.<UTC stamp>.<reason>      PathKind::error
//   receive-wal.state | receive-wal.log | receive-wal.cron | backup.cron | backup.log
//                                                   PathKind::spool_file
//
// A passive node with primary_repository also sees its primary's repository,
// in the same shape, under primary-repository/ (a mount, never on disk).
//
// and in `home`: .cellar.auto.toml (config-update), cellar.log (default log).
//
// The repository (base/, wals/, identity.json) and the spool (streaming/,
// incoming/, errors/, the state and log files, the lock files) are one
// directory for a local repository; paths made here are absolute local paths
// under the server directory given.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/codec.h"

namespace cellar::layout {

// ---- the repository --------------------------------------------------------
std::string identity_file(const std::string& server_dir);
std::string base_dir(const std::string& server_dir);
std::string backup_dir(const std::string& server_dir, const std::string& backup_id);
std::string backup_info_file(const std::string& backup_dir);
std::string backup_manifest_file(const std::string& backup_dir);
// Where base.tar's members go: <backup_dir>/data.
std::string backup_data_dir(const std::string& backup_dir);
// Where a tablespace's members go: <backup_dir>/<oid>.
std::string backup_tablespace_dir(const std::string& backup_dir, uint32_t oid);
// The name, in a backup directory, of the file that holds no member (the info file).
constexpr std::string_view kBackupInfoName = "backup.info";

std::string wals_dir(const std::string& server_dir);
std::string xlogdb_file(const std::string& server_dir);
std::string sync_bookmark_file(const std::string& server_dir);
// Where a passive node with primary_repository mounts its primary's
// repository (base/, wals/, identity.json under it, read only): a mount
// point, never a directory on the local disk.
std::string primary_repository_dir(const std::string& server_dir);
// The directory an archived WAL file `name` lives in: wals/ for history
// files, wals/<first 16 hex>/ otherwise.
std::string archived_wal_dir(const std::string& server_dir, const std::string& name);
// The same directory relative to wals/: "" for history files, else the hash directory.
std::string archived_wal_subdir(const std::string& name);
// The stored file of `name` under `codec`.
std::string archived_wal_file(const std::string& server_dir, const std::string& name, codec::Codec codec);

// ---- the spool (always on this host's disk) ---------------------------------
std::string streaming_dir(const std::string& server_dir);
std::string partial_name(const std::string& segment);  // "<segment>.partial"
std::string incoming_dir(const std::string& server_dir);
// get-wal --parallel's prefetched segments, decompressed, by WAL name.
std::string get_wal_prefetch_dir(const std::string& server_dir);
std::string errors_dir(const std::string& server_dir);
// "<name>.<stamp>.<reason>" as Barman names what it could not archive.
std::string error_name(const std::string& name, const std::string& stamp, const std::string& reason);
std::string receive_wal_state_file(const std::string& server_dir);
std::string receive_wal_log_file(const std::string& server_dir);
std::string receive_wal_cron_file(const std::string& server_dir);
std::string backup_cron_file(const std::string& server_dir);
std::string backup_log_file(const std::string& server_dir);
// "<pid> <fingerprint>" of the receive-wal a daemon started (and a new
// daemon adopts).
std::string receive_wal_daemon_file(const std::string& server_dir);

// Every directory a server directory has, in the order `check` reports them.
std::vector<std::string> server_subdirs(const std::string& server_dir);

// ---- home ---------------------------------------------------------------
std::string auto_config_file(const std::string& home);
std::string default_log_file(const std::string& home);
std::string default_daemon_transcript(const std::string& home);  // <home>/daemon.log
// <lock_directory>/.cellar-daemon.sock, and beside it the daemon's PID file
// (flock-held while it runs: what makes a socket file stale).
std::string default_daemon_socket(const std::string& lock_dir);
std::string daemon_pid_file(const std::string& socket);  // "<socket>.pid"

// ---- parsing --------------------------------------------------------------
enum class PathKind {
  identity,
  backup_dir,
  backup_info,
  backup_manifest,
  backup_file,
  xlogdb,
  sync_bookmark,
  archived_wal,
  streaming_segment,
  streaming_partial,
  incoming,
  error,
  spool_file,
};

struct ParsedPath {
  PathKind kind;
  std::string backup_id;                    // base/...
  std::string wal_name;                     // archived_wal, streaming_*, incoming, error
  codec::Codec codec = codec::Codec::none;  // archived_wal, backup_file
  std::string rest;                         // backup_file: "data/..." or "<oid>/..."; spool_file: its name
};

// What `relative` (a path inside a server directory, '/'-separated) is, or
// nothing for anything that is not one of the shapes above: a file in a hash
// directory that does not match its name, a misspelled file, "..", a temp
// file of the storage layer.
std::optional<ParsedPath> parse_path(std::string_view relative);

}  // namespace cellar::layout
