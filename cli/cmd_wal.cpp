// archive-wal and get-wal: parse, call the wal/ entry point, render.
#include "cli/handlers.h"
#include "wal/archive.h"
#include "wal/get_wal.h"

namespace cellar::cli {

int run_archive_wal(Invocation& inv) {
  auto servers = select_servers(*inv.config, {inv.str("server")}, false);
  if (!servers) return report(servers.status());
  auto options = wal::archive_options_for(*inv.config, *servers->front());
  if (!options) return report(options.status());
  auto archived = wal::archive_wal(*options);
  if (!archived) return report(archived.status());
  info(inv, wal::summary_line(*archived, options->server));
  return 0;
}

void declare_get_wal(po::options_description& d) {
  d.add_options()("output-directory", po::value<std::string>(), "write the file into this directory, not to stdout");
}

// Runs as restore_command: stdout carries the WAL file and nothing else.
int run_get_wal(Invocation& inv) {
  auto servers = select_servers(*inv.config, {inv.str("server")}, false);
  if (!servers) return report(servers.status());
  const std::string server = servers->front()->name;
  wal::GetWalRequest request{server, inv.config->server_dir(server), inv.str("wal_name"),
                             inv.str("output-directory")};
  return report(wal::get_wal(request));
}

}  // namespace cellar::cli
