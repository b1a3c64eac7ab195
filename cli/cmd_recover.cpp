// recover: parse, call recover::recover, render.
#include <unistd.h>

#include <filesystem>
#include <iostream>

#include "cli/handlers.h"
#include "common/progress.h"
#include "recover/recover.h"

namespace cellar::cli {
namespace {

// The one --target-* option given, if any; two of them is a usage error.
Result<recover::RecoveryTarget> parse_target(const Invocation& inv) {
  static const std::pair<const char*, recover::TargetKind> kinds[] = {
      {"target-time", recover::TargetKind::time},
      {"target-xid", recover::TargetKind::xid},
      {"target-lsn", recover::TargetKind::lsn},
      {"target-name", recover::TargetKind::name},
      {"target-immediate", recover::TargetKind::immediate}};
  recover::RecoveryTarget t;
  int given = 0;
  for (const auto& [option, kind] : kinds) {
    if (!inv.has(option)) continue;
    ++given;
    t.kind = kind;
    if (kind != recover::TargetKind::immediate) t.value = inv.str(option);
  }
  if (given > 1)
    return Status::usage(
        "you cannot specify multiple targets for the recovery operation",
        "give only one of --target-time, --target-xid, --target-lsn, --target-name, --target-immediate");
  t.tli = inv.str("target-tli");
  t.action = inv.str("target-action");
  t.exclusive = inv.has("exclusive");
  return t;
}

std::string self_exe() {
  std::error_code ec;
  auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? std::string("cellar") : p.string();
}

Result<recover::RecoverRequest> parse_request(const Invocation& inv, const ServerConfig& server) {
  recover::RecoverRequest req;
  req.config = inv.config;
  req.server = &server;
  req.backup = inv.str("backup");
  req.dest = std::filesystem::absolute(inv.str("dest")).lexically_normal().string();
  while (req.dest.size() > 1 && req.dest.back() == '/') req.dest.pop_back();
  auto target = parse_target(inv);
  if (!target) return target.status();
  req.target = *target;
  if (inv.has("tablespace"))
    for (const auto& rule : inv.get<std::vector<std::string>>("tablespace")) {
      auto rel = recover::parse_relocation(rule);
      if (!rel) return rel.status();
      req.relocations.push_back(*rel);
    }
  if (inv.has("jobs")) {
    int jobs = inv.get<int>("jobs");
    if (jobs < 1 || jobs > 64) return Status::usage("--jobs must be between 1 and 64");
    req.jobs = static_cast<unsigned>(jobs);
  }
  if (inv.has("get-wal") && inv.has("no-get-wal"))
    return Status::usage("--get-wal and --no-get-wal exclude each other");
  req.get_wal = inv.has("get-wal");
  req.standby = inv.has("standby-mode");
  req.delta = inv.has("delta");
  req.progress = !inv.has("no-progress") && !inv.global.quiet && ::isatty(STDERR_FILENO);
  req.cellar_exe = self_exe();
  // Flushed at once: a script (or a test) may wait for "Starting recovery".
  req.say = [&inv](const std::string& line) {
    info(inv, line);
    std::cout.flush();
  };
  return req;
}

void render(const Invocation& inv, const recover::RecoverRequest& req, const recover::RecoverOutcome& out) {
  for (const auto& w : out.warnings) std::cerr << "WARNING: " << w << "\n";
  if (out.wal_files > 0)
    info(inv, "Copied " + std::to_string(out.wal_files) + " WAL files into \"" + req.dest + "/cellar_wal\"");
  char elapsed[32];
  std::snprintf(elapsed, sizeof elapsed, "%.1f", out.seconds);
  if (req.delta)
    info(inv, "Delta: " + std::to_string(out.delta.unchanged) + " files unchanged, " +
                  std::to_string(out.delta.rewritten) + " rewritten (" + human_bytes(out.delta.written) +
                  " written), " + std::to_string(out.delta.removed) + " removed");
  if (req.delta && (out.delta.trusted || out.delta.mapped))
    info(inv, "Restore stamp: " + std::to_string(out.delta.trusted) + " files trusted unread, " +
                  std::to_string(out.delta.mapped) + " compared only in the blocks the WAL changed");
  info(inv, "Recovery completed: " + std::to_string(out.files) + " files restored in " + elapsed + " s");
  info(inv, "Your PostgreSQL server has been successfully prepared for recovery!");
  std::string owned;
  for (const auto& d : out.owned) owned += " " + d;
  info(inv, "To start it, as root give the files to PostgreSQL's OS user, then start it as that user:");
  info(inv, "  chown -R postgres:postgres" + owned);
  info(inv, "  pg_ctl -D " + req.dest + " -l " + req.dest + "/recovery.log start");
  if (req.get_wal)
    info(inv, "restore_command runs 'cellar get-wal' as PostgreSQL's OS user: it must be able to read \"" +
                  inv.config->main_file + "\" and the archive");
}

}  // namespace

void declare_recover(po::options_description& d) {
  d.add_options()("target-time", po::value<std::string>(),
                  "replay up to this time (\"YYYY-MM-DD HH:MM:SS[.ffffff][+HH:MM]\")")(
      "target-xid", po::value<std::string>(), "replay up to this transaction id")(
      "target-lsn", po::value<std::string>(), "replay up to this LSN")(
      "target-name", po::value<std::string>(), "replay up to this restore point (pg_create_restore_point)")(
      "target-immediate", "stop as soon as the backup is consistent")(
      "target-tli", po::value<std::string>(), "timeline to follow: a number, current or latest (default)")(
      "target-action", po::value<std::string>(), "at the target: pause (PostgreSQL's default), promote or shutdown")(
      "exclusive", "stop just before the target instead of just after it (time, xid, LSN)")(
      "standby-mode", "write standby.signal instead of recovery.signal")(
      "tablespace", po::value<std::vector<std::string>>()->composing(),
      "NAME:LOCATION: restore tablespace NAME into LOCATION (repeatable)")(
      "jobs", po::value<int>(), "worker threads for decompression and copy (default: parallel_jobs)")(
      "get-wal", "restore_command fetches WAL with 'cellar get-wal' instead of copying it into DEST/cellar_wal")(
      "no-get-wal", "copy the WAL recovery needs into DEST/cellar_wal (the default)")(
      "delta",
      "DEST is a stopped data directory of the same cluster: write only what differs, remove what the backup "
      "does not have")("no-progress", "do not draw the progress line (drawn only on a terminal anyway)");
}

Outcome run_recover(Invocation& inv, const ServerConfig& server) {
  auto req = parse_request(inv, server);
  if (!req) return req.status();
  auto out = recover::recover(*req);
  if (!out) return out.status();
  render(inv, *req, *out);
  return Status::ok();
}

}  // namespace cellar::cli
