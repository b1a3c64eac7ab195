// archive-wal, rebuild-xlogdb and get-wal: parse, call the wal/ entry point, render.
#include "cli/handlers.h"
#include "locks/lock_backend.h"
#include "wal/archive.h"
#include "wal/get_wal.h"
#include "wal/rebuild_xlogdb.h"

namespace cellar::cli {

Outcome run_archive_wal(Invocation& inv, const ServerConfig& server) {
  auto options = wal::archive_options_for(*inv.config, server);
  if (!options) return options.status();
  auto archived = wal::archive_wal(*options);
  if (!archived) return archived.status();
  info(inv, wal::summary_line(*archived, options->server));
  return Status::ok();
}

// Under archive-wal's lock too, so no segment is archived while the listing runs.
Outcome run_rebuild_xlogdb(Invocation& inv, const ServerConfig& server) {
  locks::LockManager& lock_manager = locks::lock_manager(*inv.config);
  auto archiving = locks::ArchiveWalLock::acquire(lock_manager, server.name);
  if (!archiving) return archiving.status();
  auto lock = locks::XlogdbLock::acquire(lock_manager, server.name);
  if (!lock) return lock.status();
  auto report = wal::rebuild_xlogdb(*lock, inv.config->server_dir(server.name));
  if (!report) return report.status();
  info(inv, "Rebuilt xlog.db of server '" + server.name + "': " + std::to_string(report->entries) + " WAL files (" +
                std::to_string(report->added) + " added, " + std::to_string(report->dropped) + " dropped)");
  return Status::ok();
}

void declare_get_wal(po::options_description& d) {
  d.add_options()("output-directory", po::value<std::string>(), "write the file into this directory, not to stdout")(
      "parallel", po::value<int>()->value_name("N"),
      "also fetch the next N-1 segments into the spool, all at once, for the next requests (1-64)");
}

// Runs as restore_command: stdout carries the WAL file and nothing else.
Outcome run_get_wal(Invocation& inv, const ServerConfig& server) {
  wal::GetWalRequest request{server.name, inv.config->server_dir(server.name), inv.str("wal_name"),
                             inv.str("output-directory")};
  if (inv.has("parallel")) {
    request.parallel = inv.get<int>("parallel");
    if (request.parallel < 1 || request.parallel > 64)
      return Status::usage("invalid --parallel " + std::to_string(request.parallel), "give 1 to 64");
  }
  return wal::get_wal(request);
}

}  // namespace cellar::cli
