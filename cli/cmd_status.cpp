// status: PostgreSQL, slot, receive-wal, backups and WAL archive of servers
// (backup/status.h), as text or JSON.
#include <iostream>

#include "check/status.h"
#include "cli/handlers.h"

namespace cellar::cli {

int run_status(Invocation& inv) {
  auto selected = select_servers(*inv.config, inv.get<std::vector<std::string>>("server"), true);
  if (!selected) return report(selected.status());
  std::vector<check::ServerStatus> statuses;
  for (const ServerConfig* s : *selected) statuses.push_back(check::collect_status(*inv.config, *s));
  if (inv.json())
    std::cout << check::render_status_json(statuses).dump() << "\n";
  else
    std::cout << check::render_status_text(statuses);
  return 0;
}

}  // namespace cellar::cli
