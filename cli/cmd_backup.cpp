// backup: parse, call backup::run_backup for each server (dispatch calls the
// handler once per server of SERVER*), render.
#include <unistd.h>

#include <iostream>

#include "backup/run_backup.h"
#include "cli/handlers.h"
#include "common/codec.h"

namespace cellar::cli {
namespace {

Result<backup::BackupRequest> parse_request(const Invocation& inv) {
  backup::BackupRequest req;
  req.config = inv.config;
  if (inv.has("name")) {
    req.name = inv.str("name");
    if (Status st = backup::validate_backup_name(req.name); !st) return st;
  }
  req.wait = inv.has("wait");
  int timeout = inv.get<int>("wait-timeout");
  if (timeout < 0) return Status::usage("--wait-timeout must be 0 (no limit) or a number of seconds");
  if (timeout > 0) req.wait_timeout = std::chrono::seconds(timeout);
  req.immediate_checkpoint = inv.has("immediate-checkpoint");
  if (inv.has("compression")) {
    auto c = codec::parse_codec(inv.str("compression"));
    if (!c)
      return Status::usage("invalid --compression \"" + inv.str("compression") + "\"", "use none, gzip, lz4 or zstd");
    req.compression = *c;
  }
  if (inv.has("jobs")) {
    int jobs = inv.get<int>("jobs");
    if (jobs < 1 || jobs > 64) return Status::usage("--jobs must be between 1 and 64");
    req.jobs = static_cast<unsigned>(jobs);
  }
  if (inv.has("incremental") && inv.has("full")) return Status::usage("--incremental and --full exclude each other");
  if (inv.has("incremental")) req.incremental = true;
  if (inv.has("full")) req.incremental = false;
  if (inv.has("from")) {
    if (!inv.has("incremental")) return Status::usage("--from needs --incremental");
    req.from = inv.str("from");
  }
  req.progress = !inv.has("no-progress") && !inv.global.quiet && ::isatty(STDERR_FILENO);
  req.say = [&inv](const std::string& line) { info(inv, line); };
  req.warn = [](const std::string& line) { std::cerr << "WARNING: " << line << std::endl; };
  return req;
}

}  // namespace

Status validate_backup(const Invocation& inv) { return parse_request(inv).status(); }

void declare_backup(po::options_description& d) {
  d.add_options()("name", po::value<std::string>(), "a name for the backup, usable wherever a BACKUP is expected")(
      "wait", "wait until every WAL the backup needs is archived (status DONE)")(
      "wait-timeout", po::value<int>()->default_value(0), "seconds to wait with --wait (0: no limit)")(
      "immediate-checkpoint", "start with a fast checkpoint instead of a spread one")(
      "compression", po::value<std::string>(),
      "codec for the backup's files: none, gzip, lz4, zstd (default: compression)")(
      "jobs", po::value<int>(),
      "worker threads for compression and writing; an incremental also reads through this many connections "
      "(default: parallel_jobs)")("incremental",
                                  "copy only what changed since the parent backup (docs/incremental.md)")(
      "full", "a full backup, whatever backup_type says")(
      "from", po::value<std::string>(), "with --incremental: the parent backup (default: the newest DONE one)")(
      "no-progress", "do not draw the progress line (drawn only on a terminal anyway)");
}

// Called for each server of SERVER*, after validate_backup accepted the options.
Outcome run_backup(Invocation& inv, const ServerConfig& server) {
  if (!server.active()) {
    info(inv, "Skipping inactive server '" + server.name + "'");
    return Status::ok();
  }
  if (server.passive()) {
    info(inv, "Skipping passive server '" + server.name + "'");
    return Status::ok();
  }
  auto req = parse_request(inv);
  if (!req) return req.status();
  req->server = &server;
  auto outcome = backup::run_backup(*req);
  if (!outcome) return outcome.status();
  info(inv, "Backup " + outcome->id + " of server '" + server.name + "' is " + outcome->status);
  return Status::ok();
}

}  // namespace cellar::cli
